//! Bahasa Indonesia first, English on request: `?lang=en` (remembered in a cookie), else the
//! cookie, else the browser's `Accept-Language`, else Indonesian.

use axum::http::HeaderMap;

use crate::cookies;

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "simpul_bahasa";

/// A page's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Bahasa Indonesia.
    #[default]
    Id,
    /// English.
    En,
}

impl Lang {
    /// The `lang` attribute and the query value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    /// The language named by a query or cookie value.
    pub fn parse(value: &str) -> Option<Lang> {
        match value.trim().to_ascii_lowercase().as_str() {
            "id" | "id-id" | "in" => Some(Lang::Id),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (the switch in the header offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::Id => Lang::En,
            Lang::En => Lang::Id,
        }
    }

    /// The Indonesian text or the English one.
    pub fn tr<'a>(self, id: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }

    /// The language of a request, and whether `?lang=` chose it (then the cookie is set).
    pub fn of_request(query: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
        let asked = query.and_then(|query| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .ok()?
                .into_iter()
                .find(|(key, _)| key == "lang")
                .and_then(|(_, value)| Lang::parse(&value))
        });
        if let Some(lang) = asked {
            return (lang, true);
        }
        if let Some(lang) = cookies::get(headers, LANG_COOKIE).and_then(Lang::parse) {
            return (lang, false);
        }
        (Lang::from_accept_language(headers), false)
    }

    /// The first of Indonesian or English in `Accept-Language` by quality; Indonesian if neither.
    fn from_accept_language(headers: &HeaderMap) -> Lang {
        let Some(value) = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
        else {
            return Lang::Id;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or_default();
            let lang = match primary {
                "id" | "in" => Lang::Id,
                "en" => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::Id, |(_, lang)| lang)
    }
}

/// A stage's label (`kim1` → `KIM 1`).
pub fn stage_label(stage: &str) -> String {
    match stage.strip_prefix("kim") {
        Some(n) => format!("KIM {n}"),
        None => stage.to_owned(),
    }
}

/// A status's label.
pub fn status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "active" => lang.tr("Aktif", "Active"),
        "suspended" => lang.tr("Ditangguhkan", "Suspended"),
        "dissolved" => lang.tr("Dibubarkan", "Dissolved"),
        _ => lang.tr("Tidak dikenal", "Unknown"),
    }
}

/// An event type's label.
pub fn event_label(lang: Lang, event_type: &str) -> &'static str {
    let (id, en) = match event_type {
        "CommunityFormed" => ("KIM dibentuk", "KIM formed"),
        "OfficerAppointed" => ("Pengurus diangkat", "Officer appointed"),
        "OfficerDismissed" => ("Pengurus diberhentikan", "Officer dismissed"),
        "MemberCountUpdated" => ("Jumlah anggota diperbarui", "Member count updated"),
        "SkIssued" => ("SK diterbitkan", "SK issued"),
        "SkRevoked" => ("SK dicabut", "SK revoked"),
        "RegistrationNumberAssigned" => ("Nomor induk diberikan", "Nomor induk assigned"),
        "BimtekAttended" => ("Mengikuti bimtek", "Bimtek attended"),
        "ActivityRecorded" => ("Kegiatan dicatat", "Activity recorded"),
        "MediaChannelRegistered" => ("Kanal media didaftarkan", "Media channel registered"),
        "MediaChannelDeactivated" => ("Kanal media dinonaktifkan", "Media channel deactivated"),
        "EBusinessRegistered" => ("E-bisnis didaftarkan", "E-business registered"),
        "EBusinessDeactivated" => ("E-bisnis dinonaktifkan", "E-business deactivated"),
        "StageAdvanced" => ("Tahap dinaikkan", "Stage advanced"),
        "StageLowered" => ("Tahap diturunkan", "Stage lowered"),
        "CommunitySuspended" => ("KIM ditangguhkan", "KIM suspended"),
        "CommunityReactivated" => ("KIM diaktifkan kembali", "KIM reactivated"),
        "CommunityDissolved" => ("KIM dibubarkan", "KIM dissolved"),
        _ => ("Peristiwa", "Event"),
    };
    lang.tr(id, en)
}

/// An officer role's label.
pub fn officer_label(lang: Lang, role: &str) -> &'static str {
    match role {
        "ketua" => lang.tr("Ketua", "Chair"),
        "sekretaris" => lang.tr("Sekretaris", "Secretary"),
        "bendahara" => lang.tr("Bendahara", "Treasurer"),
        "kepala_bidang" => lang.tr("Kepala bidang", "Head of field"),
        _ => lang.tr("Pengurus", "Officer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderValue};

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn the_query_wins_then_the_cookie_then_accept_language_then_indonesian() {
        let none = HeaderMap::new();
        assert_eq!(Lang::of_request(None, &none), (Lang::Id, false));
        assert_eq!(Lang::of_request(Some("lang=en"), &none), (Lang::En, true));
        let cookie = headers(&[(header::COOKIE, "a=b; simpul_bahasa=en")]);
        assert_eq!(Lang::of_request(None, &cookie), (Lang::En, false));
        assert_eq!(Lang::of_request(Some("lang=id"), &cookie), (Lang::Id, true));
        let english = headers(&[(header::ACCEPT_LANGUAGE, "fr;q=0.9, en-GB;q=0.8, id;q=0.5")]);
        assert_eq!(Lang::of_request(None, &english), (Lang::En, false));
        let indonesian = headers(&[(header::ACCEPT_LANGUAGE, "en;q=0.4, id-ID")]);
        assert_eq!(Lang::of_request(None, &indonesian), (Lang::Id, false));
        let neither = headers(&[(header::ACCEPT_LANGUAGE, "ja, de;q=0.5")]);
        assert_eq!(Lang::of_request(None, &neither), (Lang::Id, false));
        // A value that is no language is ignored, not an error.
        assert_eq!(Lang::of_request(Some("lang=xx"), &none), (Lang::Id, false));
    }

    #[test]
    fn every_stored_event_type_has_its_own_label_in_both_languages() {
        for lang in [Lang::Id, Lang::En] {
            let labels: std::collections::HashSet<&str> = simpul_domain::CommunityEvent::NAMES
                .iter()
                .map(|name| event_label(lang, name))
                .collect();
            assert_eq!(labels.len(), simpul_domain::CommunityEvent::NAMES.len());
            assert!(!labels.contains(event_label(lang, "NoSuchEvent")));
        }
    }
}

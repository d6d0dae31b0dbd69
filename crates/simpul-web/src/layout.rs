//! The page shell: header with the navigation for the visitor's role, the language switch and
//! sign-out; a bare shell for the sign-in and error pages.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use simpul_app::{Action, Principal};

use crate::i18n::Lang;
use crate::session::Visitor;

/// The link to the same page in the other language.
fn switch_href(path: &str, lang: Lang) -> String {
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.retain(|(key, _)| key != "lang");
    pairs.push(("lang".to_owned(), lang.code().to_owned()));
    format!(
        "{base}?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Simpul" }
            link rel="stylesheet" href=(crate::assets::CSS_PATH);
            link rel="icon" href=(crate::assets::ICON_PATH) type="image/svg+xml";
            meta name="description" content=(lang.tr(
                "Simpul: registri Komunitas Informasi Masyarakat (KIM)",
                "Simpul: the registry of Komunitas Informasi Masyarakat (KIM)"));
        }
    }
}

/// The role's name as the header shows it.
fn role_label(lang: Lang, principal: &Principal) -> String {
    let role = principal.role.as_str();
    let scope = match &principal.scope {
        simpul_app::Scope::National => lang.tr("nasional", "national").to_owned(),
        simpul_app::Scope::Region(code) => code.to_string(),
        simpul_app::Scope::Community(_) => "KIM".to_owned(),
    };
    format!("{role} · {scope}")
}

/// A signed-in page: header, navigation, `body`, footer.
pub fn page(visitor: &Visitor, title: &str, body: Markup) -> Markup {
    let lang = visitor.lang;
    let principal = &visitor.principal;
    let other = lang.other();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body {
                a.skip href="#isi" { (lang.tr("Langsung ke isi", "Skip to content")) }
                header.top {
                    a.brand href="/" { "Simpul" }
                    nav aria-label=(lang.tr("Navigasi utama", "Main navigation")) {
                        ul {
                            li { a href="/" { (lang.tr("Beranda", "Home")) } }
                            @if let Some(href) = regions_href(principal) {
                                li { a href=(href) { (lang.tr("Wilayah", "Regions")) } }
                            }
                            @if principal.can(Action::ReadCommunity) {
                                li { a href="/kim" { (lang.tr("Daftar KIM", "KIM list")) } }
                            }
                            @if principal.can(Action::ReadAnalytics) {
                                li { a href="/analitik" { (lang.tr("Analitik", "Analytics")) } }
                            }
                            @if principal.can(Action::RecordBimtek) {
                                li { a href="/bimtek" { (lang.tr("Bimtek", "Bimtek")) } }
                            }
                            @if principal.can(Action::ReadHistory) {
                                li { a href="/audit" { (lang.tr("Audit", "Audit")) } }
                            }
                            @if principal.can(Action::ReadStatus) {
                                li { a href="/status" { (lang.tr("Status", "Status")) } }
                            }
                        }
                    }
                    div.who {
                        span.role title=(principal.name) { (role_label(lang, principal)) }
                        a.lang href=(switch_href(&visitor.path, other)) hreflang=(other.code()) lang=(other.code()) {
                            (lang.tr("English", "Bahasa Indonesia"))
                        }
                        form.inline method="post" action="/keluar" {
                            input type="hidden" name="csrf" value=(visitor.csrf);
                            button type="submit" { (lang.tr("Keluar", "Sign out")) }
                        }
                    }
                }
                main #isi {
                    h1 { (title) }
                    (body)
                }
                (footer(lang))
            }
        }
    }
}

fn footer(lang: Lang) -> Markup {
    html! {
        footer.bottom {
            p { (lang.tr(
                "Simpul — registri KIM berbasis log peristiwa. Data wilayah: Kepmendagri 300.2.2-2138 Tahun 2025.",
                "Simpul — the KIM registry as an event log. Regions: Kepmendagri 300.2.2-2138 of 2025.")) }
        }
    }
}

/// Where a visitor's region pages start: the scope's region, or the country; none for a KIM's
/// own token (the region pages are aggregates, which it does not read).
pub fn regions_href(principal: &Principal) -> Option<String> {
    if !principal.can(Action::ReadAnalytics) {
        return None;
    }
    match &principal.scope {
        simpul_app::Scope::Region(code) => Some(format!("/wilayah/{code}")),
        simpul_app::Scope::National => Some("/wilayah".to_owned()),
        simpul_app::Scope::Community(_) => None,
    }
}

/// A page without navigation (sign-in, errors): a title, a text, an optional detail.
pub fn bare(lang: Lang, title: &str, text: &str, detail: Option<&str>) -> Markup {
    shell(
        lang,
        title,
        html! {
            p { (text) }
            @if let Some(detail) = detail {
                p.detail { code { (detail) } }
            }
            p { a href="/" { (lang.tr("Kembali ke beranda", "Back to the home page")) } }
        },
    )
}

/// A page without navigation around `body`.
pub fn shell(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body.bare {
                a.skip href="#isi" { (lang.tr("Langsung ke isi", "Skip to content")) }
                header.top { a.brand href="/" { "Simpul" } }
                main #isi {
                    h1 { (title) }
                    (body)
                }
                (footer(lang))
            }
        }
    }
}

/// A number with Indonesian (or English) digit grouping.
pub fn number(lang: Lang, value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let separator = match lang {
        Lang::Id => '.',
        Lang::En => ',',
    };
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    if value < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Raw markup known to be safe (SVG built from numbers and escaped text).
pub fn trusted(markup: String) -> PreEscaped<String> {
    PreEscaped(markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_per_language() {
        assert_eq!(number(Lang::Id, 0), "0");
        assert_eq!(number(Lang::Id, 142), "142");
        assert_eq!(number(Lang::Id, 46_123), "46.123");
        assert_eq!(number(Lang::En, 1_234_567), "1,234,567");
        assert_eq!(number(Lang::En, -1_000), "-1,000");
    }

    #[test]
    fn the_language_switch_keeps_the_query_and_replaces_lang() {
        assert_eq!(switch_href("/kim", Lang::En), "/kim?lang=en");
        assert_eq!(
            switch_href("/kim?stage=kim2&lang=id", Lang::En),
            "/kim?stage=kim2&lang=en"
        );
    }
}

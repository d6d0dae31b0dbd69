//! Daftar KIM `/kim` (filters, keyset paging) and one KIM `/kim/{id}`: its state, officers and
//! timeline — the same reads as `GET /api/v1/communities[/{id}[/events]]`.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use simpul_app::{Action, Attention, CommunityQuery, MAX_MONTHS, MAX_PAGE};
use simpul_domain::stage::Evidence;
use simpul_domain::{next_steps, Blocker, CommunityStatus, NextSteps, RegionCode, Stage, Step};
use simpul_http::views::{self, HistoryEntry};
use simpul_http::AppState;
use simpul_projections::exports::communities::{
    self as exports, CsvExport, ExportFormat, XlsxExport,
};

use crate::error::WebError;
use crate::i18n::{event_label, officer_label, stage_label, status_label, Lang};
use crate::layout::{self, number};
use crate::session::Visitor;

/// Rows on a page of the list.
const PAGE: u32 = 50;

/// The list's filters, as the form sends them (empty: any).
#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    region: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    legal: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    missing_sk: String,
    #[serde(default)]
    missing_nomor_induk: String,
    #[serde(default)]
    no_bimtek: String,
    #[serde(default)]
    vacant_post: String,
    #[serde(default)]
    stalled_months: String,
    #[serde(default)]
    no_activity_months: String,
    #[serde(default)]
    after: String,
}

/// A filter value as its type, or a 400 naming the field.
fn typed<T: serde::de::DeserializeOwned>(field: &str, value: &str) -> Result<Option<T>, WebError> {
    if value.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(Value::String(value.to_owned()))
        .map(Some)
        .map_err(|_| WebError::bad_request(format!("{field}: `{value}` is not one of its values")))
}

/// `true`/`false` (a checkbox sends `true`), or a 400 naming the field.
fn flag(field: &str, value: &str) -> Result<Option<bool>, WebError> {
    match value {
        "" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        other => Err(WebError::bad_request(format!(
            "{field}: `{other}` is neither true nor false"
        ))),
    }
}

/// A number of months, or a 400 naming the field (the range is checked by the read).
fn months(field: &str, value: &str) -> Result<Option<u32>, WebError> {
    match value.trim() {
        "" => Ok(None),
        text => text.parse().map(Some).map_err(|_| {
            WebError::bad_request(format!("{field}: `{text}` is not a number of months"))
        }),
    }
}

impl ListParams {
    fn query(&self, limit: u32) -> Result<CommunityQuery, WebError> {
        let region = match self.region.trim() {
            "" => None,
            code => Some(
                RegionCode::parse(code)
                    .map_err(|error| WebError::bad_request(format!("region: {error}")))?,
            ),
        };
        Ok(CommunityQuery {
            region,
            stage: typed::<Stage>("stage", &self.stage)?,
            status: typed::<CommunityStatus>("status", &self.status)?,
            legal: flag("legal", &self.legal)?,
            q: Some(self.q.clone()).filter(|q| !q.trim().is_empty()),
            after: Some(self.after.clone()).filter(|after| !after.is_empty()),
            limit,
            attention: Attention {
                missing_sk: flag("missing_sk", &self.missing_sk)?,
                missing_nomor_induk: flag("missing_nomor_induk", &self.missing_nomor_induk)?,
                no_bimtek: flag("no_bimtek", &self.no_bimtek)?,
                stalled_months: months("stalled_months", &self.stalled_months)?,
                no_activity_months: months("no_activity_months", &self.no_activity_months)?,
                vacant_post: flag("vacant_post", &self.vacant_post)?,
            },
        })
    }

    /// The filters given, as query pairs (without the page's `after`).
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("region", self.region.as_str()),
            ("stage", &self.stage),
            ("status", &self.status),
            ("legal", &self.legal),
            ("q", &self.q),
            ("missing_sk", &self.missing_sk),
            ("missing_nomor_induk", &self.missing_nomor_induk),
            ("no_bimtek", &self.no_bimtek),
            ("vacant_post", &self.vacant_post),
            ("stalled_months", &self.stalled_months),
            ("no_activity_months", &self.no_activity_months),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect()
    }

    /// `path` with this filter and `extra` pairs.
    fn href(&self, path: &str, extra: &[(&'static str, &str)]) -> String {
        let mut pairs = self.pairs();
        pairs.extend(extra.iter().filter(|(_, value)| !value.is_empty()));
        if pairs.is_empty() {
            return path.to_owned();
        }
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }

    /// The checked query of a visitor: its region inside the scope and known (404 otherwise).
    fn checked(
        &self,
        state: &AppState,
        visitor: &Visitor,
        limit: u32,
    ) -> Result<CommunityQuery, WebError> {
        let query = self.query(limit)?;
        if let Some(region) = &query.region {
            if state.regions.get(region).is_none() || !visitor.principal.scope.covers_region(region)
            {
                return Err(WebError::not_found());
            }
        }
        Ok(query)
    }
}

/// `GET /kim`: the KIM in scope, filtered, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<ListParams>,
) -> Result<Html<String>, WebError> {
    let lang = visitor.lang;
    let query = params.checked(&state, &visitor, PAGE)?;
    let page = state.reads.communities(&visitor.principal, query).await?;
    let select = |name: &str, label: &str, current: &str, options: Vec<(String, String)>| {
        html! {
            label {
                (label)
                select name=(name) {
                    option value="" selected[current.is_empty()] { (lang.tr("Semua", "All")) }
                    @for (value, text) in &options {
                        option value=(value) selected[current == value] { (text) }
                    }
                }
            }
        }
    };
    let stages: Vec<(String, String)> = Stage::ALL
        .iter()
        .map(|stage| (stage.as_str().to_owned(), stage_label(stage.as_str())))
        .collect();
    let statuses: Vec<(String, String)> = CommunityStatus::ALL
        .iter()
        .map(|status| {
            let value = status.as_str();
            (value.to_owned(), status_label(lang, value).to_owned())
        })
        .collect();
    let legal = vec![
        ("true".to_owned(), lang.tr("Legal", "Legal").to_owned()),
        (
            "false".to_owned(),
            lang.tr("Belum legal", "Not yet legal").to_owned(),
        ),
    ];
    let body = html! {
        form.filters method="get" action="/kim" role="search" {
            label { (lang.tr("Kode wilayah", "Region code"))
                input type="text" name="region" value=(params.region) inputmode="numeric"
                    pattern="[0-9.]*" placeholder="34.03"; }
            (select("stage", lang.tr("Tahap", "Stage"), &params.stage, stages))
            (select("status", lang.tr("Status", "Status"), &params.status, statuses))
            (select("legal", lang.tr("Legalitas", "Legal standing"), &params.legal, legal))
            label { (lang.tr("Nama atau nomor induk", "Name or nomor induk"))
                input type="text" name="q" value=(params.q); }
            fieldset.attention {
                legend { (lang.tr("Perlu perhatian", "Needs attention")) }
                (check("missing_sk", lang.tr("Belum ada SK", "No SK"), &params.missing_sk))
                (check("missing_nomor_induk", lang.tr("Belum ada nomor induk", "No nomor induk"), &params.missing_nomor_induk))
                (check("no_bimtek", lang.tr("Belum pernah bimtek", "Never at a bimtek"), &params.no_bimtek))
                (check("vacant_post", lang.tr("Jabatan inti kosong", "Core post vacant"), &params.vacant_post))
                label { (lang.tr("Tertahan di tahapnya lebih dari (bulan)", "Stalled in its stage for more than (months)"))
                    input type="number" name="stalled_months" min="1" max=(MAX_MONTHS) value=(params.stalled_months); }
                label { (lang.tr("Tanpa kegiatan lebih dari (bulan)", "No activity for more than (months)"))
                    input type="number" name="no_activity_months" min="1" max=(MAX_MONTHS) value=(params.no_activity_months); }
            }
            button.primary type="submit" { (lang.tr("Terapkan", "Apply")) }
        }
        p.downloads {
            (lang.tr("Unduh daftar ini: ", "Download this list: "))
            a href=(params.href("/kim/unduh", &[("format", "csv")])) download { "CSV" }
            " · "
            a href=(params.href("/kim/unduh", &[("format", "xlsx")])) download { "XLSX" }
        }
        @if page.items.is_empty() {
            p { (lang.tr("Tidak ada KIM yang cocok dengan saringan ini.", "No KIM matches these filters.")) }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { (lang.tr("Nama KIM", "KIM name")) }
                        th scope="col" { (lang.tr("Desa/kelurahan", "Village")) }
                        th.hide-narrow scope="col" { (lang.tr("Kecamatan", "District")) }
                        th.hide-narrow scope="col" { (lang.tr("Kabupaten/kota", "Regency/city")) }
                        th scope="col" { (lang.tr("Tahap", "Stage")) }
                        th scope="col" { (lang.tr("Status", "Status")) }
                        th.hide-narrow scope="col" { (lang.tr("Di tahap ini sejak", "In this stage since")) }
                        th.hide-narrow scope="col" { (lang.tr("Kegiatan terakhir", "Last activity")) }
                        th.hide-narrow scope="col" { "SK" }
                        th.hide-narrow scope="col" { (lang.tr("Nomor induk", "Nomor induk")) }
                    } }
                    tbody {
                        @for row in &page.items {
                            tr {
                                th scope="row" { a href={ "/kim/" (row.community_id) } { (row.name) } }
                                td { (row.desa_name) }
                                td.hide-narrow { (row.kecamatan_name) }
                                td.hide-narrow { (row.regency_name) }
                                td { (stage_label(&row.stage)) }
                                td { (status_label(lang, &row.status)) }
                                td.hide-narrow.date { (row.stage_since) }
                                td.hide-narrow.date { (row.last_activity_on.as_deref().unwrap_or("—")) }
                                td.hide-narrow { (row.sk_number.as_deref().unwrap_or("—")) }
                                td.hide-narrow { (row.nomor_induk.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
        nav.pager aria-label=(lang.tr("Halaman", "Pages")) {
            @if !params.after.is_empty() {
                a href=(params.href("/kim", &[])) { (lang.tr("« Halaman pertama", "« First page")) }
            }
            @if let Some(next) = &page.next_cursor {
                a href=(params.href("/kim", &[("after", next)])) rel="next" { (lang.tr("Halaman berikutnya »", "Next page »")) }
            }
        }
    };
    let title = lang.tr("Daftar KIM", "KIM list");
    Ok(Html(layout::page(&visitor, title, body).into_string()))
}

/// `GET /kim/{id}`: one KIM's state, officers and timeline (404 outside the scope).
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let lang = visitor.lang;
    let principal = &visitor.principal;
    // One read: the state authorised is the state shown, its events the timeline.
    let read = state
        .reads
        .community(principal, Action::ReadCommunity, &id)
        .await?;
    let events = read.events.clone();
    let folded = views::Folded::of(read);
    let view = views::community_view(&state, principal, &id, &folded).await?;
    let timeline = if principal.can(Action::ReadTimeline) {
        Some(views::history(&state, principal, events).await?)
    } else {
        None
    };
    let yes_no = |value: bool| {
        if value {
            lang.tr("Ya", "Yes")
        } else {
            lang.tr("Belum", "Not yet")
        }
    };
    let body = html! {
        nav.crumbs aria-label=(lang.tr("Jejak wilayah", "Breadcrumbs")) {
            ol {
                @for region in [&view.provinsi, &view.kabupaten_kota, &view.kecamatan, &view.desa] {
                    li { a href={ "/wilayah/" (region.code) } { (region.name) } }
                }
            }
        }
        h2 { (lang.tr("Keadaan sekarang", "Current state")) }
        dl.facts {
            dt { (lang.tr("Tahap", "Stage")) } dd { (stage_label(&view.stage)) }
            dt { (lang.tr("Status", "Status")) } dd { (status_label(lang, &view.status)) }
            dt { (lang.tr("Berbadan legal", "Legal")) } dd { (yes_no(view.legal)) }
            dt { "SK" } dd { (view.sk_number.as_deref().unwrap_or("—")) }
            dt { (lang.tr("Nomor induk", "Nomor induk")) } dd { (view.nomor_induk.as_deref().unwrap_or("—")) }
            dt { (lang.tr("Tanggal dibentuk", "Formed on")) } dd { (view.formed_on.as_deref().unwrap_or("—")) }
            dt { (lang.tr("Anggota", "Members")) } dd { (number(lang, i64::from(view.member_count))) }
            dt { (lang.tr("Bimtek diikuti", "Bimtek attended")) } dd { (view.bimtek_count) }
            dt { (lang.tr("Kegiatan", "Activities")) } dd { (view.activity_count) }
            dt { (lang.tr("Kanal media aktif", "Active media channels")) } dd { (view.media_channel_count) }
            dt { (lang.tr("E-bisnis aktif", "Active e-businesses")) } dd { (view.e_business_count) }
        }
        h2 { (lang.tr("Pengurus", "Officers")) }
        @if view.officers.is_empty() {
            p { (lang.tr("Belum ada pengurus aktif.", "No active officers.")) }
        } @else {
            ul {
                @for officer in &view.officers {
                    li { (officer_label(lang, &officer.role))
                        @if let Some(bidang) = &officer.bidang { " (" (bidang) ")" }
                        ": " (officer.name) }
                }
            }
        }
        h2 { (lang.tr("Langkah berikutnya", "Next steps")) }
        (next_steps_list(lang, &next_steps(&folded.community, &state.executor.services().policy)))
        @if let Some(timeline) = &timeline {
            h2 { (lang.tr("Riwayat", "Timeline")) }
            (timeline_list(lang, timeline))
        }
    };
    Ok(Html(layout::page(&visitor, &view.name, body).into_string()))
}

/// What R6, R8 and R9 still require, as sentences with their rules.
fn next_steps_list(lang: Lang, next: &NextSteps) -> Markup {
    let step_text = |step: &Step| -> String {
        match step {
            Step::NeedsOfficer { role } => format!(
                "{} {}",
                lang.tr("Butuh", "Needs an active"),
                officer_label(lang, role.as_str()).to_lowercase()
            ),
            Step::MemberCountOutOfRange { count, min, max } => format!(
                "{} {count} {} {min}–{max}",
                lang.tr("Jumlah anggota", "The member count"),
                lang.tr("di luar batas", "is outside")
            ),
            Step::NeedsSk => lang
                .tr("Butuh SK kepala desa/lurah", "Needs the village head's SK")
                .to_owned(),
            Step::NeedsNomorInduk => lang
                .tr(
                    "Butuh nomor induk dari Dinas kabupaten/kota",
                    "Needs a nomor induk from the kabupaten/kota Dinas",
                )
                .to_owned(),
            Step::MustBeLegal { to } => format!(
                "{} {}",
                lang.tr(
                    "Harus berbadan legal untuk naik ke",
                    "Must be legal to advance to"
                ),
                stage_label(to.as_str())
            ),
            Step::NeedsEvidence {
                to,
                evidence,
                needed,
            } => {
                let what = match evidence {
                    Evidence::DevelopmentAgentActivity => {
                        lang.tr("kegiatan agen pembangunan", "development-agent activity")
                    }
                    Evidence::ActiveMediaChannel => {
                        lang.tr("kanal media baru aktif", "active new-media channel")
                    }
                    Evidence::ActiveEBusiness => lang.tr("e-bisnis aktif", "active e-business"),
                };
                format!(
                    "{} {needed} {what} {} {}",
                    lang.tr("Butuh", "Needs"),
                    lang.tr("untuk", "for"),
                    stage_label(to.as_str())
                )
            }
        }
    };
    let item = |step: &Step| {
        html! { li { (step_text(step)) " " span.rule { "(" (step.rule().to_string()) ")" } } }
    };
    html! {
        @match next.blocked_by {
            Some(Blocker::Dissolved) => p { (lang.tr(
                "KIM ini sudah dibubarkan: tidak ada langkah lagi.",
                "This KIM is dissolved: there are no further steps.")) },
            Some(Blocker::NotFormed) => p { (lang.tr("KIM ini belum dibentuk.", "This KIM was never formed.")) },
            Some(Blocker::Suspended) => p.notice { (lang.tr(
                "KIM ini ditangguhkan: aktifkan kembali terlebih dahulu; sesudah itu berlaku langkah berikut.",
                "This KIM is suspended: it must be reactivated first; then these steps apply.")) },
            None => {}
        }
        @if !matches!(next.blocked_by, Some(Blocker::Dissolved | Blocker::NotFormed)) {
            h3 { (lang.tr("Legalitas (SK + nomor induk)", "Legal standing (SK + nomor induk)")) }
            @if next.legal.is_empty() {
                p { (lang.tr("Sudah berbadan legal.", "Already legal.")) }
            } @else {
                ul.steps { @for step in &next.legal { (item(step)) } }
            }
            h3 { (lang.tr("Tahap berikutnya", "Next stage")) }
            @match &next.stage {
                None => p { (lang.tr("Sudah di tahap tertinggi (KIM 4).", "Already at the highest stage (KIM 4).")) },
                Some(stage) if stage.steps.is_empty() => p {
                    (lang.tr("Siap dinilai operator kabupaten/kota untuk", "Ready for the regency operator's assessment for"))
                    " " (stage_label(stage.to.as_str())) "."
                },
                Some(stage) => ul.steps { @for step in &stage.steps { (item(step)) } },
            }
        }
    }
}

/// A checkbox that sends `true`.
fn check(name: &str, label: &str, current: &str) -> Markup {
    html! {
        label.check {
            input type="checkbox" name=(name) value="true" checked[current == "true"];
            (label)
        }
    }
}

/// The download's format.
#[derive(Deserialize)]
pub struct DownloadParams {
    format: String,
    #[serde(flatten)]
    filters: ListParams,
}

/// `GET /kim/unduh?format=csv|xlsx&…`: every KIM of the list's filter as a file, with the
/// columns of `GET /api/v1/exports/communities`.
pub async fn download(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<DownloadParams>,
) -> Result<Response, WebError> {
    let format = match params.format.as_str() {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        other => {
            return Err(WebError::bad_request(format!(
                "format: `{other}` is neither csv nor xlsx"
            )))
        }
    };
    let mut query = params.filters.checked(&state, &visitor, MAX_PAGE)?;
    let region = query.region.as_ref().map(ToString::to_string);
    let failed = |error: simpul_projections::exports::ExportError| {
        WebError::from(simpul_http::ApiError::Internal(error.to_string()))
    };
    let mut csv = match format {
        ExportFormat::Csv => Some(CsvExport::new(Vec::new()).map_err(failed)?),
        ExportFormat::Xlsx => None,
    };
    let mut xlsx = match format {
        ExportFormat::Xlsx => Some(XlsxExport::new().map_err(failed)?),
        ExportFormat::Csv => None,
    };
    loop {
        let page = state
            .reads
            .communities(&visitor.principal, query.clone())
            .await?;
        for row in &page.items {
            if let Some(csv) = csv.as_mut() {
                csv.write(row).map_err(failed)?;
            }
            if let Some(xlsx) = xlsx.as_mut() {
                xlsx.write(row).map_err(failed)?;
            }
        }
        match page.next_cursor {
            Some(cursor) => query.after = Some(cursor),
            None => break,
        }
    }
    let bytes = match (csv, xlsx) {
        (Some(csv), _) => csv.finish().map_err(failed)?,
        (_, Some(xlsx)) => xlsx.finish().map_err(failed)?,
        (None, None) => Vec::new(),
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        exports::filename(region.as_deref(), format)
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

fn timeline_list(lang: Lang, entries: &[HistoryEntry]) -> Markup {
    html! {
        ol.timeline {
            @for entry in entries {
                li {
                    strong { (entry.sequence) ". " (event_label(lang, &entry.event_type)) }
                    " "
                    span.when { (entry.recorded_at.as_deref().map(short_time).unwrap_or_default()) }
                    (payload(&entry.payload))
                    @if let Some(reason) = &entry.reason {
                        p { (lang.tr("Alasan: ", "Reason: ")) (reason) }
                    }
                    p.meta {
                        (lang.tr("Oleh ", "By ")) (entry.actor.as_deref().unwrap_or("—"))
                        @if let Some(role) = &entry.role { " (" (role) ")" }
                        " · " (lang.tr("permintaan ", "request ")) code { (entry.request_id.as_deref().unwrap_or("—")) }
                        @if let Some(index) = entry.ledger_index { " · ledger #" (index) }
                    }
                }
            }
        }
    }
}

/// `2025-01-02T03:04:05.123456Z` → `2025-01-02 03:04 UTC`.
fn short_time(time: &str) -> String {
    match (time.get(..10), time.get(11..16)) {
        (Some(date), Some(clock)) => format!("{date} {clock} UTC"),
        _ => time.to_owned(),
    }
}

/// An event's fields, compactly (nulls and nested ids left out).
fn payload(fields: &Value) -> Markup {
    let Some(object) = fields.as_object() else {
        return html! {};
    };
    let shown: Vec<(&String, String)> = object
        .iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::Null => return None,
                Value::String(text) => text.clone(),
                Value::Bool(flag) => flag.to_string(),
                Value::Number(number) => number.to_string(),
                Value::Array(items) if items.is_empty() => return None,
                other => other.to_string(),
            };
            Some((key, text))
        })
        .collect();
    html! {
        @if !shown.is_empty() {
            ul.fields {
                @for (key, text) in &shown {
                    li { span.k { (key.replace('_', " ")) ": " } (text) }
                }
            }
        }
    }
}

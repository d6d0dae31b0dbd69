//! Audit `/audit` (admin, auditor): the audit trail with its filters, each row's ledger index,
//! the latest signed checkpoint, and the filtered trail as CSV; Status `/status` (admin,
//! auditor): the read models' positions, lag and state. The same reads as `GET /api/v1/audit`,
//! `/ledger/checkpoint` and `/projections`.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use simpul_app::{Action, AuditQuery, MAX_PAGE};
use simpul_domain::events::CommunityEvent;
use simpul_domain::RegionCode;
use simpul_http::AppState;
use simpul_projections::audit_trail::query::AuditRow;
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::{event_label, Lang};
use crate::layout::{self, number};
use crate::session::Visitor;

/// Rows on a page of the trail.
const PAGE: u32 = 100;

/// The trail's filters, as the form sends them (empty: any).
#[derive(Deserialize, Default)]
pub struct AuditParams {
    #[serde(default)]
    region: String,
    #[serde(default)]
    community: String,
    #[serde(default)]
    actor: String,
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
}

impl AuditParams {
    fn query(&self, limit: u32) -> Result<AuditQuery, WebError> {
        let given = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let time = |field: &str, value: &str| {
            given(value)
                .map(|text| simpul_http::check_time(field, &text))
                .transpose()
                .map_err(WebError::from)
        };
        Ok(AuditQuery {
            community: match given(&self.community) {
                Some(id) => Some(
                    Uuid::parse_str(&id)
                        .map_err(|_| WebError::bad_request("community: not a KIM id"))?,
                ),
                None => None,
            },
            actor: given(&self.actor),
            region: given(&self.region)
                .map(|code| RegionCode::parse(&code))
                .transpose()
                .map_err(|error| WebError::bad_request(format!("region: {error}")))?,
            event_type: given(&self.event_type)
                .map(|name| simpul_http::event_type("type", &name))
                .transpose()?,
            from: time("from", &self.from)?,
            to: time("to", &self.to)?,
            after: match given(&self.after) {
                Some(after) => after
                    .parse()
                    .map_err(|_| WebError::bad_request("after: not a position"))?,
                None => 0,
            },
            limit,
        })
    }

    /// `path` with this filter and `extra` pairs.
    fn href(&self, path: &str, extra: &[(&'static str, &str)]) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("region", self.region.as_str()),
            ("community", &self.community),
            ("actor", &self.actor),
            ("type", &self.event_type),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .filter(|(_, value)| !value.is_empty())
        .collect();
        if pairs.is_empty() {
            return path.to_owned();
        }
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

/// `GET /audit`: a page of the trail in scope.
pub async fn trail(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<AuditParams>,
) -> Result<Html<String>, WebError> {
    let lang = visitor.lang;
    let page = state
        .reads
        .audit(&visitor.principal, params.query(PAGE)?)
        .await?;
    let checkpoint = if visitor.principal.can(Action::ReadLedger) {
        state.reads.ledger_checkpoint(&visitor.principal).await?
    } else {
        None
    };
    let text = |name: &str, label: &str, value: &str| {
        html! { label { (label) input type="text" name=(name) value=(value); } }
    };
    let body = html! {
        form.filters method="get" action="/audit" role="search" {
            (text("region", lang.tr("Kode wilayah", "Region code"), &params.region))
            (text("community", lang.tr("ID KIM", "KIM id"), &params.community))
            (text("actor", lang.tr("Pelaku (token:…)", "Actor (token:…)"), &params.actor))
            label {
                (lang.tr("Peristiwa", "Event"))
                select name="type" {
                    option value="" selected[params.event_type.is_empty()] { (lang.tr("Semua", "All")) }
                    @for name in CommunityEvent::NAMES {
                        option value=(name) selected[params.event_type == name] { (event_label(lang, name)) }
                    }
                }
            }
            label { (lang.tr("Dari tanggal", "From")) input type="date" name="from" value=(params.from); }
            label { (lang.tr("Sebelum tanggal", "Before")) input type="date" name="to" value=(params.to); }
            button.primary type="submit" { (lang.tr("Terapkan", "Apply")) }
        }
        p.downloads {
            (lang.tr("Unduh jejak ini: ", "Download this trail: "))
            a href=(params.href("/audit/unduh", &[])) download { "CSV" }
        }
        @if page.items.is_empty() {
            p { (lang.tr("Tidak ada peristiwa yang cocok.", "No event matches.")) }
        } @else {
            div.table-wrap {
                table {
                    thead { tr {
                        th.num scope="col" { (lang.tr("Indeks ledger", "Ledger index")) }
                        th scope="col" { (lang.tr("Waktu (UTC)", "Time (UTC)")) }
                        th scope="col" { (lang.tr("Peristiwa", "Event")) }
                        th scope="col" { "KIM" }
                        th scope="col" { (lang.tr("Pelaku", "Actor")) }
                        th.hide-narrow scope="col" { (lang.tr("Alasan", "Reason")) }
                        th.hide-narrow scope="col" { (lang.tr("Permintaan", "Request")) }
                        th.hide-narrow scope="col" { (lang.tr("Ringkasan", "Summary")) }
                    } }
                    tbody {
                        @for row in &page.items { (audit_row(lang, row)) }
                    }
                }
            }
        }
        nav.pager aria-label=(lang.tr("Halaman", "Pages")) {
            @if !params.after.is_empty() {
                a href=(params.href("/audit", &[])) { (lang.tr("« Halaman pertama", "« First page")) }
            }
            @if let Some(next) = page.next_cursor {
                a href=(params.href("/audit", &[("after", &next.to_string())])) rel="next" {
                    (lang.tr("Halaman berikutnya »", "Next page »")) }
            }
        }
        (checkpoint_section(lang, checkpoint.as_deref()))
    };
    let title = lang.tr("Jejak audit", "Audit trail");
    Ok(Html(layout::page(&visitor, title, body).into_string()))
}

fn audit_row(lang: Lang, row: &AuditRow) -> Markup {
    html! {
        tr {
            td.num { (row.ledger_index.map(|i| i.to_string()).unwrap_or_else(|| "—".to_owned())) }
            td.date { (row.recorded_at.get(..19).unwrap_or(&row.recorded_at).replace('T', " ")) }
            td { (event_label(lang, &row.event_type)) }
            // A UUID v7's first digits are its time, the same for KIM formed together: the last
            // ones tell them apart.
            td { a href={ "/kim/" (row.community_id) } title=(row.community_id) {
                code { "…" (row.community_id.get(row.community_id.len().saturating_sub(8)..).unwrap_or(&row.community_id)) } }
                " #" (row.sequence) }
            td { (row.actor) br; small { (row.role) } }
            td.hide-narrow { (row.reason.as_deref().unwrap_or("—")) }
            td.hide-narrow { code { (row.request_id) } }
            td.hide-narrow { (row.summary) }
        }
    }
}

/// The latest signed checkpoint, as its note (what an auditor keeps to verify against).
fn checkpoint_section(lang: Lang, note: Option<&str>) -> Markup {
    html! {
        h2 { (lang.tr("Checkpoint ledger terakhir", "Latest ledger checkpoint")) }
        @match note {
            Some(note) => {
                p { (lang.tr(
                    "Catatan bertanda tangan ini mengikat seluruh log sampai ukurannya; simpan dan periksa dengan `simpul audit verify --checkpoint`.",
                    "This signed note commits to the whole log up to its size; keep it and check it with `simpul audit verify --checkpoint`.")) }
                pre.note { (note) }
            }
            None => p { (lang.tr("Belum ada checkpoint.", "No checkpoint yet.")) },
        }
    }
}

/// `GET /audit/unduh`: every row of the filter as CSV.
pub async fn download(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<AuditParams>,
) -> Result<Response, WebError> {
    let mut query = params.query(MAX_PAGE)?;
    let mut out = String::new();
    AuditRow::push_csv_header(&mut out);
    loop {
        let page = state.reads.audit(&visitor.principal, query.clone()).await?;
        for row in &page.items {
            row.push_csv(&mut out);
        }
        match page.next_cursor {
            Some(after) => query.after = after,
            None => break,
        }
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"jejak-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// `GET /status`: each read model's position, lag and state, and the latest checkpoint.
pub async fn status(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Html<String>, WebError> {
    let lang = visitor.lang;
    let models = state.reads.projections(&visitor.principal).await?;
    let checkpoint = if visitor.principal.can(Action::ReadLedger) {
        state.reads.ledger_checkpoint(&visitor.principal).await?
    } else {
        None
    };
    let body = html! {
        div.table-wrap role="region" aria-label=(lang.tr("Model baca", "Read models")) tabindex="0" {
            table {
                thead { tr {
                    th scope="col" { (lang.tr("Model baca", "Read model")) }
                    th.num scope="col" { (lang.tr("Posisi", "Position")) }
                    th.num scope="col" { (lang.tr("Peristiwa diterapkan", "Events applied")) }
                    th.num scope="col" { (lang.tr("Tertinggal (peristiwa)", "Lag (events)")) }
                    th.num scope="col" { (lang.tr("Tertinggal (detik)", "Lag (seconds)")) }
                    th scope="col" { (lang.tr("Keadaan", "State")) }
                    th scope="col" { (lang.tr("Galat terakhir", "Last error")) }
                } }
                tbody {
                    @for model in &models {
                        tr {
                            th scope="row" { code { (model.name) } }
                            td.num { (number(lang, i64::try_from(model.position).unwrap_or(i64::MAX))) }
                            td.num { (number(lang, i64::try_from(model.events).unwrap_or(i64::MAX))) }
                            td.num { (number(lang, i64::try_from(model.lag_events).unwrap_or(i64::MAX))) }
                            td.num { (format!("{:.1}", model.lag_seconds)) }
                            td { @if model.state == "running" { (lang.tr("berjalan", "running")) } @else { strong { (model.state) } } }
                            td { (model.last_error.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
        (checkpoint_section(lang, checkpoint.as_deref()))
    };
    let title = lang.tr("Status sistem", "System status");
    Ok(Html(layout::page(&visitor, title, body).into_string()))
}

//! Daftar KIM `/kim` (filters, keyset paging) and one KIM `/kim/{id}`: its state, officers and
//! timeline — the same reads as `GET /api/v1/communities[/{id}[/events]]`.

use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use simpul_app::{Action, CommunityQuery};
use simpul_domain::{CommunityStatus, RegionCode, Stage};
use simpul_http::views::{self, HistoryEntry};
use simpul_http::AppState;

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

impl ListParams {
    fn query(&self) -> Result<CommunityQuery, WebError> {
        let region = match self.region.trim() {
            "" => None,
            code => Some(
                RegionCode::parse(code)
                    .map_err(|error| WebError::bad_request(format!("region: {error}")))?,
            ),
        };
        let legal = match self.legal.as_str() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            other => {
                return Err(WebError::bad_request(format!(
                    "legal: `{other}` is neither true nor false"
                )))
            }
        };
        Ok(CommunityQuery {
            region,
            stage: typed::<Stage>("stage", &self.stage)?,
            status: typed::<CommunityStatus>("status", &self.status)?,
            legal,
            q: Some(self.q.clone()).filter(|q| !q.trim().is_empty()),
            after: Some(self.after.clone()).filter(|after| !after.is_empty()),
            limit: PAGE,
        })
    }

    /// This filter with another `after` (the next page).
    fn with_after(&self, after: &str) -> String {
        let pairs = [
            ("region", self.region.as_str()),
            ("stage", &self.stage),
            ("status", &self.status),
            ("legal", &self.legal),
            ("q", &self.q),
            ("after", after),
        ];
        let kept: Vec<(&str, &str)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        format!(
            "/kim?{}",
            serde_urlencoded::to_string(kept).unwrap_or_default()
        )
    }
}

/// `GET /kim`: the KIM in scope, filtered, a page at a time.
pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<ListParams>,
) -> Result<Html<String>, WebError> {
    let lang = visitor.lang;
    let query = params.query()?;
    if let Some(region) = &query.region {
        if state.regions.get(region).is_none() || !visitor.principal.scope.covers_region(region) {
            return Err(WebError::not_found());
        }
    }
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
            button.primary type="submit" { (lang.tr("Terapkan", "Apply")) }
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
                a href=(params.with_after("")) { (lang.tr("« Halaman pertama", "« First page")) }
            }
            @if let Some(next) = &page.next_cursor {
                a href=(params.with_after(next)) rel="next" { (lang.tr("Halaman berikutnya »", "Next page »")) }
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
        @if let Some(timeline) = &timeline {
            h2 { (lang.tr("Riwayat", "Timeline")) }
            (timeline_list(lang, timeline))
        }
    };
    Ok(Html(layout::page(&visitor, &view.name, body).into_string()))
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

//! Beranda `/` and Wilayah `/wilayah[/{code}]`: a region's KIM by stage, legal standing and
//! status, and each child region's stage bars with counts that link to the filtered list — down
//! from the country to provinces, kabupaten/kota, kecamatan and desa. Zero rows are shown.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use simpul_app::{Action, CommunityQuery, Scope, Totals, MAX_PAGE};
use simpul_domain::{RegionCode, RegionLevel};
use simpul_http::AppState;

use crate::error::WebError;
use crate::i18n::{stage_label, status_label, Lang};
use crate::layout::{self, number, trusted};
use crate::map;
use crate::session::Visitor;
use crate::svg::{stacked_bar, swatch, STAGE_COLOURS};

const STAGES: [&str; 4] = ["kim1", "kim2", "kim3", "kim4"];

/// What the map colours: `?peta=jumlah` (default) the KIM count, `?peta=kim3` the share at KIM 3
/// or 4.
#[derive(Deserialize, Default)]
pub struct MapParams {
    #[serde(default)]
    peta: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    Count,
    Kim3Share,
}

impl MapParams {
    fn metric(&self) -> Result<Metric, WebError> {
        match self.peta.as_str() {
            "" | "jumlah" => Ok(Metric::Count),
            "kim3" => Ok(Metric::Kim3Share),
            other => Err(WebError::bad_request(format!(
                "peta: `{other}` is neither jumlah nor kim3"
            ))),
        }
    }
}

/// `GET /`: the visitor's scope at a glance (a KIM's own token: its KIM).
pub async fn home(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<MapParams>,
) -> Result<Response, WebError> {
    let region = match &visitor.principal.scope {
        Scope::Community(id) => return Ok(Redirect::to(&format!("/kim/{id}")).into_response()),
        Scope::Region(code) => Some(code.clone()),
        Scope::National => None,
    };
    let title = visitor.lang.tr("Beranda", "Home").to_owned();
    region_page(&state, &visitor, region, title, params.metric()?, true).await
}

/// `GET /wilayah`: the country's provinces.
pub async fn country(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<MapParams>,
) -> Result<Response, WebError> {
    if visitor.principal.scope != Scope::National {
        return Err(WebError::not_found());
    }
    let title = "Indonesia".to_owned();
    region_page(&state, &visitor, None, title, params.metric()?, false).await
}

/// `GET /wilayah/{code}`: a region inside the visitor's scope (404 otherwise, like the API's
/// KIM outside a scope).
pub async fn region(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(code): Path<String>,
    Query(params): Query<MapParams>,
) -> Result<Response, WebError> {
    let code = RegionCode::parse(&code).map_err(|_| WebError::not_found())?;
    let name = state
        .regions
        .display_name(&code)
        .ok_or_else(WebError::not_found)?;
    if !visitor.principal.scope.covers_region(&code) {
        return Err(WebError::not_found());
    }
    region_page(&state, &visitor, Some(code), name, params.metric()?, false).await
}

async fn region_page(
    state: &AppState,
    visitor: &Visitor,
    region: Option<RegionCode>,
    title: String,
    metric: Metric,
    home: bool,
) -> Result<Response, WebError> {
    let lang = visitor.lang;
    // Counts link to the list of KIM behind them for the roles that read it (not the analyst).
    let lists = visitor.principal.can(Action::ReadCommunity);
    let level = region.as_ref().map(RegionCode::level);
    let (totals, children) = match level {
        Some(RegionLevel::District) => district(state, visitor, region.as_ref()).await?,
        Some(RegionLevel::Village) => {
            let code = region.as_ref().map(ToString::to_string).unwrap_or_default();
            return Ok(Redirect::to(&format!("/kim?region={code}")).into_response());
        }
        _ => {
            let dashboard = state
                .reads
                .dashboard(&visitor.principal, region.as_ref())
                .await?;
            (dashboard.region, dashboard.children)
        }
    };
    let child_heading = match level {
        None => lang.tr("Provinsi", "Province"),
        Some(RegionLevel::Province) => lang.tr("Kabupaten/kota", "Regency/city"),
        Some(RegionLevel::Regency) => lang.tr("Kecamatan", "District (kecamatan)"),
        _ => lang.tr("Desa/kelurahan", "Village (desa/kelurahan)"),
    };
    let crumbs = breadcrumbs(state, visitor, region.as_ref());
    // The last twelve months at a glance, on Beranda only.
    let monthly = if home {
        Some(
            state
                .reads
                .monthly(&visitor.principal, region.as_ref(), 12)
                .await?,
        )
    } else {
        None
    };
    let body = html! {
        (crumbs)
        (cards(lang, &totals, region.as_ref(), lists))
        @if let Some(months) = &monthly {
            (monthly_section(lang, months))
        }
        @if let Some(map) = map_section(visitor, region.as_ref(), &children, metric) {
            (map)
        }
        h2 { (child_heading) }
        (legend(lang))
        (children_table(lang, child_heading, &children, lists))
    };
    Ok(Html(layout::page(visitor, &title, body).into_string()).into_response())
}

/// A kecamatan's totals and its desa (the dashboard stops at the kecamatan; its desa are counted
/// from the list of its KIM, which is small). A role that does not read the list (the analyst)
/// sees the kecamatan's totals only: below it, counts come close to single KIM.
async fn district(
    state: &AppState,
    visitor: &Visitor,
    region: Option<&RegionCode>,
) -> Result<(Totals, Vec<Totals>), WebError> {
    let Some(code) = region else {
        return Err(WebError::not_found());
    };
    let dashboard = state
        .reads
        .dashboard(&visitor.principal, Some(code))
        .await?;
    if !visitor.principal.can(Action::ReadCommunity) {
        return Ok((dashboard.region, Vec::new()));
    }
    let mut by_desa: BTreeMap<String, Totals> = state
        .regions
        .children(code)
        .into_iter()
        .map(|desa| {
            let code = desa.code.to_string();
            let totals = Totals {
                code: Some(code.clone()),
                name: desa.display_name(),
                ..Totals::default()
            };
            (code, totals)
        })
        .collect();
    let mut after = None;
    loop {
        let page = state
            .reads
            .communities(
                &visitor.principal,
                CommunityQuery {
                    region: Some(code.clone()),
                    after: after.take(),
                    limit: MAX_PAGE,
                    ..CommunityQuery::default()
                },
            )
            .await?;
        for row in &page.items {
            if let Some(totals) = by_desa.get_mut(&row.desa_code) {
                totals.total += 1;
                *totals.by_stage.entry(row.stage.clone()).or_default() += 1;
                *totals.by_status.entry(row.status.clone()).or_default() += 1;
                let legal = if row.legal { "legal" } else { "not_legal" };
                *totals.by_legal.entry(legal.to_owned()).or_default() += 1;
            }
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    Ok((dashboard.region, by_desa.into_values().collect()))
}

fn breadcrumbs(state: &AppState, visitor: &Visitor, region: Option<&RegionCode>) -> Markup {
    let lang = visitor.lang;
    let national = visitor.principal.scope == Scope::National;
    let ancestors = region
        .map(|code| state.regions.ancestors(code))
        .unwrap_or_default();
    html! {
        nav.crumbs aria-label=(lang.tr("Jejak wilayah", "Breadcrumbs")) {
            ol {
                @if national {
                    li { a href="/wilayah" { "Indonesia" } }
                }
                @for ancestor in &ancestors {
                    @if visitor.principal.scope.covers_region(&ancestor.code) {
                        li { a href={ "/wilayah/" (ancestor.code) } { (ancestor.display_name()) } }
                    } @else {
                        li { (ancestor.display_name()) }
                    }
                }
                @if let Some(code) = region {
                    li aria-current="page" { (state.regions.display_name(code).unwrap_or_default()) }
                }
            }
        }
    }
}

fn count(totals: &BTreeMap<String, i64>, key: &str) -> i64 {
    totals.get(key).copied().unwrap_or(0)
}

/// The list of KIM behind a count.
fn list_href(region: Option<&str>, filter: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(region) = region {
        pairs.push(("region", region));
    }
    if let Some((key, value)) = filter.split_once('=') {
        pairs.push((key, value));
    }
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if query.is_empty() {
        "/kim".to_owned()
    } else {
        format!("/kim?{query}")
    }
}

fn cards(lang: Lang, totals: &Totals, region: Option<&RegionCode>, lists: bool) -> Markup {
    let code = region.map(RegionCode::as_str);
    let card = |label: &str, value: i64, filter: &str| {
        html! {
            li {
                @if lists {
                    a href=(list_href(code, filter)) {
                        span.n { (number(lang, value)) }
                        span.k { (label) }
                    }
                } @else {
                    span.n { (number(lang, value)) }
                    span.k { (label) }
                }
            }
        }
    };
    html! {
        ul.cards aria-label=(lang.tr("Ringkasan", "Summary")) {
            (card(lang.tr("KIM seluruhnya", "KIM in all"), totals.total, ""))
            @for stage in STAGES {
                (card(&stage_label(stage), count(&totals.by_stage, stage), &format!("stage={stage}")))
            }
            (card(lang.tr("Berbadan legal (SK + nomor induk)", "Legal (SK + nomor induk)"),
                count(&totals.by_legal, "legal"), "legal=true"))
            @for status in ["active", "suspended", "dissolved"] {
                (card(status_label(lang, status), count(&totals.by_status, status), &format!("status={status}")))
            }
        }
    }
}

/// The map of the country's provinces or a province's kabupaten/kota, coloured by `metric`, each
/// region a link to its page; none below the province (there are no finer boundaries).
fn map_section(
    visitor: &Visitor,
    region: Option<&RegionCode>,
    children: &[Totals],
    metric: Metric,
) -> Option<Markup> {
    let lang = visitor.lang;
    let projected = match region {
        None => map::projected(None)?,
        Some(code) if code.level() == RegionLevel::Province => map::projected(Some(code.as_str()))?,
        Some(_) => return None,
    };
    let value = |child: &Totals| match metric {
        Metric::Count => child.total as f64,
        Metric::Kim3Share if child.total > 0 => {
            (count(&child.by_stage, "kim3") + count(&child.by_stage, "kim4")) as f64
                / child.total as f64
        }
        Metric::Kim3Share => 0.0,
    };
    let max = match metric {
        Metric::Count => children.iter().map(value).fold(0.0, f64::max),
        Metric::Kim3Share => 1.0,
    };
    let figure = |child: &Totals| match metric {
        Metric::Count => format!("{} KIM", number(lang, child.total)),
        Metric::Kim3Share => format!("{:.0} % KIM 3+", value(child) * 100.0),
    };
    let by_code: BTreeMap<&str, &Totals> = children
        .iter()
        .filter_map(|child| Some((child.code.as_deref()?, child)))
        .collect();
    let (caption, scale_label) = match metric {
        Metric::Count => (
            lang.tr("Peta: jumlah KIM", "Map: number of KIM"),
            format!("0 – {}", number(lang, max as i64)),
        ),
        Metric::Kim3Share => (
            lang.tr(
                "Peta: bagian KIM pada tahap 3 atau 4",
                "Map: share of KIM at stage 3 or 4",
            ),
            "0 – 100 %".to_owned(),
        ),
    };
    let drawn = map::svg(&projected, caption, |code| {
        let child = by_code.get(code)?;
        Some(map::Shade {
            fill: map::colour(value(child), max),
            href: format!("/wilayah/{code}"),
            title: format!("{}: {}", child.name, figure(child)),
        })
    });
    let base = visitor.path.split('?').next().unwrap_or("/");
    Some(html! {
        section.map-section {
            h2 { (caption) }
            p.no-print {
                @if metric == Metric::Count {
                    strong { (lang.tr("Jumlah KIM", "Number of KIM")) }
                    " · " a href={ (base) "?peta=kim3" } { (lang.tr("Bagian KIM 3+", "Share at KIM 3+")) }
                } @else {
                    a href={ (base) "?peta=jumlah" } { (lang.tr("Jumlah KIM", "Number of KIM")) }
                    " · " strong { (lang.tr("Bagian KIM 3+", "Share at KIM 3+")) }
                }
            }
            div.map-wrap { (trusted(drawn)) }
            ul.legend aria-label=(lang.tr("Skala warna", "Colour scale")) {
                li { (trusted(swatch(map::NONE))) (lang.tr("tidak ada KIM", "no KIM")) }
                @for colour in map::PALETTE { li { (trusted(swatch(colour))) } }
                li { (scale_label) }
            }
        }
    })
}

/// New KIM and stage changes per month, as columns and as a table (for screen readers and print).
fn monthly_section(lang: Lang, months: &[simpul_projections::monthly::Month]) -> Markup {
    const ID: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
    ];
    const EN: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let label = |month: &str| {
        let index: usize = month.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
        let names = match lang {
            Lang::Id => ID,
            Lang::En => EN,
        };
        format!(
            "{} {}",
            names[index.clamp(1, 12) - 1],
            month.get(2..4).unwrap_or_default()
        )
    };
    let labels: Vec<String> = months.iter().map(|m| label(&m.month)).collect();
    let values: Vec<[i64; 2]> = months.iter().map(|m| [m.formed, m.stage_changes]).collect();
    let names = [
        lang.tr("KIM baru", "New KIM"),
        lang.tr("Perubahan tahap", "Stage changes"),
    ];
    let caption = lang.tr(
        "12 bulan terakhir: KIM baru dan perubahan tahap (menurut tanggal peristiwanya)",
        "The last 12 months: new KIM and stage changes (by the events' own dates)",
    );
    html! {
        section.monthly {
            h2 { (lang.tr("12 bulan terakhir", "The last 12 months")) }
            ul.legend {
                @for (i, name) in names.iter().enumerate() {
                    li { (trusted(swatch(crate::svg::SERIES_COLOURS[i]))) (name) }
                }
            }
            @if values.iter().flatten().all(|value| *value == 0) {
                p { (lang.tr(
                    "Tidak ada KIM baru dan tidak ada perubahan tahap dalam 12 bulan terakhir.",
                    "No new KIM and no stage change in the last 12 months.")) }
            }
            div.table-wrap role="region" aria-label=(caption) tabindex="0" {
                (trusted(crate::svg::grouped_columns(&labels, &values, names, caption)))
            }
            details {
                summary { (lang.tr("Angka", "Figures")) }
                div.table-wrap role="region" tabindex="0"
                    aria-label=(lang.tr("Angka 12 bulan terakhir", "Figures of the last 12 months")) {
                    table {
                        thead { tr { th scope="col" { (lang.tr("Bulan", "Month")) }
                            th.num scope="col" { (names[0]) } th.num scope="col" { (names[1]) } } }
                        tbody {
                            @for (month, name) in months.iter().zip(&labels) {
                                tr { th scope="row" { (name) } td.num { (month.formed) } td.num { (month.stage_changes) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A colour swatch as SVG: the policy allows no inline style.
fn legend(lang: Lang) -> Markup {
    html! {
        ul.legend aria-label=(lang.tr("Keterangan warna", "Colour key")) {
            @for (i, stage) in STAGES.iter().enumerate() {
                li { (trusted(swatch(STAGE_COLOURS[i]))) (stage_label(stage)) }
            }
        }
    }
}

/// A count, linked to the list of KIM behind it when `href` is given.
fn linked(lang: Lang, value: i64, href: Option<String>) -> Markup {
    html! {
        @if let Some(href) = href {
            a href=(href) { (number(lang, value)) }
        } @else {
            (number(lang, value))
        }
    }
}

fn children_table(lang: Lang, heading: &str, children: &[Totals], lists: bool) -> Markup {
    let max = children.iter().map(|child| child.total).max().unwrap_or(0);
    let href = |code: Option<&str>, filter: &str| lists.then(|| list_href(code, filter));
    html! {
        div.table-wrap {
            table {
                caption.hide-narrow { (heading) ": " (lang.tr("KIM per tahap", "KIM by stage")) }
                thead {
                    tr {
                        th scope="col" { (heading) }
                        th.num scope="col" { (lang.tr("Jumlah", "Total")) }
                        @for stage in STAGES { th.num scope="col" { (stage_label(stage)) } }
                        th.num scope="col" { (lang.tr("Legal", "Legal")) }
                        th.hide-narrow scope="col" { (lang.tr("Sebaran tahap", "Stages")) }
                    }
                }
                tbody {
                    @for child in children {
                        @let code = child.code.as_deref();
                        tr class=[(child.total == 0).then_some("zero")] {
                            th scope="row" {
                                @if let Some(code) = code {
                                    a href={ "/wilayah/" (code) } { (child.name) }
                                } @else { (child.name) }
                            }
                            td.num { (linked(lang, child.total, href(code, ""))) }
                            @for stage in STAGES {
                                td.num { (linked(lang, count(&child.by_stage, stage),
                                    href(code, &format!("stage={stage}")))) }
                            }
                            td.num { (linked(lang, count(&child.by_legal, "legal"),
                                href(code, "legal=true"))) }
                            td.hide-narrow {
                                (trusted(stacked_bar(
                                    &STAGES.iter().enumerate().map(|(i, stage)| {
                                        (count(&child.by_stage, stage), STAGE_COLOURS[i], stage_label(stage))
                                    }).collect::<Vec<_>>(),
                                    max,
                                    220,
                                    &format!("{}: {} KIM", child.name, child.total),
                                )))
                            }
                        }
                    }
                }
            }
        }
    }
}

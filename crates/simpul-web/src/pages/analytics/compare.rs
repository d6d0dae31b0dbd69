//! `/analitik/banding`: one measure for several regions side by side (`Reads::compare`, as
//! `GET /api/v1/analytics/compare`) — by default the children of the region chosen (a
//! province's kabupaten/kota, or every province nationally), at most 40 — as horizontal bars
//! with their 95 % intervals, sorted as asked.

use std::cmp::Ordering;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use simpul_app::progression::{Compared, Comparison, Metric, MAX_COMPARED};
use simpul_domain::RegionCode;
use simpul_http::AppState;

use super::chart::{self, Frame, GRID, INK, MARK, MUTED};
use super::{
    count_text, csv_download, download_link, known_in_scope, percent, provenance, region_param,
    region_select, respond, select, sub_nav, suppression_note, wants_csv, with_interval,
};
use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout::{number, trusted};
use crate::session::Visitor;
use crate::svg::escape;

const PATH: &str = "/analitik/banding";
/// The bars: 3.4:1 on white.
const BAR: &str = "#4292c6";

/// The form's fields.
#[derive(Deserialize, Default)]
pub struct Params {
    /// Compare this region's children (empty: the scope's).
    #[serde(default)]
    region: String,
    /// Or these regions, by code, separated by commas.
    #[serde(default)]
    regions: String,
    #[serde(default)]
    metric: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    format: String,
}

/// How the regions are ordered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    /// As listed (the directory's order, or the order asked).
    Listed,
    /// Largest figure first.
    Descending,
    /// Smallest figure first.
    Ascending,
    /// By name.
    Name,
}

impl Sort {
    fn parse(text: &str) -> Result<Self, WebError> {
        match text {
            "" => Ok(Sort::Listed),
            "desc" => Ok(Sort::Descending),
            "asc" => Ok(Sort::Ascending),
            "name" => Ok(Sort::Name),
            other => Err(WebError::bad_request(format!(
                "sort: `{other}` is not desc, asc or name"
            ))),
        }
    }

    fn apply(self, regions: &mut [Compared]) {
        // Regions without a figure go last, whatever the order.
        let by_value = |a: &Compared, b: &Compared, flip: bool| match (a.value, b.value) {
            (Some(x), Some(y)) if flip => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        match self {
            Sort::Listed => {}
            Sort::Descending => regions.sort_by(|a, b| by_value(a, b, true)),
            Sort::Ascending => regions.sort_by(|a, b| by_value(a, b, false)),
            Sort::Name => regions.sort_by(|a, b| a.name.cmp(&b.name)),
        }
    }
}

fn metric_param(text: &str) -> Result<Metric, WebError> {
    if text.is_empty() {
        return Ok(Metric::ShareKim3plus);
    }
    serde_json::from_value(Value::String(text.to_owned())).map_err(|_| {
        WebError::bad_request(format!(
            "metric: `{text}` is not median_days_kim1_kim2, share_kim3plus or legal_share"
        ))
    })
}

fn metric_code(metric: Metric) -> &'static str {
    match metric {
        Metric::MedianDaysKim1Kim2 => "median_days_kim1_kim2",
        Metric::ShareKim3plus => "share_kim3plus",
        Metric::LegalShare => "legal_share",
    }
}

fn metric_label(lang: Lang, metric: Metric) -> &'static str {
    match metric {
        Metric::MedianDaysKim1Kim2 => lang.tr(
            "Median hari dari pembentukan sampai KIM 2",
            "Median days from formation to KIM 2",
        ),
        Metric::ShareKim3plus => lang.tr(
            "Bagian KIM pada tahap 3 atau 4 (sekarang)",
            "Share of KIM at stage 3 or 4 (now)",
        ),
        Metric::LegalShare => lang.tr(
            "Bagian KIM berbadan legal: SK + nomor induk (sekarang)",
            "Share of KIM that are legal: SK + nomor induk (now)",
        ),
    }
}

/// `GET /analitik/banding`.
pub async fn compare(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    let region = region_param(&state, &visitor, &params.region)?;
    let csv = wants_csv(&params.format)?;
    let metric = metric_param(&params.metric)?;
    let sort = Sort::parse(&params.sort)?;
    let (codes, cut) = regions(&state, &visitor, region.as_ref(), &params.regions)?;
    let mut answer = state
        .reads
        .compare(&visitor.principal, &codes, metric)
        .await?;
    sort.apply(&mut answer.regions);
    if csv {
        let name = region.as_ref().map(RegionCode::as_str);
        return Ok(csv_download(answer.to_csv(), "perbandingan-wilayah", name));
    }
    let lang = visitor.lang;
    let caption = metric_label(lang, metric);
    let body = html! {
        (sub_nav(lang, PATH, region.as_ref()))
        form.filters method="get" action=(PATH) {
            (region_select(&state, &visitor, region.as_ref()))
            label {
                (lang.tr("Atau kode wilayah (dipisah koma)", "Or region codes (comma-separated)"))
                input type="text" name="regions" value=(params.regions) placeholder="34.01,34.02";
            }
            (select(lang.tr("Ukuran", "Measure"), "metric", &[
                ("share_kim3plus", metric_label(lang, Metric::ShareKim3plus).to_owned()),
                ("legal_share", metric_label(lang, Metric::LegalShare).to_owned()),
                ("median_days_kim1_kim2", metric_label(lang, Metric::MedianDaysKim1Kim2).to_owned()),
            ], metric_code(metric)))
            (select(lang.tr("Urutan", "Order"), "sort", &[
                ("", lang.tr("Urutan wilayah", "As listed").to_owned()),
                ("desc", lang.tr("Terbesar dulu", "Largest first").to_owned()),
                ("asc", lang.tr("Terkecil dulu", "Smallest first").to_owned()),
                ("name", lang.tr("Nama", "Name").to_owned()),
            ], &params.sort))
            button.primary type="submit" { (lang.tr("Tampilkan", "Show")) }
        }
        (provenance(lang, &answer.computed_at))
        (download_link(&visitor))
        @if cut {
            p.notice { (match lang {
                Lang::Id => format!("Wilayah ini punya lebih dari {MAX_COMPARED} wilayah di bawahnya: {MAX_COMPARED} yang pertama dibandingkan. Sebutkan kodenya untuk memilih yang lain."),
                Lang::En => format!("This region has more than {MAX_COMPARED} regions below it: the first {MAX_COMPARED} are compared. Name their codes to choose others."),
            }) }
        }
        figure.plot {
            figcaption { (caption) }
            div.chart-wrap role="region" aria-label=(caption) tabindex="0" {
                (trusted(bars(lang, &answer, caption)))
            }
        }
        (table(lang, &answer))
        (suppression_note(lang))
        p.footnote { (lang.tr(
            "Garis pada batang dan angka dalam kurung: selang kepercayaan 95 % (median: Brookmeyer–Crowley; bagian: Wilson). … : batasnya belum tercapai.",
            "The line on a bar and the figures in brackets: the 95 % confidence interval (median: Brookmeyer–Crowley; shares: Wilson). … : its bound has not been reached.")) }
    };
    Ok(respond(
        &visitor,
        lang.tr("Perbandingan wilayah", "Regions compared"),
        body,
    ))
}

/// The regions compared: those named (each known and inside the scope), else the children of
/// the region chosen (or of the scope; every province nationally), the first 40 of them —
/// and whether some were left out.
fn regions(
    state: &AppState,
    visitor: &Visitor,
    region: Option<&RegionCode>,
    named: &str,
) -> Result<(Vec<RegionCode>, bool), WebError> {
    if !named.trim().is_empty() {
        let codes = named
            .split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(|code| {
                let code = RegionCode::parse(code)
                    .map_err(|error| WebError::bad_request(format!("regions: {error}")))?;
                known_in_scope(state, &visitor.principal, &code)?;
                Ok(code)
            })
            .collect::<Result<Vec<_>, WebError>>()?;
        return Ok((codes, false));
    }
    let parent = region.or(visitor.principal.scope.region());
    let children: Vec<RegionCode> = match parent {
        Some(code) => state.regions.children(code),
        None => state.regions.provinces(),
    }
    .into_iter()
    .map(|child| child.code)
    .collect();
    if children.is_empty() {
        return Ok((parent.into_iter().cloned().collect(), false));
    }
    let cut = children.len() > MAX_COMPARED;
    Ok((children.into_iter().take(MAX_COMPARED).collect(), cut))
}

fn value_text(lang: Lang, metric: Metric, region: &Compared) -> String {
    let days = |d: f64| number(lang, d.round() as i64);
    match (metric, region.value) {
        (_, None) if !region.kim.shown() => lang.tr("< 5 KIM", "< 5 KIM").to_owned(),
        (Metric::MedianDaysKim1Kim2, None) => lang.tr("belum tercapai", "not reached").to_owned(),
        (_, None) => "< 5".to_owned(),
        (Metric::MedianDaysKim1Kim2, Some(value)) => with_interval(
            days(value),
            Some(region.lower.map_or("…".to_owned(), days)),
            Some(region.upper.map_or("…".to_owned(), days)),
        ),
        (_, Some(value)) => with_interval(
            percent(value),
            region.lower.map(percent),
            region.upper.map(percent),
        ),
    }
}

fn table(lang: Lang, answer: &Comparison) -> Markup {
    html! {
        div.table-wrap {
            table.compare {
                thead { tr {
                    th scope="col" { (lang.tr("Wilayah", "Region")) }
                    th.hide-narrow scope="col" { (lang.tr("Kode", "Code")) }
                    th.num scope="col" { "KIM" }
                    th.num scope="col" { (lang.tr("Nilai (95 %)", "Value (95 %)")) }
                } }
                tbody {
                    @for region in &answer.regions {
                        tr {
                            th scope="row" { a href={ "/wilayah/" (region.region) } { (region.name) } }
                            td.hide-narrow { (region.region) }
                            td.num { (count_text(lang, &region.kim)) }
                            td.num { (value_text(lang, answer.metric, region)) }
                        }
                    }
                }
            }
        }
    }
}

/// A name cut to fit the label column.
fn short(name: &str, chars: usize) -> String {
    if name.chars().count() <= chars {
        return name.to_owned();
    }
    let kept: String = name.chars().take(chars - 1).collect();
    format!("{kept}…")
}

/// One bar per region from 0 to its figure, with its interval as a line across the bar's end.
fn bars(lang: Lang, answer: &Comparison, title: &str) -> String {
    let row_height = 22.0;
    let frame = Frame {
        width: 720.0,
        height: 10.0 + row_height * answer.regions.len().max(1) as f64 + 30.0,
        left: 200.0,
        right: 160.0,
        top: 10.0,
        bottom: 30.0,
    };
    let share = answer.metric != Metric::MedianDaysKim1Kim2;
    let (max, step) = if share {
        (1.0, 0.25)
    } else {
        let top = answer
            .regions
            .iter()
            .flat_map(|r| [r.value, r.upper])
            .flatten()
            .fold(0.0, f64::max);
        let step = chart::nice_step(top, 4.0);
        ((top / step).ceil().max(1.0) * step, step)
    };
    let mut svg = frame.open("bars", title);
    let mut tick = 0.0;
    while tick <= max + step * 1e-9 {
        let x = frame.x(tick / max);
        chart::line(&mut svg, (x, frame.top), (x, frame.base()), GRID, 1.0);
        let label = if share {
            percent(tick)
        } else {
            number(lang, tick as i64)
        };
        chart::text(&mut svg, x, frame.base() + 16.0, "middle", MUTED, &label);
        tick += step;
    }
    for (i, region) in answer.regions.iter().enumerate() {
        let y = frame.top + row_height * i as f64;
        let middle = y + row_height / 2.0;
        chart::text(
            &mut svg,
            frame.left - 8.0,
            middle + 4.0,
            "end",
            INK,
            &short(&region.name, 26),
        );
        let text = value_text(lang, answer.metric, region);
        if let Some(value) = region.value {
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{BAR}"><title>{}: {}</title></rect>"#,
                frame.left,
                y + 4.0,
                frame.x(value / max) - frame.left,
                row_height - 8.0,
                escape(&region.name),
                escape(&text)
            );
            if let (Some(lower), Some(upper)) = (region.lower, region.upper) {
                let (x1, x2) = (frame.x(lower / max), frame.x(upper / max));
                let _ = write!(
                    svg,
                    r#"<path d="M{x1:.1} {middle:.1} H{x2:.1} M{x1:.1} {:.1} V{:.1} M{x2:.1} {:.1} V{:.1}" stroke="{INK}" stroke-width="1.5" fill="none"/>"#,
                    middle - 5.0,
                    middle + 5.0,
                    middle - 5.0,
                    middle + 5.0
                );
            }
        }
        let fill = if region.value.is_some() { INK } else { MUTED };
        chart::text(
            &mut svg,
            frame.width - frame.right + 10.0,
            middle + 4.0,
            "start",
            fill,
            &text,
        );
    }
    let _ = write!(
        svg,
        r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{MARK}" stroke-width="1"/>"#,
        frame.left,
        frame.top,
        frame.base()
    );
    chart::line(
        &mut svg,
        (frame.left, frame.base()),
        (frame.width - frame.right, frame.base()),
        MUTED,
        1.0,
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use simpul_app::progression::Count;

    fn region(name: &str, value: Option<f64>) -> Compared {
        Compared {
            region: name.to_owned(),
            name: name.to_owned(),
            kim: Count::Value(10),
            value,
            lower: None,
            upper: None,
        }
    }

    #[test]
    fn sorting_puts_regions_without_a_figure_last() {
        let mut regions = vec![
            region("b", Some(0.2)),
            region("a", None),
            region("c", Some(0.5)),
        ];
        Sort::Descending.apply(&mut regions);
        let names: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["c", "b", "a"]);
        Sort::Ascending.apply(&mut regions);
        let names: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "a"]);
        Sort::Name.apply(&mut regions);
        assert_eq!(regions[0].name, "a");
        assert!(Sort::parse("random").is_err());
    }

    #[test]
    fn long_names_are_cut() {
        assert_eq!(short("Kabupaten Sleman", 26), "Kabupaten Sleman");
        assert_eq!(
            short("Kabupaten Administrasi Kepulauan Seribu", 12),
            "Kabupaten A…"
        );
    }
}

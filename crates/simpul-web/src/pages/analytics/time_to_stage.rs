//! `/analitik/waktu`: the Kaplan–Meier time from one stage to a later one
//! (`Reads::time_to_stage`, as `GET /api/v1/analytics/time-to-stage`) — the share reached by
//! each day as a step chart with its 95 % band, one line per cohort, the medians and quartiles
//! with their intervals, and the number at risk.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use simpul_app::progression::{CurvePoint, Days, StageCurve, TimeToStage, TimeToStageQuery};
use simpul_domain::Stage;
use simpul_http::AppState;
use simpul_projections::stage_transitions::progress::Cohort;

use super::chart::{self, Frame, BAND, GRID, INK, MUTED, SERIES};
use super::{
    count_text, csv_download, date_param, download_link, method, percent, provenance, region_param,
    region_select, respond, select, stage_param, sub_nav, suppression_note, wants_csv,
    with_interval,
};
use crate::error::WebError;
use crate::i18n::{stage_label, Lang};
use crate::layout::{number, trusted};
use crate::session::Visitor;

const PATH: &str = "/analitik/waktu";
/// At most this many cohorts get a line (all are in the table).
const MAX_LINES: usize = 8;

/// The form's fields (empty: the read's default).
#[derive(Deserialize, Default)]
pub struct Params {
    #[serde(default)]
    region: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cohort: String,
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    format: String,
}

/// `GET /analitik/waktu`.
pub async fn time_to_stage(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    let region = region_param(&state, &visitor, &params.region)?;
    let csv = wants_csv(&params.format)?;
    let cohort = match params.cohort.as_str() {
        "" | "none" => Cohort::None,
        "year" => Cohort::Year,
        "quarter" => Cohort::Quarter,
        other => {
            return Err(WebError::bad_request(format!(
                "cohort: `{other}` is not none, year or quarter"
            )))
        }
    };
    let query = TimeToStageQuery {
        region: region.clone(),
        from: stage_param("from", &params.from)?.unwrap_or(Stage::Kim1),
        to: stage_param("to", &params.to)?.unwrap_or(Stage::Kim2),
        cohort,
        as_of: date_param("as_of", &params.as_of)?,
    };
    let answer = state.reads.time_to_stage(&visitor.principal, query).await?;
    if csv {
        return Ok(csv_download(
            answer.to_csv(),
            "waktu-ke-tahap",
            answer.region.as_deref(),
        ));
    }
    let lang = visitor.lang;
    let (from, to) = (
        stage_label(answer.from.as_str()),
        stage_label(answer.to.as_str()),
    );
    let drawable: Vec<&StageCurve> = answer
        .cohorts
        .iter()
        .filter(|c| !c.curve.is_empty())
        .collect();
    let lines = &drawable[drawable.len().saturating_sub(MAX_LINES)..];
    let caption = format!(
        "{from} → {to}: {}",
        match lang {
            Lang::Id =>
                format!("bagian KIM yang sudah mencapai {to}, menurut hari sejak masuk {from}"),
            Lang::En =>
                format!("share of KIM that had reached {to}, by days since entering {from}"),
        }
    );
    let stage_options = |stages: &[Stage]| -> Vec<(&'static str, String)> {
        stages
            .iter()
            .map(|s| (s.as_str(), stage_label(s.as_str())))
            .collect()
    };
    let body = html! {
        (sub_nav(lang, PATH, region.as_ref()))
        form.filters method="get" action=(PATH) {
            (region_select(&state, &visitor, region.as_ref()))
            (select(lang.tr("Dari tahap", "From stage"), "from",
                &stage_options(&[Stage::Kim1, Stage::Kim2, Stage::Kim3]), answer.from.as_str()))
            (select(lang.tr("Sampai tahap", "To stage"), "to",
                &stage_options(&[Stage::Kim2, Stage::Kim3, Stage::Kim4]), answer.to.as_str()))
            (select(lang.tr("Angkatan", "Cohorts"), "cohort", &[
                ("", lang.tr("Tanpa angkatan", "None").to_owned()),
                ("year", lang.tr("Per tahun pembentukan", "By formation year").to_owned()),
                ("quarter", lang.tr("Per triwulan pembentukan", "By formation quarter").to_owned()),
            ], &params.cohort))
            label {
                (lang.tr("Per tanggal (kosong: hari ini)", "As of (empty: today)"))
                input type="date" name="as_of" value=(params.as_of);
            }
            button.primary type="submit" { (lang.tr("Tampilkan", "Show")) }
        }
        (provenance(lang, &answer.computed_at))
        (download_link(&visitor))
        @if answer.overall.suppressed {
            p.notice { (lang.tr(
                "Kurang dari 5 KIM di wilayah ini: tidak ada perkiraan yang diterbitkan.",
                "Fewer than 5 KIM in this region: no estimate is published.")) }
        } @else {
            figure.plot {
                figcaption { (caption) }
                div.chart-wrap role="region" aria-label=(caption) tabindex="0" {
                    (trusted(curve_chart(lang, &answer, lines, &caption)))
                }
                (legend(lang, lines))
                @if drawable.len() > lines.len() {
                    p.footnote { (match lang {
                        Lang::Id => format!("Grafik memuat {} angkatan terbaru; semua angkatan ada di tabel.", lines.len()),
                        Lang::En => format!("The chart draws the {} latest cohorts; every cohort is in the table.", lines.len()),
                    }) }
                }
            }
        }
        @if !answer.overall.suppressed {
            h2 { (lang.tr("Jumlah berisiko", "Number at risk")) }
            (at_risk_table(lang, &answer.overall))
        }
        p.explain { (lang.tr(
            "KIM yang belum mencapai tahap tujuan pada tanggal itu (atau dibubarkan lebih dulu) disensor: waktunya dihitung sampai tanggal itu, sehingga KIM yang masih menunggu tetap ikut dihitung tanpa dianggap sudah atau tidak akan mencapainya.",
            "A KIM that has not reached the target stage by that date (or was dissolved first) is censored: its time counts up to that date, so KIM still waiting stay in the estimate without being counted as having reached it or as never reaching it.")) }
        h2 { (lang.tr("Median dan kuartil (hari)", "Median and quartiles (days)")) }
        (groups_table(lang, &answer))
        @if !answer.overall.suppressed {
            details {
                summary { (lang.tr("Angka grafik", "The chart's figures")) }
                (curve_table(lang, &answer.overall, lines))
            }
        }
        (method(lang, answer.method))
        (suppression_note(lang))
        p.footnote { (lang.tr(
            "Angka dalam kurung: selang kepercayaan 95 %; … : batasnya belum tercapai.",
            "In brackets: the 95 % confidence interval; … : its bound has not been reached.")) }
    };
    Ok(respond(
        &visitor,
        lang.tr("Waktu menuju tahap", "Time to stage"),
        body,
    ))
}

/// The group's name in the tables and legend.
fn group_label(lang: Lang, curve: &StageCurve) -> String {
    match &curve.cohort {
        Some(cohort) => cohort.clone(),
        None => lang.tr("Semua KIM", "Every KIM").to_owned(),
    }
}

/// `days (lower–upper)`, "belum tercapai" when the quantile has not been reached.
fn days_text(lang: Lang, days: Option<&Days>) -> String {
    match days.and_then(|d| d.days.map(|value| (value, d))) {
        None => lang.tr("belum tercapai", "not reached").to_owned(),
        Some((value, d)) => {
            let bound =
                |b: Option<u32>| Some(b.map_or("…".to_owned(), |b| number(lang, i64::from(b))));
            with_interval(
                number(lang, i64::from(value)),
                bound(d.lower),
                bound(d.upper),
            )
        }
    }
}

fn groups_table(lang: Lang, answer: &TimeToStage) -> Markup {
    let rows: Vec<&StageCurve> = std::iter::once(&answer.overall)
        .chain(&answer.cohorts)
        .collect();
    html! {
        div.table-wrap role="region" tabindex="0"
            aria-label=(lang.tr("Median dan kuartil (hari)", "Median and quartiles (days)")) {
            table.groups {
                thead { tr {
                    th scope="col" { (lang.tr("Kelompok", "Group")) }
                    th.num scope="col" { "KIM" }
                    th.num scope="col" { (lang.tr("Tercapai", "Reached")) }
                    th.num scope="col" { (lang.tr("Disensor", "Censored")) }
                    th.num scope="col" { "Median" }
                    th.num scope="col" { (lang.tr("Kuartil 1", "Quartile 1")) }
                    th.num scope="col" { (lang.tr("Kuartil 3", "Quartile 3")) }
                } }
                tbody {
                    @for curve in rows {
                        tr {
                            th scope="row" { (group_label(lang, curve)) }
                            td.num { (count_text(lang, &curve.kim)) }
                            td.num { (count_text(lang, &curve.reached)) }
                            td.num { (count_text(lang, &curve.censored)) }
                            @if curve.suppressed {
                                td.num.median colspan="3" { (lang.tr("tidak diterbitkan (< 5 KIM)", "not published (< 5 KIM)")) }
                            } @else {
                                td.num.median { (days_text(lang, curve.median.as_ref())) }
                                td.num { (days_text(lang, curve.q1.as_ref())) }
                                td.num { (days_text(lang, curve.q3.as_ref())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn at_risk_table(lang: Lang, curve: &StageCurve) -> Markup {
    let interval = |from: u32, to: Option<u32>| match to {
        Some(to) => format!(
            "{}–{}",
            number(lang, i64::from(from)),
            number(lang, i64::from(to))
        ),
        None => format!("≥ {}", number(lang, i64::from(from))),
    };
    html! {
        div.table-wrap role="region" aria-label=(lang.tr("Jumlah berisiko", "Number at risk")) tabindex="0" {
            table.at-risk {
                thead { tr {
                    th scope="col" { (lang.tr("Hari", "Days")) }
                    @for row in &curve.at_risk { th.num scope="col" { (interval(row.from_day, row.to_day)) } }
                } }
                tbody {
                    tr { th scope="row" { (lang.tr("Berisiko di awal", "At risk at the start")) }
                        @for row in &curve.at_risk { td.num { (count_text(lang, &row.at_risk)) } } }
                    tr { th scope="row" { (lang.tr("Tercapai", "Reached")) }
                        @for row in &curve.at_risk { td.num { (count_text(lang, &row.reached)) } } }
                    tr { th scope="row" { (lang.tr("Disensor", "Censored")) }
                        @for row in &curve.at_risk { td.num { (count_text(lang, &row.censored)) } } }
                }
            }
        }
    }
}

fn point_text(point: &CurvePoint) -> String {
    with_interval(
        percent(point.reached),
        point.lower.map(percent),
        point.upper.map(percent),
    )
}

/// Every point of the lines drawn, by day: the chart as a table.
fn curve_table(lang: Lang, overall: &StageCurve, lines: &[&StageCurve]) -> Markup {
    let groups: Vec<&StageCurve> = std::iter::once(overall)
        .chain(lines.iter().copied())
        .collect();
    let days: BTreeSet<u32> = groups
        .iter()
        .flat_map(|g| g.curve.iter().map(|p| p.day))
        .collect();
    html! {
        div.table-wrap role="region" aria-label=(lang.tr("Angka grafik", "The chart's figures")) tabindex="0" {
            table {
                thead { tr {
                    th.num scope="col" { (lang.tr("Hari", "Day")) }
                    @for group in &groups { th.num scope="col" { (group_label(lang, group)) } }
                } }
                tbody {
                    @for day in &days {
                        tr {
                            th.num scope="row" { (number(lang, i64::from(*day))) }
                            @for group in &groups {
                                td.num { (group.curve.iter().find(|p| p.day == *day).map(point_text).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A line's swatch for the legend.
fn line_swatch(colour: &str, width: f64, dash: Option<&str>) -> String {
    let dash = dash
        .map(|d| format!(r#" stroke-dasharray="{d}""#))
        .unwrap_or_default();
    format!(
        r#"<svg class="sw" width="22" height="12" aria-hidden="true"><line x1="0" y1="6" x2="22" y2="6" stroke="{colour}" stroke-width="{width}"{dash}/></svg>"#
    )
}

fn legend(lang: Lang, lines: &[&StageCurve]) -> Markup {
    html! {
        ul.legend aria-label=(lang.tr("Keterangan", "Key")) {
            li { (trusted(line_swatch(INK, 3.0, None))) (lang.tr("Semua KIM", "Every KIM")) }
            li { (trusted(format!(r#"<svg class="sw" width="22" height="12" aria-hidden="true"><rect width="22" height="12" fill="{BAND}"/></svg>"#)))
                (lang.tr("selang 95 % (semua KIM)", "95 % interval (every KIM)")) }
            @for (i, line) in lines.iter().enumerate() {
                li { (trusted(line_swatch(SERIES[i % SERIES.len()], 2.0, chart::dash(i)))) (group_label(lang, line)) }
            }
        }
    }
}

/// The x-axis step in days: at most eight ticks, at whole months, quarters, half-years or years.
fn day_step(max_day: f64) -> f64 {
    [30.0, 60.0, 90.0, 180.0, 365.0, 730.0, 1461.0]
        .into_iter()
        .find(|step| max_day / step <= 8.0)
        .unwrap_or(1826.0)
}

/// The steps of `points` (value chosen by `value`) as SVG coordinates: flat until the next day.
fn steps(
    frame: &Frame,
    max_day: f64,
    points: &[CurvePoint],
    value: impl Fn(&CurvePoint) -> f64,
) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (i, point) in points.iter().enumerate() {
        let y = frame.y(value(point));
        out.push((frame.x(f64::from(point.day) / max_day), y));
        if let Some(next) = points.get(i + 1) {
            out.push((frame.x(f64::from(next.day) / max_day), y));
        }
    }
    out
}

fn path(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { " L" });
    }
    d
}

/// The step chart: the overall share reached with its band, and one line per cohort drawn.
fn curve_chart(lang: Lang, answer: &TimeToStage, lines: &[&StageCurve], title: &str) -> String {
    let frame = Frame {
        width: 720.0,
        height: 330.0,
        left: 56.0,
        right: 18.0,
        top: 12.0,
        bottom: 46.0,
    };
    let max_day = std::iter::once(&answer.overall)
        .chain(lines.iter().copied())
        .filter_map(|c| c.curve.last().map(|p| f64::from(p.day)))
        .fold(30.0, f64::max);
    let mut svg = frame.open("curve", title);
    for quarter in 0..=4 {
        let share = f64::from(quarter) / 4.0;
        let y = frame.y(share);
        chart::line(
            &mut svg,
            (frame.left, y),
            (frame.width - frame.right, y),
            GRID,
            1.0,
        );
        chart::text(
            &mut svg,
            frame.left - 6.0,
            y + 4.0,
            "end",
            MUTED,
            &percent(share),
        );
    }
    let step = day_step(max_day);
    let mut day = 0.0;
    while day <= max_day {
        let x = frame.x(day / max_day);
        chart::line(
            &mut svg,
            (x, frame.base()),
            (x, frame.base() + 4.0),
            MUTED,
            1.0,
        );
        chart::text(
            &mut svg,
            x,
            frame.base() + 18.0,
            "middle",
            MUTED,
            &number(lang, day as i64),
        );
        day += step;
    }
    let from = stage_label(answer.from.as_str());
    let axis = match lang {
        Lang::Id if answer.from == Stage::Kim1 => "hari sejak pembentukan (KIM 1)".to_owned(),
        Lang::Id => format!("hari sejak masuk {from}"),
        Lang::En if answer.from == Stage::Kim1 => "days since formation (KIM 1)".to_owned(),
        Lang::En => format!("days since entering {from}"),
    };
    // At the left, where a phone that scrolls the chart sideways shows it.
    chart::text(
        &mut svg,
        frame.left,
        frame.height - 6.0,
        "start",
        INK,
        &axis,
    );
    let overall = &answer.overall.curve;
    let upper = steps(&frame, max_day, overall, |p| p.upper.unwrap_or(p.reached));
    let mut band = steps(&frame, max_day, overall, |p| p.lower.unwrap_or(p.reached));
    band.reverse();
    let polygon: Vec<String> = upper
        .iter()
        .chain(&band)
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let _ = write!(
        svg,
        r#"<polygon points="{}" fill="{BAND}"><title>{}</title></polygon>"#,
        polygon.join(" "),
        crate::svg::escape(lang.tr("selang 95 % (semua KIM)", "95 % interval (every KIM)"))
    );
    for (i, line) in lines.iter().enumerate() {
        let dash = chart::dash(i)
            .map(|d| format!(r#" stroke-dasharray="{d}""#))
            .unwrap_or_default();
        let _ = write!(
            svg,
            r#"<path d="{}" fill="none" stroke="{}" stroke-width="2"{dash}><title>{}</title></path>"#,
            path(&steps(&frame, max_day, &line.curve, |p| p.reached)),
            SERIES[i % SERIES.len()],
            crate::svg::escape(&group_label(lang, line)),
        );
    }
    let _ = write!(
        svg,
        r#"<path d="{}" fill="none" stroke="{INK}" stroke-width="3"><title>{}</title></path>"#,
        path(&steps(&frame, max_day, overall, |p| p.reached)),
        crate::svg::escape(lang.tr("Semua KIM", "Every KIM")),
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

    fn point(day: u32, reached: f64) -> CurvePoint {
        CurvePoint {
            day,
            reached,
            lower: None,
            upper: None,
        }
    }

    #[test]
    fn a_curve_is_flat_until_the_next_point() {
        let frame = Frame {
            width: 110.0,
            height: 110.0,
            left: 10.0,
            right: 0.0,
            top: 10.0,
            bottom: 0.0,
        };
        let points = [point(0, 0.0), point(50, 0.5), point(100, 1.0)];
        let drawn = steps(&frame, 100.0, &points, |p| p.reached);
        assert_eq!(
            drawn,
            [
                (10.0, 110.0),
                (60.0, 110.0),
                (60.0, 60.0),
                (110.0, 60.0),
                (110.0, 10.0)
            ]
        );
        assert_eq!(path(&drawn[..2]), "M10.0 110.0 L60.0 110.0");
    }

    #[test]
    fn quantiles_not_reached_say_so() {
        assert_eq!(days_text(Lang::Id, None), "belum tercapai");
        let open = Days {
            days: Some(1200),
            lower: Some(900),
            upper: None,
        };
        assert_eq!(days_text(Lang::Id, Some(&open)), "1.200 (900–…)");
        assert_eq!(days_text(Lang::En, Some(&open)), "1,200 (900–…)");
    }
}

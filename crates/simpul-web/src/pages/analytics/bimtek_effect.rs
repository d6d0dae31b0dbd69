//! `/analitik/bimtek`: advances to the next stage per KIM-year in the window after a bimtek
//! against other time (`Reads::bimtek_effect`, as `GET /api/v1/analytics/bimtek-effect`) — a
//! forest plot of the rate ratios with their exact 95 % intervals, and the counts behind them.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use simpul_app::progression::{BimtekEffect, Effect, RateFigure};
use simpul_http::AppState;

use super::chart::{self, Frame, GRID, INK, MARK, MUTED};
use super::{
    count_text, csv_download, date_param, decimal, download_link, method, provenance, region_param,
    region_select, respond, sub_nav, suppression_note, wants_csv, with_interval,
};
use crate::error::WebError;
use crate::i18n::{stage_label, Lang};
use crate::layout::{number, trusted};
use crate::session::Visitor;

const PATH: &str = "/analitik/bimtek";

/// The form's fields.
#[derive(Deserialize, Default)]
pub struct Params {
    #[serde(default)]
    region: String,
    #[serde(default)]
    window_days: String,
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    format: String,
}

/// `GET /analitik/bimtek`.
pub async fn bimtek_effect(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    let region = region_param(&state, &visitor, &params.region)?;
    let csv = wants_csv(&params.format)?;
    let window_days = match params.window_days.trim() {
        "" => 180,
        text => text.parse().map_err(|_| {
            WebError::bad_request(format!("window_days: `{text}` is not a number of days"))
        })?,
    };
    let as_of = date_param("as_of", &params.as_of)?;
    let answer = state
        .reads
        .bimtek_effect(&visitor.principal, region.as_ref(), window_days, as_of)
        .await?;
    if csv {
        return Ok(csv_download(
            answer.to_csv(),
            "efek-bimtek",
            answer.region.as_deref(),
        ));
    }
    let lang = visitor.lang;
    let rows = forest_rows(lang, &answer);
    let caption = match lang {
        Lang::Id => format!(
            "Rasio laju kenaikan tahap: {} hari setelah bimtek dibanding waktu lain, dan menurut jumlah bimtek yang sudah diikuti",
            answer.window_days
        ),
        Lang::En => format!(
            "Rate ratio of stage advances: {} days after a bimtek against other time, and by the number of bimtek attended",
            answer.window_days
        ),
    };
    let body = html! {
        (sub_nav(lang, PATH, region.as_ref()))
        form.filters method="get" action=(PATH) {
            (region_select(&state, &visitor, region.as_ref()))
            label {
                (lang.tr("Jendela setelah bimtek (hari)", "Window after a bimtek (days)"))
                input type="number" name="window_days" min="1" max="3650" value=(answer.window_days);
            }
            label {
                (lang.tr("Per tanggal (kosong: hari ini)", "As of (empty: today)"))
                input type="date" name="as_of" value=(params.as_of);
            }
            button.primary type="submit" { (lang.tr("Tampilkan", "Show")) }
        }
        (provenance(lang, &answer.computed_at))
        (download_link(&visitor))
        p.explain { (lang.tr(
            "Yang dibandingkan adalah waktu, bukan KIM: setiap hari sebuah KIM berada di KIM 1, 2 atau 3 dihitung sebagai \"setelah bimtek\" bila jatuh dalam jendela sesudah bimtek yang diikutinya, selain itu \"waktu lain\". Rasio di atas 1: KIM lebih cepat naik tahap setelah bimtek.",
            "Time is compared, not KIM: each day a KIM spends at KIM 1, 2 or 3 counts as \"after a bimtek\" when it falls in the window after one it attended, else as \"other time\". A ratio above 1: KIM advance faster after a bimtek.")) }
        p.notice { (lang.tr(
            "Ini perbandingan pengamatan, bukan uji coba: KIM yang rajin ikut bimtek juga lebih aktif dalam hal lain. Rasio menunjukkan keterkaitan, bukan sebab.",
            "This is an observational comparison, not a trial: KIM that attend bimtek are also more engaged otherwise. The ratio shows an association, not a cause.")) }
        p { (lang.tr("KIM dengan waktu di KIM 1–3: ", "KIM with time at KIM 1–3: ")) strong { (count_text(lang, &answer.kim)) } }
        figure.plot {
            figcaption { (caption) }
            div.chart-wrap role="region" aria-label=(caption) tabindex="0" {
                (trusted(forest(lang, &rows, &caption)))
            }
        }
        h2 { (lang.tr("Setelah bimtek dibanding waktu lain", "After a bimtek against other time")) }
        (effects_table(lang, &answer))
        h2 { (lang.tr("Menurut jumlah bimtek yang sudah diikuti", "By the number of bimtek attended")) }
        (counts_table(lang, &answer))
        (method(lang, answer.method))
        (suppression_note(lang))
        p.footnote { (lang.tr(
            "Laju: kenaikan tahap per KIM-tahun. Angka dalam kurung: selang kepercayaan 95 % (eksak bersyarat). Laju dan rasio yang bertumpu pada kurang dari 5 kenaikan tidak diterbitkan (—).",
            "Rate: stage advances per KIM-year. In brackets: the 95 % confidence interval (exact conditional). Rates and ratios resting on fewer than 5 advances are not published (—).")) }
    };
    Ok(respond(
        &visitor,
        lang.tr("Efek bimtek", "Bimtek effect"),
        body,
    ))
}

/// One line of the forest plot: a label, or a label with its ratio and interval.
struct Row {
    label: String,
    heading: bool,
    ratio: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
}

fn effect_label(lang: Lang, effect: &Effect) -> String {
    match effect
        .from
        .and_then(|from| from.next().map(|to| (from, to)))
    {
        Some((from, to)) => format!(
            "{} → {}",
            stage_label(from.as_str()),
            stage_label(to.as_str())
        ),
        None => lang.tr("Semua tahap", "Every stage").to_owned(),
    }
}

fn level_label(lang: Lang, level: &str) -> String {
    match lang {
        Lang::Id => format!("{level} bimtek"),
        Lang::En if level == "1" => "1 bimtek".to_owned(),
        Lang::En => format!("{level} bimtek"),
    }
}

fn forest_rows(lang: Lang, answer: &BimtekEffect) -> Vec<Row> {
    let heading = |label: String| Row {
        label,
        heading: true,
        ratio: None,
        lower: None,
        upper: None,
    };
    let mut rows = vec![heading(match lang {
        Lang::Id => format!("≤ {} hari setelah bimtek vs waktu lain", answer.window_days),
        Lang::En => format!("≤ {} days after a bimtek vs other time", answer.window_days),
    })];
    for effect in std::iter::once(&answer.overall).chain(&answer.by_stage) {
        rows.push(Row {
            label: effect_label(lang, effect),
            heading: false,
            ratio: effect.rate_ratio,
            lower: effect.lower,
            upper: effect.upper,
        });
    }
    rows.push(heading(
        lang.tr(
            "Jumlah bimtek vs belum pernah",
            "Bimtek attended vs none yet",
        )
        .to_owned(),
    ));
    for level in answer.by_bimtek_count.iter().filter(|l| l.bimtek != "0") {
        rows.push(Row {
            label: level_label(lang, &level.bimtek),
            heading: false,
            ratio: level.rate_ratio,
            lower: level.lower,
            upper: level.upper,
        });
    }
    rows
}

fn ratio_text(lang: Lang, ratio: Option<f64>, lower: Option<f64>, upper: Option<f64>) -> String {
    match ratio {
        None => "—".to_owned(),
        Some(ratio) => with_interval(
            decimal(lang, ratio, 2),
            lower.map(|l| decimal(lang, l, 2)),
            upper.map(|u| decimal(lang, u, 2)),
        ),
    }
}

/// The ratio axis: logarithmic, from a little below the smallest bound to a little above the
/// largest, always with 1 in it, within 0.05–20.
fn domain(rows: &[Row]) -> (f64, f64) {
    let bounds = rows
        .iter()
        .flat_map(|r| [r.lower, r.ratio, r.upper])
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (low, high) = bounds.fold((1.0_f64, 1.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    ((low / 1.25).max(0.05), (high * 1.25).min(20.0))
}

/// Ticks inside the domain: round ratios, thinned when the domain is wide.
fn ticks(low: f64, high: f64) -> Vec<f64> {
    let fine = [
        0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0,
    ];
    let coarse = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0];
    let inside = |set: &[f64]| -> Vec<f64> {
        set.iter()
            .copied()
            .filter(|t| *t >= low && *t <= high)
            .collect()
    };
    let ticks = inside(&fine);
    if ticks.len() > 7 {
        inside(&coarse)
    } else {
        ticks
    }
}

/// The forest plot: each ratio a square on a log axis with its interval, a line at 1.
fn forest(lang: Lang, rows: &[Row], title: &str) -> String {
    let row_height = 26.0;
    let frame = Frame {
        width: 660.0,
        height: 24.0 + row_height * rows.len() as f64 + 52.0,
        left: 170.0,
        right: 170.0,
        top: 16.0,
        bottom: 52.0,
    };
    let (low, high) = domain(rows);
    let span = (high / low).ln();
    let x = |value: f64| frame.x((value.clamp(low, high) / low).ln() / span);
    let mut svg = frame.open("forest", title);
    for tick in ticks(low, high) {
        let at = x(tick);
        chart::line(&mut svg, (at, frame.top), (at, frame.base()), GRID, 1.0);
        let places = if tick < 1.0 && (tick * 10.0).fract() != 0.0 {
            2
        } else if tick.fract() != 0.0 {
            1
        } else {
            0
        };
        chart::text(
            &mut svg,
            at,
            frame.base() + 16.0,
            "middle",
            MUTED,
            &decimal(lang, tick, places),
        );
    }
    let one = x(1.0);
    let _ = write!(
        svg,
        r#"<line x1="{one:.1}" y1="{:.1}" x2="{one:.1}" y2="{:.1}" stroke="{INK}" stroke-width="1.5" stroke-dasharray="4 3"/>"#,
        frame.top - 6.0,
        frame.base()
    );
    chart::text(
        &mut svg,
        frame.width - frame.right + 12.0,
        frame.top - 2.0,
        "start",
        MUTED,
        lang.tr("rasio (95 %)", "ratio (95 %)"),
    );
    for (i, row) in rows.iter().enumerate() {
        let y = frame.top + row_height * (i as f64 + 0.6);
        if row.heading {
            let _ = write!(
                svg,
                r##"<text x="4" y="{y:.1}" font-weight="600" fill="{INK}" stroke="#ffffff" stroke-width="4" paint-order="stroke">{}</text>"##,
                crate::svg::escape(&row.label)
            );
            continue;
        }
        chart::text(&mut svg, 16.0, y, "start", INK, &row.label);
        let text = ratio_text(lang, row.ratio, row.lower, row.upper);
        match row.ratio {
            Some(ratio) => {
                if let (Some(lower), Some(upper)) = (row.lower, row.upper) {
                    let (x1, x2) = (x(lower), x(upper));
                    let _ = write!(
                        svg,
                        r#"<path d="M{x1:.1} {0:.1} H{x2:.1} M{x1:.1} {1:.1} V{2:.1} M{x2:.1} {1:.1} V{2:.1}" stroke="{INK}" stroke-width="1.5" fill="none"/>"#,
                        y - 4.0,
                        y - 8.0,
                        y
                    );
                }
                let _ = write!(
                    svg,
                    r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{MARK}"><title>{}: {}</title></rect>"#,
                    x(ratio) - 5.0,
                    y - 9.0,
                    crate::svg::escape(&row.label),
                    crate::svg::escape(&text)
                );
                chart::text(
                    &mut svg,
                    frame.width - frame.right + 12.0,
                    y,
                    "start",
                    INK,
                    &text,
                );
            }
            None => chart::text(
                &mut svg,
                frame.width - frame.right + 12.0,
                y,
                "start",
                MUTED,
                lang.tr("— data kurang", "— too few data"),
            ),
        }
    }
    chart::line(
        &mut svg,
        (frame.left, frame.base()),
        (frame.width - frame.right, frame.base()),
        MUTED,
        1.0,
    );
    chart::text(
        &mut svg,
        one - 8.0,
        frame.base() + 36.0,
        "end",
        MUTED,
        lang.tr("◀ lebih lambat", "◀ slower"),
    );
    chart::text(
        &mut svg,
        one + 8.0,
        frame.base() + 36.0,
        "start",
        MUTED,
        lang.tr("lebih cepat ▶", "faster ▶"),
    );
    svg.push_str("</svg>");
    svg
}

fn rate_cells(lang: Lang, rate: &RateFigure) -> Markup {
    html! {
        td.num { (number(lang, i64::try_from(rate.kim_days).unwrap_or(i64::MAX))) }
        td.num { (count_text(lang, &rate.advances)) }
        td.num { (rate.per_kim_year.map_or("—".to_owned(), |r| decimal(lang, r, 2))) }
    }
}

fn effects_table(lang: Lang, answer: &BimtekEffect) -> Markup {
    html! {
        div.table-wrap role="region" tabindex="0"
            aria-label=(lang.tr("Setelah bimtek dibanding waktu lain", "After a bimtek against other time")) {
            table.effects {
                thead {
                    tr {
                        th scope="col" rowspan="2" { (lang.tr("Tahap", "Stage")) }
                        th scope="colgroup" colspan="3" { (lang.tr("Setelah bimtek", "After a bimtek")) }
                        th scope="colgroup" colspan="3" { (lang.tr("Waktu lain", "Other time")) }
                        th.num scope="col" rowspan="2" { (lang.tr("Rasio laju (95 %)", "Rate ratio (95 %)")) }
                    }
                    tr {
                        @for _ in 0..2 {
                            th.num scope="col" { (lang.tr("Hari-KIM", "KIM-days")) }
                            th.num scope="col" { (lang.tr("Kenaikan", "Advances")) }
                            th.num scope="col" { (lang.tr("Laju", "Rate")) }
                        }
                    }
                }
                tbody {
                    @for effect in std::iter::once(&answer.overall).chain(&answer.by_stage) {
                        tr {
                            th scope="row" { (effect_label(lang, effect)) }
                            (rate_cells(lang, &effect.after_bimtek))
                            (rate_cells(lang, &effect.without))
                            td.num.ratio { (ratio_text(lang, effect.rate_ratio, effect.lower, effect.upper)) }
                        }
                    }
                }
            }
        }
    }
}

fn counts_table(lang: Lang, answer: &BimtekEffect) -> Markup {
    html! {
        div.table-wrap role="region" tabindex="0"
            aria-label=(lang.tr("Menurut jumlah bimtek yang sudah diikuti", "By the number of bimtek attended")) {
            table.levels {
                thead { tr {
                    th scope="col" { (lang.tr("Bimtek sebelumnya", "Bimtek before")) }
                    th.num scope="col" { (lang.tr("Hari-KIM", "KIM-days")) }
                    th.num scope="col" { (lang.tr("Kenaikan", "Advances")) }
                    th.num scope="col" { (lang.tr("Laju", "Rate")) }
                    th.num scope="col" { (lang.tr("Rasio vs 0 (95 %)", "Ratio vs 0 (95 %)")) }
                } }
                tbody {
                    @for level in &answer.by_bimtek_count {
                        tr {
                            th scope="row" { (level_label(lang, &level.bimtek)) }
                            (rate_cells(lang, &level.rate))
                            td.num {
                                @if level.bimtek == "0" {
                                    (lang.tr("pembanding", "reference"))
                                } @else {
                                    (ratio_text(lang, level.rate_ratio, level.lower, level.upper))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(lower: f64, ratio: f64, upper: f64) -> Row {
        Row {
            label: String::new(),
            heading: false,
            ratio: Some(ratio),
            lower: Some(lower),
            upper: Some(upper),
        }
    }

    #[test]
    fn the_axis_always_holds_one_and_every_interval() {
        let (low, high) = domain(&[row(1.5, 2.0, 3.0)]);
        assert!(low < 1.0 && high > 3.0, "{low} {high}");
        assert_eq!(ticks(low, high), [1.0, 1.5, 2.0, 3.0]);
        let (low, high) = domain(&[row(0.01, 0.5, 90.0)]);
        assert_eq!((low, high), (0.05, 20.0));
        assert_eq!(ticks(low, high).len(), 9);
    }

    #[test]
    fn a_ratio_not_published_reads_as_a_dash() {
        assert_eq!(ratio_text(Lang::Id, None, None, None), "—");
        assert_eq!(
            ratio_text(Lang::Id, Some(2.346), Some(1.5), Some(3.0)),
            "2,35 (1,50–3,00)"
        );
    }
}

//! `/analitik/tren`: KIM per stage at each month's end, and each month's new KIM, stage changes
//! and dissolutions (`Reads::trends`, as `GET /api/v1/analytics/trends`) — a stacked area chart
//! and the monthly table.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;
use simpul_app::progression::{TrendMonth, Trends};
use simpul_http::AppState;

use super::chart::{self, Frame, INK, MUTED};
use super::{
    count_text, csv_download, download_link, drawn, provenance, region_param, region_select,
    respond, sub_nav, suppression_note, wants_csv,
};
use crate::error::WebError;
use crate::i18n::{stage_label, Lang};
use crate::layout::{number, trusted};
use crate::session::Visitor;
use crate::svg::{escape, swatch, OUTLINE, STAGE_COLOURS};

const PATH: &str = "/analitik/tren";
const STAGES: [&str; 4] = ["kim1", "kim2", "kim3", "kim4"];

/// The form's fields: months as `YYYY-MM` (or any date in the month).
#[derive(Deserialize, Default)]
pub struct Params {
    #[serde(default)]
    region: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

/// A month field: `YYYY-MM` (what a month input sends) or a date in it; a 400 naming it.
fn month_param(field: &str, text: &str) -> Result<Option<NaiveDate>, WebError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d"))
        .map(Some)
        .map_err(|_| WebError::bad_request(format!("{field}: `{text}` is not a month (YYYY-MM)")))
}

/// `GET /analitik/tren`.
pub async fn trends(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    let region = region_param(&state, &visitor, &params.region)?;
    let csv = wants_csv(&params.format)?;
    let from = month_param("from", &params.from)?;
    let to = month_param("to", &params.to)?;
    let answer = state
        .reads
        .trends(&visitor.principal, region.as_ref(), from, to)
        .await?;
    if csv {
        return Ok(csv_download(
            answer.to_csv(),
            "tren-bulanan",
            answer.region.as_deref(),
        ));
    }
    let lang = visitor.lang;
    let first = answer
        .months
        .first()
        .map(|m| m.month.clone())
        .unwrap_or_default();
    let last = answer
        .months
        .last()
        .map(|m| m.month.clone())
        .unwrap_or_default();
    let caption = match lang {
        Lang::Id => format!("KIM per tahap di akhir bulan, {first} sampai {last}"),
        Lang::En => format!("KIM per stage at the month's end, {first} to {last}"),
    };
    let body = html! {
        (sub_nav(lang, PATH, region.as_ref()))
        form.filters method="get" action=(PATH) {
            (region_select(&state, &visitor, region.as_ref()))
            label {
                (lang.tr("Dari bulan", "From month"))
                input type="month" name="from" value=(first);
            }
            label {
                (lang.tr("Sampai bulan", "To month"))
                input type="month" name="to" value=(last);
            }
            button.primary type="submit" { (lang.tr("Tampilkan", "Show")) }
        }
        (provenance(lang, &answer.computed_at))
        (download_link(&visitor))
        figure.plot {
            figcaption { (caption) }
            div.chart-wrap role="region" aria-label=(caption) tabindex="0" {
                (trusted(area_chart(lang, &answer, &caption)))
            }
            ul.legend aria-label=(lang.tr("Keterangan warna", "Colour key")) {
                @for (i, stage) in STAGES.iter().enumerate().rev() {
                    li { (trusted(swatch(STAGE_COLOURS[i])))
                        (stage_label(stage)) }
                }
            }
            p.footnote { (lang.tr("Dalam grafik, sel \"< 5\" digambar sebagai 0.", "In the chart, \"< 5\" cells are drawn as 0.")) }
        }
        p.explain { (lang.tr(
            "Tahap sebuah KIM di akhir bulan adalah tahap sesudah perubahan terakhirnya yang dinilai pada atau sebelum tanggal itu; KIM yang sudah dibubarkan tidak dihitung. Semua menurut tanggal peristiwanya sendiri.",
            "A KIM's stage at a month's end is the one after its last change assessed on or before that day; dissolved KIM are not counted. All by the events' own dates.")) }
        h2 { (lang.tr("Per bulan", "Month by month")) }
        (table(lang, &answer.months))
        (suppression_note(lang))
    };
    Ok(respond(
        &visitor,
        lang.tr("Tren bulanan", "Monthly trends"),
        body,
    ))
}

/// `2025-03` → `Mar 25`.
fn month_label(lang: Lang, month: &str) -> String {
    const ID: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
    ];
    const EN: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
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
}

fn table(lang: Lang, months: &[TrendMonth]) -> Markup {
    html! {
        div.table-wrap role="region" aria-label=(lang.tr("Per bulan", "Month by month")) tabindex="0" {
            table.trends {
                thead { tr {
                    th scope="col" { (lang.tr("Bulan", "Month")) }
                    @for stage in STAGES { th.num scope="col" { (stage_label(stage)) } }
                    th.num scope="col" { (lang.tr("Dibentuk", "Formed")) }
                    th.num scope="col" { (lang.tr("Naik", "Advanced")) }
                    th.num.hide-narrow scope="col" { (lang.tr("Turun", "Lowered")) }
                    th.num.hide-narrow scope="col" { (lang.tr("Dibubarkan", "Dissolved")) }
                } }
                tbody {
                    @for month in months {
                        tr {
                            th scope="row" { (month_label(lang, &month.month)) }
                            td.num { (count_text(lang, &month.kim1)) }
                            td.num { (count_text(lang, &month.kim2)) }
                            td.num { (count_text(lang, &month.kim3)) }
                            td.num { (count_text(lang, &month.kim4)) }
                            td.num { (count_text(lang, &month.formed)) }
                            td.num { (count_text(lang, &month.advanced)) }
                            td.num.hide-narrow { (count_text(lang, &month.lowered)) }
                            td.num.hide-narrow { (count_text(lang, &month.dissolved)) }
                        }
                    }
                }
            }
        }
    }
}

/// The months labelled on the x axis: every one up to a year, quarters up to two, then Januaries
/// (and a sparser step when that is still too many).
fn labelled(months: &[TrendMonth]) -> Vec<usize> {
    let count = months.len();
    let month_of =
        |m: &TrendMonth| -> u32 { m.month.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1) };
    if count <= 12 {
        return (0..count).collect();
    }
    if count <= 24 {
        return (0..count)
            .filter(|i| (month_of(&months[*i]) - 1) % 3 == 0)
            .collect();
    }
    let januaries: Vec<usize> = (0..count).filter(|i| month_of(&months[*i]) == 1).collect();
    let every = januaries.len().div_ceil(10).max(1);
    januaries.into_iter().step_by(every).collect()
}

/// KIM 1–4 stacked at each month's end, as areas.
fn area_chart(lang: Lang, answer: &Trends, title: &str) -> String {
    let frame = Frame {
        width: 720.0,
        height: 300.0,
        left: 56.0,
        right: 18.0,
        top: 12.0,
        bottom: 30.0,
    };
    let months = &answer.months;
    let stacks: Vec<[f64; 4]> = months
        .iter()
        .map(|m| {
            let counts = [
                drawn(&m.kim1),
                drawn(&m.kim2),
                drawn(&m.kim3),
                drawn(&m.kim4),
            ];
            let mut sum = 0.0;
            counts.map(|c| {
                sum += c;
                sum
            })
        })
        .collect();
    let top = stacks.iter().map(|s| s[3]).fold(0.0, f64::max);
    let step = chart::nice_step(top, 4.0);
    let max = (top / step).ceil().max(1.0) * step;
    let mut svg = frame.open("area", title);
    chart::value_grid(&mut svg, &frame, max, step, |v| number(lang, v as i64));
    let x = |i: usize| {
        if months.len() <= 1 {
            frame.x(0.5)
        } else {
            frame.x(i as f64 / (months.len() - 1) as f64)
        }
    };
    for (level, stage) in STAGES.iter().enumerate() {
        let mut points: Vec<String> = stacks
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{:.1},{:.1}", x(i), frame.y(s[level] / max)))
            .collect();
        points.extend(stacks.iter().enumerate().rev().map(|(i, s)| {
            let below = if level == 0 { 0.0 } else { s[level - 1] };
            format!("{:.1},{:.1}", x(i), frame.y(below / max))
        }));
        let _ = write!(
            svg,
            r#"<polygon points="{}" fill="{}" stroke="{OUTLINE}" stroke-width="0.75"><title>{}</title></polygon>"#,
            points.join(" "),
            STAGE_COLOURS[level],
            escape(&stage_label(stage))
        );
    }
    for i in labelled(months) {
        let at = x(i);
        chart::line(
            &mut svg,
            (at, frame.base()),
            (at, frame.base() + 4.0),
            MUTED,
            1.0,
        );
        chart::text(
            &mut svg,
            at,
            frame.base() + 18.0,
            "middle",
            MUTED,
            &month_label(lang, &months[i].month),
        );
    }
    chart::line(
        &mut svg,
        (frame.left, frame.base()),
        (frame.width - frame.right, frame.base()),
        INK,
        1.0,
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use simpul_app::progression::Count;

    fn month(text: &str) -> TrendMonth {
        let zero = || Count::Value(0);
        TrendMonth {
            month: text.to_owned(),
            kim1: zero(),
            kim2: zero(),
            kim3: zero(),
            kim4: zero(),
            formed: zero(),
            advanced: zero(),
            lowered: zero(),
            dissolved: zero(),
        }
    }

    #[test]
    fn a_month_field_takes_a_month_or_a_date() {
        let first = NaiveDate::from_ymd_opt(2024, 3, 1);
        assert_eq!(month_param("from", "2024-03").ok().flatten(), first);
        assert_eq!(month_param("from", "2024-03-01").ok().flatten(), first);
        assert_eq!(month_param("from", "").ok().flatten(), None);
        assert!(month_param("from", "Maret").is_err());
    }

    #[test]
    fn long_ranges_label_januaries_only() {
        let months: Vec<TrendMonth> = (2020..2024)
            .flat_map(|y| (1..=12).map(move |m| month(&format!("{y}-{m:02}"))))
            .collect();
        assert_eq!(labelled(&months), [0, 12, 24, 36]);
        assert_eq!(labelled(&months[..18]), [0, 3, 6, 9, 12, 15]);
        assert_eq!(month_label(Lang::Id, "2025-08"), "Agu 25");
    }
}

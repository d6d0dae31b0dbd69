//! `/analitik/corong`: of the KIM formed each year, the share at KIM 2, 3 and 4 within 6, 12 and
//! 24 months (`Reads::funnel`, as `GET /api/v1/analytics/funnel`) — one table per stage, each
//! cell a bar with its 95 % interval and the counts behind it.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Months, NaiveDate};
use maud::{html, Markup};
use serde::Deserialize;
use simpul_app::progression::{Funnel, FunnelCell, FunnelCohort};
use simpul_domain::Stage;
use simpul_http::AppState;

use super::chart::{INK, MUTED};
use super::{
    count_text, csv_download, date_param, download_link, method, percent, provenance, region_param,
    region_select, respond, sub_nav, suppression_note, wants_csv,
};
use crate::error::WebError;
use crate::i18n::{stage_label, Lang};
use crate::layout::trusted;
use crate::session::Visitor;
use crate::svg::escape;

const PATH: &str = "/analitik/corong";
const WINDOWS: [u32; 3] = [6, 12, 24];
const BAR: &str = "#4292c6";
const TRACK: &str = "#eef1f4";

/// The form's fields.
#[derive(Deserialize, Default)]
pub struct Params {
    #[serde(default)]
    region: String,
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    format: String,
}

/// `GET /analitik/corong`.
pub async fn funnel(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<Params>,
) -> Result<Response, WebError> {
    let region = region_param(&state, &visitor, &params.region)?;
    let csv = wants_csv(&params.format)?;
    let as_of = date_param("as_of", &params.as_of)?;
    let answer = state
        .reads
        .funnel(&visitor.principal, region.as_ref(), as_of)
        .await?;
    if csv {
        return Ok(csv_download(
            answer.to_csv(),
            "corong-kohort",
            answer.region.as_deref(),
        ));
    }
    let lang = visitor.lang;
    let body = html! {
        (sub_nav(lang, PATH, region.as_ref()))
        form.filters method="get" action=(PATH) {
            (region_select(&state, &visitor, region.as_ref()))
            label {
                (lang.tr("Per tanggal (kosong: hari ini)", "As of (empty: today)"))
                input type="date" name="as_of" value=(params.as_of);
            }
            button.primary type="submit" { (lang.tr("Tampilkan", "Show")) }
        }
        (provenance(lang, &answer.computed_at))
        (download_link(&visitor))
        p.explain { (lang.tr(
            "Hanya KIM yang sudah teramati selama seluruh jendela yang dihitung (dibentuk paling lambat 6, 12 atau 24 bulan sebelum tanggal itu); KIM yang dibubarkan sebelum mencapai tahap dihitung tidak mencapai.",
            "Only KIM observed for the whole window count (formed at least 6, 12 or 24 months before that date); a KIM dissolved before reaching the stage counts as not reaching it.")) }
        @if answer.cohorts.is_empty() {
            p { (lang.tr("Belum ada KIM yang dibentuk di wilayah ini.", "No KIM has been formed in this region yet.")) }
        } @else {
            @for stage in [Stage::Kim2, Stage::Kim3, Stage::Kim4] {
                (stage_table(lang, &answer, stage))
            }
        }
        (method(lang, answer.method))
        (suppression_note(lang))
        p.footnote { (lang.tr(
            "† jendela ini belum lewat untuk semua KIM angkatan ini: hanya yang sudah teramati penuh yang dihitung. Garis pada batang: selang kepercayaan 95 % (Wilson).",
            "† this window is not over for every KIM of the cohort yet: only those observed for all of it count. The line on a bar: the 95 % confidence interval (Wilson).")) }
    };
    Ok(respond(
        &visitor,
        lang.tr("Corong angkatan", "Cohort funnel"),
        body,
    ))
}

fn stage_table(lang: Lang, answer: &Funnel, stage: Stage) -> Markup {
    let to = stage_label(stage.as_str());
    let caption = match lang {
        Lang::Id => format!("Mencapai {to} dalam 6, 12 dan 24 bulan sejak dibentuk"),
        Lang::En => format!("Reached {to} within 6, 12 and 24 months of formation"),
    };
    html! {
        h2 { (caption) }
        div.table-wrap role="region" aria-label=(caption) tabindex="0" {
            table.funnel {
                thead { tr {
                    th scope="col" { (lang.tr("Angkatan", "Cohort")) }
                    th.num scope="col" { (lang.tr("Dibentuk", "Formed")) }
                    @for months in WINDOWS {
                        th scope="col" { (months) " " (lang.tr("bulan", "months")) }
                    }
                } }
                tbody {
                    @for cohort in &answer.cohorts {
                        tr {
                            th scope="row" { (cohort.cohort) }
                            td.num { (count_text(lang, &cohort.formed)) }
                            @for months in WINDOWS {
                                (cell(lang, cohort, stage, months, answer.computed_at.as_of))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How much of a cohort's window had passed by `as_of`.
#[derive(Debug, PartialEq, Eq)]
enum Observed {
    /// Not for any KIM of the cohort.
    Not,
    /// For those formed early enough.
    Partly,
    /// For every KIM of the cohort.
    Fully,
}

fn observed(cohort: &str, months: u32, as_of: NaiveDate) -> Observed {
    let Ok(year) = cohort.parse::<i32>() else {
        return Observed::Fully;
    };
    let after = |date: Option<NaiveDate>| {
        date.and_then(|d| d.checked_add_months(Months::new(months)))
            .is_none_or(|end| end > as_of)
    };
    if after(NaiveDate::from_ymd_opt(year, 1, 1)) {
        Observed::Not
    } else if after(NaiveDate::from_ymd_opt(year, 12, 31)) {
        Observed::Partly
    } else {
        Observed::Fully
    }
}

fn cell(lang: Lang, cohort: &FunnelCohort, stage: Stage, months: u32, as_of: NaiveDate) -> Markup {
    let found = cohort
        .cells
        .iter()
        .find(|c| c.stage == stage && c.months == months);
    let seen = observed(&cohort.cohort, months, as_of);
    let of = lang.tr("dari", "of");
    html! {
        @match (found, seen) {
            (_, Observed::Not) | (None, _) => td.unobserved { (lang.tr("belum teramati", "not yet observed")) },
            (Some(found), seen) => td.share {
                @if let Some(share) = found.share {
                    (trusted(bar(lang, cohort, found, share)))
                    span.value { (percent(share)) @if seen == Observed::Partly { " †" } }
                    " "
                    span.counts { (count_text(lang, &found.reached)) " " (of) " " (count_text(lang, &found.eligible)) }
                } @else {
                    span.value { (count_text(lang, &found.reached)) @if seen == Observed::Partly { " †" } }
                    " "
                    span.counts { (of) " " (count_text(lang, &found.eligible)) }
                }
            },
        }
    }
}

/// A share as a bar of 0–100 % with its interval as a line across it.
fn bar(lang: Lang, cohort: &FunnelCohort, cell: &FunnelCell, share: f64) -> String {
    let (width, height) = (120.0, 14.0);
    let interval = match (cell.lower, cell.upper) {
        (Some(lower), Some(upper)) => format!(" ({}–{})", percent(lower), percent(upper)),
        _ => String::new(),
    };
    let title = match lang {
        Lang::Id => format!(
            "Angkatan {}: {} mencapai {} dalam {} bulan{interval}, {} dari {} KIM",
            cohort.cohort,
            percent(share),
            stage_label(cell.stage.as_str()),
            cell.months,
            cell.reached,
            cell.eligible
        ),
        Lang::En => format!(
            "Cohort {}: {} reached {} within {} months{interval}, {} of {} KIM",
            cohort.cohort,
            percent(share),
            stage_label(cell.stage.as_str()),
            cell.months,
            cell.reached,
            cell.eligible
        ),
    };
    let mut svg = format!(
        r#"<svg class="share" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{}</title><rect width="{width}" height="{height}" fill="{TRACK}"/><rect width="{:.1}" height="{height}" fill="{BAR}"/>"#,
        escape(&title),
        share.clamp(0.0, 1.0) * width
    );
    if let (Some(lower), Some(upper)) = (cell.lower, cell.upper) {
        let (x1, x2) = (lower.clamp(0.0, 1.0) * width, upper.clamp(0.0, 1.0) * width);
        let _ = write!(
            svg,
            r#"<path d="M{x1:.1} 7 H{x2:.1} M{x1:.1} 3 V11 M{x2:.1} 3 V11" stroke="{INK}" stroke-width="1.5" fill="none"/>"#
        );
    }
    let _ = write!(
        svg,
        r#"<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="{MUTED}" stroke-width="1"/>"#
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_window_is_observed_once_the_cohort_is_old_enough() {
        let as_of = date("2025-12-31");
        assert_eq!(observed("2025", 6, as_of), Observed::Partly);
        assert_eq!(observed("2025", 12, as_of), Observed::Not);
        assert_eq!(observed("2024", 12, as_of), Observed::Fully);
        assert_eq!(observed("2024", 24, as_of), Observed::Not);
        assert_eq!(observed("2023", 24, as_of), Observed::Fully);
    }
}

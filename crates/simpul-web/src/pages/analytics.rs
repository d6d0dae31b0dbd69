//! Analitik `/analitik`: the stage-progression analyses of `docs/analytics.md` as pages — time to
//! a stage, cohort funnels, the bimtek effect, monthly trends and regions compared — each drawn
//! from the same `Reads` as `GET /api/v1/analytics/…` with the visitor's principal, as SVG charts
//! with their figures in tables, and downloadable as the read's own CSV (`?format=csv`).
//!
//! Every page states the log position and date its figures were computed at, and shows a count
//! below 5 KIM as "< 5" with a footnote saying why.

mod bimtek_effect;
mod chart;
mod compare;
mod funnel;
mod time_to_stage;
mod trends;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;
use simpul_app::progression::{ComputedAt, Count};
use simpul_app::{Action, Principal, Scope, WithoutRegion};
use simpul_domain::{RegionCode, Stage};
use simpul_http::{ApiError, AppState};

pub use bimtek_effect::bimtek_effect;
pub use compare::compare;
pub use funnel::funnel;
pub use time_to_stage::time_to_stage;
pub use trends::trends;

use crate::error::WebError;
use crate::i18n::Lang;
use crate::layout;
use crate::session::Visitor;

/// One analysis: its path, its title and what it answers, in both languages.
struct Analysis {
    path: &'static str,
    title: (&'static str, &'static str),
    summary: (&'static str, &'static str),
}

const ANALYSES: [Analysis; 5] = [
    Analysis {
        path: "/analitik/waktu",
        title: ("Waktu menuju tahap", "Time to stage"),
        summary: (
            "Berapa hari sampai KIM mencapai tahap berikutnya (median dan kuartil, Kaplan–Meier), \
             dengan KIM yang belum sampai tetap dihitung; per angkatan tahun atau triwulan.",
            "How many days until KIM reach the next stage (median and quartiles, Kaplan–Meier), \
             counting KIM not there yet; by formation year or quarter.",
        ),
    },
    Analysis {
        path: "/analitik/corong",
        title: ("Corong angkatan", "Cohort funnel"),
        summary: (
            "Dari KIM yang dibentuk tiap tahun, berapa bagian yang mencapai KIM 2, 3 dan 4 dalam \
             6, 12 dan 24 bulan.",
            "Of the KIM formed each year, the share that reached KIM 2, 3 and 4 within 6, 12 and \
             24 months.",
        ),
    },
    Analysis {
        path: "/analitik/bimtek",
        title: ("Efek bimtek", "Bimtek effect"),
        summary: (
            "Apakah KIM lebih cepat naik tahap dalam beberapa bulan setelah bimtek: laju kenaikan \
             per KIM-tahun dengan dan tanpa bimtek, dan rasionya.",
            "Do KIM advance sooner in the months after a bimtek: advances per KIM-year with and \
             without one, and their ratio.",
        ),
    },
    Analysis {
        path: "/analitik/tren",
        title: ("Tren bulanan", "Monthly trends"),
        summary: (
            "KIM per tahap di akhir tiap bulan, serta KIM baru, kenaikan, penurunan dan \
             pembubaran per bulan.",
            "KIM per stage at each month's end, and each month's new KIM, advances, lowerings \
             and dissolutions.",
        ),
    },
    Analysis {
        path: "/analitik/banding",
        title: ("Perbandingan wilayah", "Regions compared"),
        summary: (
            "Satu ukuran untuk beberapa wilayah berdampingan, dengan selang kepercayaan 95 %: \
             median hari KIM 1 → 2, bagian KIM 3+, bagian berbadan legal.",
            "One measure for several regions side by side, with 95 % intervals: median days \
             KIM 1 → 2, share at KIM 3+, share legal.",
        ),
    },
];

/// `?region=` of the index.
#[derive(Deserialize, Default)]
pub struct IndexParams {
    #[serde(default)]
    region: String,
}

/// `GET /analitik`: the analyses with a line each, and the region they will cover.
pub async fn index(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(params): Query<IndexParams>,
) -> Result<Html<String>, WebError> {
    let lang = visitor.lang;
    let region = region_param(&state, &visitor, &params.region)?;
    // The same authorisation as every analysis (a KIM's own token is refused here, not later).
    visitor
        .principal
        .read_scope(
            Action::ReadAnalytics,
            region.as_ref(),
            WithoutRegion::OwnScope,
        )
        .and_then(Scope::regions_only)
        .map_err(|error| WebError::from(ApiError::from(error)))?;
    let query = region_query(region.as_ref());
    let body = html! {
        p { (lang.tr(
            "Analisis perkembangan tahap KIM di wilayah Anda, dihitung dari tanggal peristiwa itu sendiri (tanggal pembentukan, penilaian, bimtek, pembubaran), bukan dari tanggal pencatatan.",
            "Analyses of how KIM move through the stages in your region, counted by the events' own dates (formation, assessment, bimtek, dissolution), not by when they were recorded.")) }
        form.filters method="get" action="/analitik" {
            (region_select(&state, &visitor, region.as_ref()))
            button.primary type="submit" { (lang.tr("Pilih wilayah", "Choose region")) }
        }
        ul.analyses {
            @for analysis in &ANALYSES {
                li {
                    a href={ (analysis.path) (query) } { (lang.tr(analysis.title.0, analysis.title.1)) }
                    p { (lang.tr(analysis.summary.0, analysis.summary.1)) }
                }
            }
        }
        (suppression_note(lang))
    };
    let title = lang.tr("Analitik", "Analytics");
    Ok(Html(layout::page(&visitor, title, body).into_string()))
}

/// `?region=` as a query string for links (`""` for the scope).
fn region_query(region: Option<&RegionCode>) -> String {
    match region {
        Some(code) => format!("?region={code}"),
        None => String::new(),
    }
}

/// The region asked for: none (the token's scope), else a known region inside the scope — a
/// region outside it, or one that does not exist, is "not found" as on every page.
fn region_param(
    state: &AppState,
    visitor: &Visitor,
    text: &str,
) -> Result<Option<RegionCode>, WebError> {
    match text.trim() {
        "" => Ok(None),
        text => {
            let code = RegionCode::parse(text)
                .map_err(|error| WebError::bad_request(format!("region: {error}")))?;
            known_in_scope(state, &visitor.principal, &code)?;
            Ok(Some(code))
        }
    }
}

/// 404 for a region that does not exist or lies outside the visitor's scope.
fn known_in_scope(
    state: &AppState,
    principal: &Principal,
    code: &RegionCode,
) -> Result<(), WebError> {
    if state.regions.display_name(code).is_none() || !principal.scope.covers_region(code) {
        return Err(WebError::not_found());
    }
    Ok(())
}

/// A date field (`YYYY-MM-DD`), or a 400 naming it.
fn date_param(field: &str, text: &str) -> Result<Option<NaiveDate>, WebError> {
    match text.trim() {
        "" => Ok(None),
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                WebError::bad_request(format!("{field}: `{text}` is not a date (YYYY-MM-DD)"))
            }),
    }
}

/// Whether `?format=` asks for the CSV (`csv`), the page (empty), or something else (400).
fn wants_csv(format: &str) -> Result<bool, WebError> {
    match format {
        "" => Ok(false),
        "csv" => Ok(true),
        other => Err(WebError::bad_request(format!(
            "format: `{other}` is not csv"
        ))),
    }
}

/// The read's CSV as a download named `<name>[-<region>].csv`.
fn csv_download(body: String, name: &str, region: Option<&str>) -> Response {
    let filename = match region {
        Some(region) => format!("{name}-{region}.csv"),
        None => format!("{name}.csv"),
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The page as a response.
fn respond(visitor: &Visitor, title: &str, body: Markup) -> Response {
    Html(layout::page(visitor, title, body).into_string()).into_response()
}

/// The other analyses, carrying the region.
fn sub_nav(lang: Lang, current: &str, region: Option<&RegionCode>) -> Markup {
    let query = region_query(region);
    html! {
        nav.subnav aria-label=(lang.tr("Analisis lain", "Other analyses")) {
            ul {
                li { a href={ "/analitik" (query) } { (lang.tr("Semua analisis", "All analyses")) } }
                @for analysis in &ANALYSES {
                    li {
                        @if analysis.path == current {
                            strong aria-current="page" { (lang.tr(analysis.title.0, analysis.title.1)) }
                        } @else {
                            a href={ (analysis.path) (query) } { (lang.tr(analysis.title.0, analysis.title.1)) }
                        }
                    }
                }
            }
        }
    }
}

/// The region picker: the scope, the way down to the region chosen, and the region's children
/// (choosing one of those and sending the form goes one level down).
fn region_select(state: &AppState, visitor: &Visitor, current: Option<&RegionCode>) -> Markup {
    let lang = visitor.lang;
    let scope = visitor.principal.scope.region().cloned();
    let mut options: Vec<(String, String)> = Vec::new();
    let root_label = |code: Option<&RegionCode>| match code {
        Some(code) => state.regions.display_name(code).unwrap_or_default(),
        None => "Indonesia".to_owned(),
    };
    options.push((
        scope.as_ref().map(ToString::to_string).unwrap_or_default(),
        format!(
            "{} ({})",
            root_label(scope.as_ref()),
            lang.tr("cakupan token", "token's scope")
        ),
    ));
    if let Some(code) = current {
        for ancestor in state.regions.ancestors(code) {
            let inside = visitor.principal.scope.covers_region(&ancestor.code);
            if inside && Some(&ancestor.code) != scope.as_ref() {
                options.push((ancestor.code.to_string(), ancestor.display_name()));
            }
        }
        if Some(code) != scope.as_ref() {
            options.push((code.to_string(), root_label(Some(code))));
        }
    }
    let below = current.or(scope.as_ref());
    let children = match below {
        Some(code) => state.regions.children(code),
        None => state.regions.provinces(),
    };
    for child in children {
        options.push((
            child.code.to_string(),
            format!("↳ {}", child.display_name()),
        ));
    }
    let chosen = current
        .or(scope.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default();
    html! {
        label {
            (lang.tr("Wilayah", "Region"))
            select name="region" {
                @for (value, label) in &options {
                    option value=(value) selected[*value == chosen] { (label) }
                }
            }
        }
    }
}

/// The `Unduh CSV` link: this page with its query and `format=csv`.
fn download_link(visitor: &Visitor) -> Markup {
    let lang = visitor.lang;
    let (base, query) = visitor
        .path
        .split_once('?')
        .unwrap_or((visitor.path.as_str(), ""));
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.retain(|(key, value)| key != "format" && key != "lang" && !value.is_empty());
    pairs.push(("format".to_owned(), "csv".to_owned()));
    let href = format!(
        "{base}?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    );
    html! {
        p.downloads { a href=(href) download { (lang.tr("Unduh CSV", "Download CSV")) } }
    }
}

/// Where the figures come from: the read model position and the date they are as of.
fn provenance(lang: Lang, computed_at: &ComputedAt) -> Markup {
    html! {
        p.provenance {
            (lang.tr("Dihitung pada posisi log ", "Computed at log position "))
            strong { (layout::number(lang, i64::try_from(computed_at.position).unwrap_or(i64::MAX))) }
            (lang.tr(", per tanggal ", ", as of "))
            strong { (computed_at.as_of) }
            (lang.tr(
                ". Meminta lagi dengan tanggal yang sama setelah log mencapai posisi itu memberi angka yang sama.",
                ". Asking again with the same date once the log has reached that position gives the same figures."))
        }
    }
}

/// Why some cells read "< 5".
fn suppression_note(lang: Lang) -> Markup {
    html! {
        p.footnote {
            strong { "< 5" }
            (lang.tr(
                " — kurang dari 5 KIM (termasuk nol). Angka sekecil itu tidak diterbitkan, begitu pula bagian atau perkiraan yang bertumpu padanya: di desa kecil angka sekecil itu dapat menunjuk KIM dan pengurusnya.",
                " — fewer than 5 KIM (zero included). Counts that small are not published, nor are shares or estimates resting on them: in a small desa they could point at a KIM and its officers."))
        }
    }
}

/// How a method is computed, folded away.
fn method(lang: Lang, text: &str) -> Markup {
    html! {
        details.method {
            summary { (lang.tr("Metode", "Method")) }
            p { (text) }
            p { (lang.tr(
                "Penjelasan lengkap ada di dokumentasi Simpul, docs/analytics.md.",
                "The full explanation is in Simpul's documentation, docs/analytics.md.")) }
        }
    }
}

/// A number with `places` decimals, with the language's decimal mark.
fn decimal(lang: Lang, value: f64, places: usize) -> String {
    let text = format!("{value:.places$}");
    match lang {
        Lang::Id => text.replace('.', ","),
        Lang::En => text,
    }
}

/// A share as a whole percentage.
fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// `estimate (lower–upper)`, with `?` for a bound that is not known.
fn with_interval(estimate: String, lower: Option<String>, upper: Option<String>) -> String {
    match (lower, upper) {
        (None, None) => estimate,
        (lower, upper) => format!(
            "{estimate} ({}–{})",
            lower.unwrap_or_else(|| "?".to_owned()),
            upper.unwrap_or_else(|| "?".to_owned())
        ),
    }
}

/// A published count: grouped digits, or "< 5".
fn count_text(lang: Lang, count: &Count) -> String {
    match count {
        Count::Value(n) => layout::number(lang, i64::try_from(*n).unwrap_or(i64::MAX)),
        Count::Suppressed(text) => text.clone(),
    }
}

/// A count's value for a chart: a suppressed one draws as nothing.
fn drawn(count: &Count) -> f64 {
    match count {
        Count::Value(n) => *n as f64,
        Count::Suppressed(_) => 0.0,
    }
}

/// A stage named by a form field (`kim1` … `kim4`), or a 400 naming the field.
fn stage_param(field: &str, text: &str) -> Result<Option<Stage>, WebError> {
    match text.trim() {
        "" => Ok(None),
        text => Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == text)
            .map(Some)
            .ok_or_else(|| {
                WebError::bad_request(format!("{field}: `{text}` is not kim1, kim2, kim3 or kim4"))
            }),
    }
}

/// A `<select>` of `options` (value, label) with `current` chosen.
fn select(label: &str, name: &str, options: &[(&str, String)], current: &str) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
        }
    }
}

//! Stage-progression analytics (`docs/analytics.md`): time to a stage with censoring, cohort
//! funnels, the bimtek effect, monthly trends and regions compared. Every answer is JSON, or
//! CSV with `Accept: text/csv`; each names the log position it was computed at and shows counts
//! below 5 KIM as `"< 5"`. Read by every role that supervises a region and by the analyst
//! (`Action::ReadAnalytics`), inside the token's scope.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use simpul_app::progression::{
    BimtekEffect, Comparison, Funnel, Metric, TimeToStage, TimeToStageQuery, Trends,
};
use simpul_domain::{RegionCode, Stage};
use simpul_projections::stage_transitions::progress::Cohort;
use utoipa::{IntoParams, ToSchema};

use super::queries::{check_date, csv_response, invalid, parse_region, reads, wants_csv, AppQuery};
use super::QueryErrors;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// How to group KIM by their formation date.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CohortParam {
    /// By year (`2023`).
    Year,
    /// By quarter (`2023-Q2`).
    Quarter,
}

/// Parameters of `GET /analytics/time-to-stage`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimeToStageParams {
    /// A region code inside the token's scope; defaults to the scope.
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34"
    )]
    region: Option<String>,
    /// The stage the time starts at (formation for `kim1`); default `kim1`.
    from: Option<Stage>,
    /// The stage whose first reaching ends it; default `kim2`.
    to: Option<Stage>,
    /// Also per formation cohort.
    #[param(inline)]
    cohort: Option<CohortParam>,
    /// Events dated after it are ignored; KIM not there yet are censored at it. Default today.
    #[param(format = Date)]
    as_of: Option<String>,
    /// Wait (at most 2 s) until the read models include the event at this global position.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// Kaplan–Meier estimate of the days from entering `from` to first reaching `to`, with KIM that
/// have not reached it censored (at `as_of` or their dissolution): median and quartiles with
/// 95 % intervals, the curve, and the number at risk, overall and per cohort.
#[utoipa::path(get, path = "/analytics/time-to-stage", operation_id = "getTimeToStage", tag = "analytics",
    params(TimeToStageParams),
    responses((status = 200, description = "The estimate; CSV (one row per group) with `Accept: text/csv`",
               content((TimeToStage = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn time_to_stage(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<TimeToStageParams>,
) -> Result<Response, ApiError> {
    let query = TimeToStageQuery {
        region: region(params.region.as_deref())?,
        from: params.from.unwrap_or(Stage::Kim1),
        to: params.to.unwrap_or(Stage::Kim2),
        cohort: match params.cohort {
            None => Cohort::None,
            Some(CohortParam::Year) => Cohort::Year,
            Some(CohortParam::Quarter) => Cohort::Quarter,
        },
        as_of: date("as_of", params.as_of.as_deref())?,
    };
    let answer = reads(&state, params.min_position)?
        .time_to_stage(&principal, query)
        .await?;
    Ok(respond(
        &headers,
        answer,
        TimeToStage::to_csv,
        "waktu-ke-tahap.csv",
    ))
}

/// Parameters of `GET /analytics/funnel`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FunnelParams {
    /// A region code inside the token's scope; defaults to the scope.
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34"
    )]
    region: Option<String>,
    /// Cohorts by year (the only grouping).
    #[allow(dead_code)] // One value (`year`): checked, nothing to choose.
    #[param(inline)]
    cohort: Option<FunnelCohortParam>,
    /// The date the windows must have passed by; default today.
    #[param(format = Date)]
    as_of: Option<String>,
    /// Wait (at most 2 s) until the read models include the event at this global position.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// A funnel's cohorts.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunnelCohortParam {
    /// By year of formation.
    Year,
}

/// Of the KIM formed in each year, the share that reached KIM 2, 3 and 4 within 6, 12 and 24
/// months (only KIM observed for the whole window count).
#[utoipa::path(get, path = "/analytics/funnel", operation_id = "getFunnel", tag = "analytics",
    params(FunnelParams),
    responses((status = 200, description = "Per cohort year; CSV with `Accept: text/csv`",
               content((Funnel = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn funnel(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<FunnelParams>,
) -> Result<Response, ApiError> {
    let region = region(params.region.as_deref())?;
    let as_of = date("as_of", params.as_of.as_deref())?;
    let answer = reads(&state, params.min_position)?
        .funnel(&principal, region.as_ref(), as_of)
        .await?;
    Ok(respond(
        &headers,
        answer,
        Funnel::to_csv,
        "corong-kohort.csv",
    ))
}

/// Parameters of `GET /analytics/bimtek-effect`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BimtekEffectParams {
    /// A region code inside the token's scope; defaults to the scope.
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34"
    )]
    region: Option<String>,
    /// Days after a bimtek that count as "after a bimtek"; default 180.
    #[param(minimum = 1, maximum = 3650)]
    window_days: Option<u32>,
    /// Events dated after it are ignored; time ends at it. Default today.
    #[param(format = Date)]
    as_of: Option<String>,
    /// Wait (at most 2 s) until the read models include the event at this global position.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// The rate of advancing to the next stage in the window after a bimtek against other time, by
/// the events' own dates, with the counts behind it and an exact 95 % interval; also by the
/// number of bimtek attended before.
#[utoipa::path(get, path = "/analytics/bimtek-effect", operation_id = "getBimtekEffect", tag = "analytics",
    params(BimtekEffectParams),
    responses((status = 200, description = "Rates and their ratio; CSV with `Accept: text/csv`",
               content((BimtekEffect = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn bimtek_effect(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<BimtekEffectParams>,
) -> Result<Response, ApiError> {
    let region = region(params.region.as_deref())?;
    let as_of = date("as_of", params.as_of.as_deref())?;
    let answer = reads(&state, params.min_position)?
        .bimtek_effect(
            &principal,
            region.as_ref(),
            params.window_days.unwrap_or(180),
            as_of,
        )
        .await?;
    Ok(respond(
        &headers,
        answer,
        BimtekEffect::to_csv,
        "efek-bimtek.csv",
    ))
}

/// Parameters of `GET /analytics/trends`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendsParams {
    /// A region code inside the token's scope; defaults to the scope.
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34"
    )]
    region: Option<String>,
    /// `month` (the only interval).
    #[allow(dead_code)] // One value (`month`): checked, nothing to choose.
    #[param(inline)]
    interval: Option<IntervalParam>,
    /// First month (any date in it); default 23 months before `to`.
    #[param(format = Date)]
    from: Option<String>,
    /// Last month (any date in it); default this month.
    #[param(format = Date)]
    to: Option<String>,
    /// Wait (at most 2 s) until the read models include the event at this global position.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// A trend's interval.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntervalParam {
    /// Calendar months.
    Month,
}

/// KIM per stage at the end of each month, and the month's new KIM, stage changes and
/// dissolutions, by the events' own dates (at most 240 months).
#[utoipa::path(get, path = "/analytics/trends", operation_id = "getTrends", tag = "analytics",
    params(TrendsParams),
    responses((status = 200, description = "Month by month; CSV with `Accept: text/csv`",
               content((Trends = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn trends(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<TrendsParams>,
) -> Result<Response, ApiError> {
    let region = region(params.region.as_deref())?;
    let from = date("from", params.from.as_deref())?;
    let to = date("to", params.to.as_deref())?;
    let answer = reads(&state, params.min_position)?
        .trends(&principal, region.as_ref(), from, to)
        .await?;
    Ok(respond(
        &headers,
        answer,
        Trends::to_csv,
        "tren-bulanan.csv",
    ))
}

/// Parameters of `GET /analytics/compare`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareParams {
    /// 1 to 40 region codes inside the token's scope, separated by commas (required).
    #[param(example = "31,32,33,34,35")]
    regions: Option<String>,
    /// `median_days_kim1_kim2`, `share_kim3plus` or `legal_share` (required).
    #[param(inline)]
    metric: Option<Metric>,
    /// Wait (at most 2 s) until the read models include the event at this global position.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// One metric for several regions side by side, with 95 % intervals.
#[utoipa::path(get, path = "/analytics/compare", operation_id = "compareRegions", tag = "analytics",
    params(CompareParams),
    responses((status = 200, description = "One entry per region, in the order asked; CSV with `Accept: text/csv`",
               content((Comparison = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn compare(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<CompareParams>,
) -> Result<Response, ApiError> {
    let regions = params.regions.ok_or_else(|| {
        invalid(
            "regions",
            "required: 1 to 40 region codes, separated by commas",
        )
    })?;
    let metric = params.metric.ok_or_else(|| {
        invalid(
            "metric",
            "required: median_days_kim1_kim2, share_kim3plus or legal_share",
        )
    })?;
    let regions = regions
        .split(',')
        .map(|code| RegionCode::parse(code.trim()).map_err(|e| invalid("regions", &e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let answer = reads(&state, params.min_position)?
        .compare(&principal, &regions, metric)
        .await?;
    Ok(respond(
        &headers,
        answer,
        Comparison::to_csv,
        "perbandingan-wilayah.csv",
    ))
}

fn region(text: Option<&str>) -> Result<Option<RegionCode>, ApiError> {
    text.map(parse_region).transpose()
}

fn date(field: &str, text: Option<&str>) -> Result<Option<chrono::NaiveDate>, ApiError> {
    text.map(|text| check_date(field, text)).transpose()
}

/// JSON, or CSV when the client asks for it.
fn respond<T: Serialize>(
    headers: &HeaderMap,
    answer: T,
    csv: impl Fn(&T) -> String,
    filename: &str,
) -> Response {
    if wants_csv(headers) {
        return csv_response(&csv(&answer), filename);
    }
    Json(answer).into_response()
}

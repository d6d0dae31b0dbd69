//! Read-model queries: the community list, the stage dashboard and the projections' status.
//! Same tokens and scopes as the commands; every list is keyset-paginated; `Accept: text/csv`
//! downloads the list and the dashboard; `min_position` waits (at most 2 s) until the read
//! models have applied a write the client made.

use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use simpul_app::{AsOf, AuditQuery, ChangesQuery, CommunityQuery, Reads, TransitionQuery};
use simpul_domain::{CommunityEvent, CommunityStatus, RegionCode, Stage};
use simpul_projections::community_history::query::{Change, StateAt};
use simpul_projections::community_summary::query::SummaryRow;
use simpul_projections::ProjectionStatus;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{QueryErrors, ReadErrors};
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// Longest wait for `min_position`.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// Query parameters, parsed with the API's problem body on failure (unknown ones refused).
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // No control characters (a NUL byte is no text PostgreSQL can store or compare).
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(_, value)| value.chars().any(char::is_control))
        {
            return Err(invalid(&name, "must not contain control characters"));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(AppQuery)
            .map_err(|error| ApiError::Malformed {
                detail: error.inner().to_string(),
                field: Some(error.path().to_string()).filter(|p| p != "."),
            })
    }
}

/// Parameters of `GET /communities`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// A region code or prefix: `34`, `34.04`, `34.04.01`, `34.04.01.2001`; defaults to the
    /// token's scope.
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34.04"
    )]
    region: Option<String>,
    /// Only KIM at this stage.
    stage: Option<Stage>,
    /// Only KIM with this status.
    status: Option<CommunityStatus>,
    /// `true`: SK and nomor induk; `false`: not legal yet.
    legal: Option<bool>,
    /// Part of the name (case-insensitive), or an exact nomor induk.
    #[param(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "sadai")]
    q: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `true`: without an active SK; `false`: with one.
    missing_sk: Option<bool>,
    /// `true`: without a nomor induk; `false`: with one.
    missing_nomor_induk: Option<bool>,
    /// `true`: never at a bimtek; `false`: at one at least.
    no_bimtek: Option<bool>,
    /// In the same stage for more than this many months (since `stage_since`, the events' own
    /// dates); KIM 4 is never stalled.
    #[param(minimum = 1, maximum = 120)]
    stalled_months: Option<u32>,
    /// No activity or bimtek held for more than this many months (`last_activity_on`; a KIM with
    /// none yet counts from its formation).
    #[param(minimum = 1, maximum = 120)]
    no_activity_months: Option<u32>,
    /// `true`: a core post (ketua, sekretaris, bendahara) is vacant; `false`: all are filled.
    vacant_post: Option<bool>,
    /// The KIM as they stood then (a date, to the end of that day UTC, or an RFC 3339 time),
    /// from `community_history`: the items are `StateAt` rows; `q` and CSV are not available.
    #[param(example = "2024-12-31")]
    as_of: Option<String>,
    /// Wait (at most 2 s) until the read models include the event at this global position, as
    /// a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// A page of communities as they stood at a past time.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityPageAt {
    /// The KIM's states then.
    items: Vec<StateAt>,
    /// Pass as `cursor` (with the same `as_of`) for the next page; absent on the last page.
    next_cursor: Option<String>,
    /// The time the page is as of (UTC).
    as_of: String,
}

/// A page of communities.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityPage {
    /// The rows (fields of `community_summary`).
    items: Vec<SummaryRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Parameters of `GET /dashboard/stages`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardParams {
    /// A province, kabupaten/kota or kecamatan code (a desa has no dashboard: 400); absent: the
    /// whole country (national scopes).
    #[param(pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2})?)?$", example = "34")]
    region: Option<String>,
    /// The counts as they stood then (a date, to the end of that day UTC, or an RFC 3339 time),
    /// from `community_history`.
    #[param(example = "2024-12-31")]
    as_of: Option<String>,
    /// Wait (at most 2 s) until the read models include the event at this global position, as
    /// a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// KIM in the token's scope, filtered, oldest first (keyset pagination).
#[utoipa::path(get, path = "/communities", operation_id = "listCommunities", tag = "read models",
    params(ListParams),
    responses((status = 200, description = "A page of KIM (`CommunityPageAt` with `as_of`); CSV (the export's columns) with `Accept: text/csv`",
               content((CommunityPageOrAt = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Response, ApiError> {
    let query = CommunityQuery {
        region: params.region.as_deref().map(parse_region).transpose()?,
        stage: params.stage,
        status: params.status,
        legal: params.legal,
        q: params.q,
        after: params.cursor,
        limit: params.limit.unwrap_or(50),
        attention: simpul_app::Attention {
            missing_sk: params.missing_sk,
            missing_nomor_induk: params.missing_nomor_induk,
            no_bimtek: params.no_bimtek,
            stalled_months: params.stalled_months,
            no_activity_months: params.no_activity_months,
            vacant_post: params.vacant_post,
        },
    };
    if let Some(text) = params.as_of.as_deref() {
        let at = as_of("as_of", text)?;
        if wants_csv(&headers) {
            return Err(invalid("as_of", "the list as of a date is JSON only"));
        }
        let page = reads(&state, params.min_position)?
            .communities_at(&principal, query, at)
            .await?;
        return Ok(Json(CommunityPageAt {
            items: page.items,
            next_cursor: page.next_cursor,
            as_of: at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        })
        .into_response());
    }
    let page = reads(&state, params.min_position)?
        .communities(&principal, query)
        .await?;
    if wants_csv(&headers) {
        // The same columns as `GET /exports/communities`, formatted in one place.
        let bytes = simpul_projections::exports::communities::csv_bytes(&page.items, true)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let body = String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(csv_response(&body, "kim.csv"));
    }
    Ok(Json(CommunityPage {
        items: page.items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

/// Counts by stage, status and legal for a region, and for each child region one level down
/// (a province's kabupaten/kota, a kabupaten's kecamatan), with names. Kept incrementally.
#[utoipa::path(get, path = "/dashboard/stages", operation_id = "getStageDashboard", tag = "read models",
    params(DashboardParams),
    responses((status = 200, description = "The region's totals and its children's; CSV with `Accept: text/csv`",
               content((simpul_app::StageDashboard = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn stages(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<DashboardParams>,
) -> Result<Response, ApiError> {
    let region = params.region.as_deref().map(parse_region).transpose()?;
    let at = params
        .as_of
        .as_deref()
        .map(|text| as_of("as_of", text))
        .transpose()?;
    let dashboard = reads(&state, params.min_position)?
        .dashboard_at(&principal, region.as_ref(), at)
        .await?;
    if wants_csv(&headers) {
        return Ok(csv_response(&dashboard.to_csv(), "dashboard-tahap-kim.csv"));
    }
    Ok(Json(dashboard).into_response())
}

/// Every read model's position, lag (events and seconds), state and last error (admin, auditor).
#[utoipa::path(get, path = "/projections", operation_id = "getProjectionStatus", tag = "read models",
    responses((status = 200, description = "One entry per read model", body = Vec<ProjectionStatus>), ReadErrors),
    security(("bearer" = [])))]
pub async fn projections(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<ProjectionStatus>>, ApiError> {
    Ok(Json(state.reads.projections(&principal).await?))
}

/// The reads, waiting for `min_position` (at most 2 s; 503 after) when it is given.
pub(super) fn reads(state: &AppState, min_position: Option<u64>) -> Result<Reads, ApiError> {
    let position = position("min_position", min_position)?;
    Ok(state.reads.waiting_for(position, MAX_WAIT))
}

/// A global position from a query (`min_position`, `cursor`, `after`): at most 2^63 − 1, the
/// largest the store holds, so anything larger is a 400 rather than a failure further down.
pub(super) fn position(field: &str, value: Option<u64>) -> Result<Option<u64>, ApiError> {
    match value {
        Some(value) if i64::try_from(value).is_err() => Err(invalid(
            field,
            "must be a position between 0 and 9223372036854775807",
        )),
        other => Ok(other),
    }
}

pub(super) fn parse_region(text: &str) -> Result<RegionCode, ApiError> {
    RegionCode::parse(text.trim()).map_err(|e| invalid("region", &e.to_string()))
}

pub(super) fn invalid(field: &str, detail: &str) -> ApiError {
    ApiError::Malformed {
        detail: format!("{field}: {detail}"),
        field: Some(field.to_owned()),
    }
}

pub(super) fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"))
}

pub(super) fn csv_response(body: &str, filename: &str) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body.to_owned(),
    )
        .into_response()
}

/// Parameters of `GET /audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// One community id.
    #[param(format = Uuid)]
    community: Option<String>,
    /// One actor, as events record it (`token:<id>`).
    #[param(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    actor: Option<String>,
    /// A region code or prefix; defaults to the token's scope.
    #[param(pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")]
    region: Option<String>,
    /// One event type.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<EventType>)]
    event_type: Option<String>,
    /// From this server time (inclusive), `YYYY-MM-DD` or RFC 3339.
    #[param(
        pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?$",
        example = "2025-01-01"
    )]
    from: Option<String>,
    /// Before this server time (exclusive), `YYYY-MM-DD` or RFC 3339.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?$")]
    to: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    cursor: Option<u64>,
    /// Page size, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Wait (at most 2 s) until the read models include the event at this global position, as
    /// a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// A page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Rows in position order.
    items: Vec<simpul_projections::audit_trail::query::AuditRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<u64>,
}

/// An event type, for the document: one of [`CommunityEvent::NAMES`].
pub struct EventType;

impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(CommunityEvent::NAMES))
            .into()
    }
}

impl ToSchema for EventType {}

/// Who did what, when and why: every event flattened with a summary in Bahasa Indonesia
/// (admin, auditor; in scope).
#[utoipa::path(get, path = "/audit", operation_id = "listAuditTrail", tag = "read models",
    params(AuditParams),
    responses((status = 200, description = "A page of the audit trail", body = AuditPage), QueryErrors),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(params): AppQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let query = AuditQuery {
        community: match params.community.as_deref().map(Uuid::parse_str) {
            Some(Ok(id)) => Some(id),
            // Names no KIM, as in its history.
            Some(Err(_)) => return Err(ApiError::NotFound),
            None => None,
        },
        actor: params.actor,
        region: params.region.as_deref().map(parse_region).transpose()?,
        event_type: params
            .event_type
            .map(|name| event_type("type", &name))
            .transpose()?,
        from: params.from.map(|t| check_time("from", &t)).transpose()?,
        to: params.to.map(|t| check_time("to", &t)).transpose()?,
        after: position("cursor", params.cursor)?.unwrap_or(0),
        limit: params.limit.unwrap_or(100),
    };
    let page = reads(&state, params.min_position)?
        .audit(&principal, query)
        .await?;
    Ok(Json(AuditPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Parameters of `GET /analytics/stage-transitions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransitionParams {
    /// A region code or prefix; defaults to the token's scope.
    #[param(pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$")]
    region: Option<String>,
    /// Transitions assessed on or after this date.
    #[param(format = Date)]
    from: Option<String>,
    /// Transitions assessed before this date.
    #[param(format = Date)]
    to: Option<String>,
    /// Wait (at most 2 s) until the read models include the event at this global position, as
    /// a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// Completed stage changes: counts by (from, to) stage with median and quartile days in the
/// previous stage, split by bimtek attendance before the change. Superseded for analysis by
/// `/analytics/time-to-stage` and `/analytics/bimtek-effect`: these quartiles leave out every
/// KIM still waiting (so times look shorter than they are), and a KIM that waited longer had
/// more time to attend a bimtek (so bimtek look as if they slowed KIM down) — see
/// `docs/analytics.md`. Kept for existing clients.
#[utoipa::path(get, path = "/analytics/stage-transitions", operation_id = "getStageTransitions", tag = "read models",
    params(TransitionParams),
    responses((status = 200, description = "One entry per (from, to) pair with transitions",
               body = Vec<simpul_projections::stage_transitions::query::TransitionStats>), QueryErrors),
    security(("bearer" = [])))]
pub async fn stage_transitions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(params): AppQuery<TransitionParams>,
) -> Result<Json<Vec<simpul_projections::stage_transitions::query::TransitionStats>>, ApiError> {
    let query = TransitionQuery {
        region: params.region.as_deref().map(parse_region).transpose()?,
        from: params.from.map(|d| check_date("from", &d)).transpose()?,
        to: params.to.map(|d| check_date("to", &d)).transpose()?,
    };
    let stats = reads(&state, params.min_position)?
        .stage_transitions(&principal, query)
        .await?;
    Ok(Json(stats))
}

pub(super) fn check_date(field: &str, text: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| invalid(field, "must be a date, YYYY-MM-DD"))
}

/// A time filter: a date (its first instant, UTC) or an RFC 3339 time.
/// A moment "as of": a date (to the end of that day, UTC) or an RFC 3339 time.
fn as_of(field: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    AsOf::time(text).map_err(|error| invalid(field, &error))
}

/// A list page, now or as of a date (for the document). Each has exactly its own properties, so
/// a page matches one of them only.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Only read by the OpenAPI derive.
pub enum CommunityPageOrAt {
    /// Without `as_of`.
    Now(CommunityPage),
    /// With `as_of`.
    At(CommunityPageAt),
}

/// Parameters of `GET /audit/changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// A region code inside the token's scope; defaults to the scope.
    #[param(
        pattern = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$",
        example = "34"
    )]
    region: Option<String>,
    /// From this server time (inclusive), `YYYY-MM-DD` or RFC 3339 (required).
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?$")]
    from: Option<String>,
    /// Before this server time (exclusive), `YYYY-MM-DD` or RFC 3339 (required).
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?$")]
    to: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Wait (at most 2 s) until the read models include the event at this global position, as
    /// a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// A page of changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesPage {
    /// Changes by community, then sequence.
    items: Vec<Change>,
    /// Pass as `cursor` for the next page (`<community id>:<sequence>`); absent on the last.
    next_cursor: Option<String>,
}

/// The KIM whose stage, status or legal standing changed (or that were formed) between two
/// server times, each change with the event that made it, its ledger index and the state after
/// it (admin, auditor; in scope).
#[utoipa::path(get, path = "/audit/changes", operation_id = "listChanges", tag = "read models",
    params(ChangesParams),
    responses((status = 200, description = "A page of changes", body = ChangesPage), QueryErrors),
    security(("bearer" = [])))]
pub async fn changes(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(params): AppQuery<ChangesParams>,
) -> Result<Json<ChangesPage>, ApiError> {
    let required = |field: &str, value: &Option<String>| match value {
        Some(text) => check_time(field, text),
        None => Err(invalid(field, "is required")),
    };
    let after = match params.cursor.as_deref() {
        Some(cursor) => {
            let parsed = cursor
                .rsplit_once(':')
                .and_then(|(id, sequence)| Some((id.to_owned(), sequence.parse::<i64>().ok()?)));
            Some(parsed.ok_or_else(|| invalid("cursor", "not a cursor this list gave"))?)
        }
        None => None,
    };
    let query = ChangesQuery {
        region: params.region.as_deref().map(parse_region).transpose()?,
        from: required("from", &params.from)?,
        to: required("to", &params.to)?,
        after,
        limit: params.limit.unwrap_or(100),
    };
    let page = reads(&state, params.min_position)?
        .changes(&principal, query)
        .await?;
    Ok(Json(ChangesPage {
        items: page.items,
        next_cursor: page
            .next_cursor
            .map(|(id, sequence)| format!("{id}:{sequence}")),
    }))
}

/// A time filter: `YYYY-MM-DD` (the start of that day, UTC) or an RFC 3339 time; a 400 naming
/// `field` otherwise.
pub fn check_time(field: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| invalid(field, "must be YYYY-MM-DD or an RFC 3339 time"))
}

/// One of the stored event names; a 400 naming `field` otherwise.
pub fn event_type(field: &str, name: &str) -> Result<&'static str, ApiError> {
    CommunityEvent::NAMES
        .into_iter()
        .find(|known| *known == name)
        .ok_or_else(|| {
            invalid(
                field,
                &format!("must be one of {}", CommunityEvent::NAMES.join(", ")),
            )
        })
}

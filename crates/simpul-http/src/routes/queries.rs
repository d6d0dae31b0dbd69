//! Read-model queries: the community list, the stage dashboard and the projections' status.
//! Same tokens and scopes as the commands; every list is keyset-paginated; `Accept: text/csv`
//! downloads the list and the dashboard; `min_position` waits (at most 2 s) until the read
//! models have applied a write the client made.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use simpul_app::{Action, Scope, WithoutRegion};
use simpul_domain::{ActorRole, CommunityEvent, CommunityStatus, RegionCode, RegionLevel, Stage};
use simpul_projections::community_summary::query::{self as summary, ListFilter, SummaryRow};
use simpul_projections::exports::communities::Cell;
use simpul_projections::exports::push_csv_record;
use simpul_projections::stage_dashboard::query as dashboard;
use simpul_projections::{ProjectionStatus, READ_MODELS};
use utoipa::{IntoParams, ToSchema};

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
    /// Wait (at most 2 s) until the read models include the event at this global position, as
    /// a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// A page of communities.
#[derive(Debug, Serialize, ToSchema)]
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
    /// Wait (at most 2 s) until the read models include the event at this global position, as
    /// a write answered it; past the log's end is a 400.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    min_position: Option<u64>,
}

/// Totals of one region.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Totals {
    /// Region code (`null` for the whole country).
    code: Option<String>,
    /// Region name with its kind.
    name: String,
    /// Every KIM.
    total: i64,
    /// By stage (`kim1` … `kim4`).
    by_stage: BTreeMap<String, i64>,
    /// By status.
    by_status: BTreeMap<String, i64>,
    /// `legal` / `not_legal`.
    by_legal: BTreeMap<String, i64>,
}

/// The dashboard of a region and its children one level down.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageDashboard {
    /// The region's totals.
    region: Totals,
    /// Each child region's totals (zero rows included), by code.
    children: Vec<Totals>,
}

/// KIM in the token's scope, filtered, oldest first (keyset pagination).
#[utoipa::path(get, path = "/communities", operation_id = "listCommunities", tag = "read models",
    params(ListParams),
    responses((status = 200, description = "A page of KIM; CSV (the export's columns) with `Accept: text/csv`",
               content((CommunityPage = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Response, ApiError> {
    let region = params.region.as_deref().map(parse_region).transpose()?;
    let mut filter = ListFilter {
        stage: params.stage,
        status: params.status,
        legal: params.legal,
        q: params.q.filter(|q| !q.trim().is_empty()),
        after: params.cursor,
        limit: match params.limit.unwrap_or(50) {
            limit @ 1..=500 => limit,
            _ => return Err(invalid("limit", "must be between 1 and 500")),
        },
        ..ListFilter::default()
    };
    match principal.read_scope(
        Action::ReadCommunity,
        region.as_ref(),
        WithoutRegion::OwnScope,
    )? {
        Scope::National => {}
        Scope::Region(region) => filter.region = Some(region.to_string()),
        Scope::Community(id) => filter.community = Some(id.to_string()),
    }
    wait_for(&state, params.min_position).await?;
    let mut items = summary::list(
        &state.database,
        &ListFilter {
            limit: filter.limit + 1,
            ..filter.clone()
        },
    )
    .await
    .map_err(projection_error)?;
    let next_cursor = if items.len() > filter.limit as usize {
        items.truncate(filter.limit as usize);
        items.last().map(|row| row.community_id.clone())
    } else {
        None
    };
    if wants_csv(&headers) {
        // The same columns as `GET /exports/communities`, formatted in one place.
        let bytes = simpul_projections::exports::communities::csv_bytes(&items, true)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let body = String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(csv_response(&body, "kim.csv"));
    }
    Ok(Json(CommunityPage { items, next_cursor }).into_response())
}

/// Counts by stage, status and legal for a region, and for each child region one level down
/// (a province's kabupaten/kota, a kabupaten's kecamatan), with names. Kept incrementally.
#[utoipa::path(get, path = "/dashboard/stages", operation_id = "getStageDashboard", tag = "read models",
    params(DashboardParams),
    responses((status = 200, description = "The region's totals and its children's; CSV with `Accept: text/csv`",
               content((StageDashboard = "application/json"), (String = "text/csv"))),
              QueryErrors),
    security(("bearer" = [])))]
pub async fn stages(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    AppQuery(params): AppQuery<DashboardParams>,
) -> Result<Response, ApiError> {
    let region = params.region.as_deref().map(parse_region).transpose()?;
    principal.read_scope(
        Action::ReadCommunity,
        region.as_ref(),
        WithoutRegion::Country,
    )?;
    let children: Vec<(String, String)> = match &region {
        Some(region) => {
            if region.level() == RegionLevel::Village {
                return Err(invalid(
                    "region",
                    "a desa has no dashboard; ask for its kecamatan",
                ));
            }
            if region.level() == RegionLevel::District {
                Vec::new()
            } else {
                state
                    .regions
                    .children(region)
                    .into_iter()
                    .map(|r| (r.code.to_string(), r.display_name()))
                    .collect()
            }
        }
        None => state
            .regions
            .provinces()
            .into_iter()
            .map(|r| (r.code.to_string(), r.display_name()))
            .collect(),
    };
    wait_for(&state, params.min_position).await?;
    let mut codes: Vec<String> = children.iter().map(|(code, _)| code.clone()).collect();
    if let Some(region) = &region {
        codes.push(region.to_string());
    }
    let cells = dashboard::cells(&state.database, &codes)
        .await
        .map_err(projection_error)?;
    let totals_of = |code: &str, name: String| {
        let mut totals = Totals {
            code: Some(code.to_owned()),
            name,
            ..Totals::default()
        };
        for stage in ["kim1", "kim2", "kim3", "kim4"] {
            totals.by_stage.insert(stage.to_owned(), 0);
        }
        for status in ["active", "suspended", "dissolved"] {
            totals.by_status.insert(status.to_owned(), 0);
        }
        for legal in ["legal", "not_legal"] {
            totals.by_legal.insert(legal.to_owned(), 0);
        }
        for cell in cells.iter().filter(|c| c.region_code == code) {
            totals.total += cell.count;
            *totals.by_stage.entry(cell.stage.clone()).or_default() += cell.count;
            *totals.by_status.entry(cell.status.clone()).or_default() += cell.count;
            let legal = if cell.legal { "legal" } else { "not_legal" };
            *totals.by_legal.entry(legal.to_owned()).or_default() += cell.count;
        }
        totals
    };
    let children: Vec<Totals> = children
        .into_iter()
        .map(|(code, name)| totals_of(&code, name))
        .collect();
    let region_totals = match &region {
        Some(region) => totals_of(
            region.as_str(),
            state.regions.display_name(region).unwrap_or_default(),
        ),
        None => {
            let mut national = Totals {
                name: "Indonesia".to_owned(),
                ..Totals::default()
            };
            for child in &children {
                national.total += child.total;
                for (map, child_map) in [
                    (&mut national.by_stage, &child.by_stage),
                    (&mut national.by_status, &child.by_status),
                    (&mut national.by_legal, &child.by_legal),
                ] {
                    for (key, value) in child_map {
                        *map.entry(key.clone()).or_default() += value;
                    }
                }
            }
            national
        }
    };
    if wants_csv(&headers) {
        return Ok(csv_response(
            &dashboard_csv(&region_totals, &children),
            "dashboard-tahap-kim.csv",
        ));
    }
    Ok(Json(StageDashboard {
        region: region_totals,
        children,
    })
    .into_response())
}

/// Every read model's position, lag (events and seconds), state and last error (admin, auditor).
#[utoipa::path(get, path = "/projections", operation_id = "getProjectionStatus", tag = "read models",
    responses((status = 200, description = "One entry per read model", body = Vec<ProjectionStatus>), ReadErrors),
    security(("bearer" = [])))]
pub async fn projections(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<ProjectionStatus>>, ApiError> {
    if !matches!(principal.role, ActorRole::Admin | ActorRole::Auditor) {
        return Err(ApiError::Forbidden(format!(
            "role `{}` may not read the projections' status",
            principal.role
        )));
    }
    let status = simpul_projections::status(state.store(), &READ_MODELS)
        .await
        .map_err(projection_error)?;
    Ok(Json(status))
}

/// Waits until every read model has applied the event at `min_position`; 503 after 2 s.
async fn wait_for(state: &AppState, min_position: Option<u64>) -> Result<(), ApiError> {
    // Position 0 is "nothing yet": every read model has reached it.
    let Some(position) = position("min_position", min_position)?.filter(|p| *p > 0) else {
        return Ok(());
    };
    // A position past the log's head was never answered by a write here: waiting cannot help.
    let head = state.store().head().await?;
    if position > head {
        return Err(invalid(
            "min_position",
            &format!("no write has reached this position; the log ends at {head}"),
        ));
    }
    let deadline = Instant::now() + MAX_WAIT;
    loop {
        let mut reached = true;
        for name in READ_MODELS {
            reached &= simpul_projections::has_reached(state.store(), name, position)
                .await
                .map_err(projection_error)?;
        }
        if reached {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ApiError::Unavailable);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
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

fn check_choice(
    field: &str,
    value: Option<String>,
    choices: &[&str],
) -> Result<Option<String>, ApiError> {
    match value {
        Some(value) if !choices.contains(&value.as_str()) => Err(invalid(
            field,
            &format!("must be one of {}", choices.join(", ")),
        )),
        other => Ok(other),
    }
}

pub(super) fn invalid(field: &str, detail: &str) -> ApiError {
    ApiError::Malformed {
        detail: format!("{field}: {detail}"),
        field: Some(field.to_owned()),
    }
}

pub(super) fn projection_error(error: simpul_projections::ProjectionError) -> ApiError {
    match error {
        simpul_projections::ProjectionError::Store(store) => store.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"))
}

/// The dashboard as CSV, written by the exports' own [`push_csv_record`] (region names are text,
/// guarded like every text cell; the counts are numbers).
fn dashboard_csv(region: &Totals, children: &[Totals]) -> String {
    let mut out = String::new();
    push_csv_record(
        &mut out,
        &[
            "kode_wilayah",
            "wilayah",
            "total",
            "kim1",
            "kim2",
            "kim3",
            "kim4",
            "aktif",
            "dibekukan",
            "dibubarkan",
            "legal",
            "belum_legal",
        ]
        .map(Cell::Text),
    );
    for totals in std::iter::once(region).chain(children) {
        let get = |map: &BTreeMap<String, i64>, key: &str| {
            Cell::Integer(map.get(key).copied().unwrap_or(0))
        };
        push_csv_record(
            &mut out,
            &[
                totals.code.as_deref().map_or(Cell::Empty, Cell::Text),
                Cell::Text(&totals.name),
                Cell::Integer(totals.total),
                get(&totals.by_stage, "kim1"),
                get(&totals.by_stage, "kim2"),
                get(&totals.by_stage, "kim3"),
                get(&totals.by_stage, "kim4"),
                get(&totals.by_status, "active"),
                get(&totals.by_status, "suspended"),
                get(&totals.by_status, "dissolved"),
                get(&totals.by_legal, "legal"),
                get(&totals.by_legal, "not_legal"),
            ],
        );
    }
    out
}

fn csv_response(body: &str, filename: &str) -> Response {
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
    let region = params.region.as_deref().map(parse_region).transpose()?;
    let limit = match params.limit.unwrap_or(100) {
        limit @ 1..=500 => limit,
        _ => return Err(invalid("limit", "must be between 1 and 500")),
    };
    let event_type = check_choice("type", params.event_type, &CommunityEvent::NAMES)?;
    let from = params.from.map(|t| check_time("from", t)).transpose()?;
    let to = params.to.map(|t| check_time("to", t)).transpose()?;
    let mut filter = simpul_projections::audit_trail::query::AuditFilter {
        community: params.community.clone(),
        actor: params.actor,
        event_type,
        from,
        to,
        after: position("cursor", params.cursor)?.unwrap_or(0),
        limit: limit + 1,
        ..Default::default()
    };
    if let Some(community) = &params.community {
        super::authorize(&state, &principal, Action::ReadHistory, community).await?;
    }
    match principal.read_scope(
        Action::ReadHistory,
        region.as_ref(),
        WithoutRegion::OwnScope,
    )? {
        Scope::National => {}
        Scope::Region(region) => filter.region = Some(region.to_string()),
        Scope::Community(id) => filter.community = Some(id.to_string()),
    }
    wait_for(&state, params.min_position).await?;
    let mut items = simpul_projections::audit_trail::query::list(&state.database, &filter)
        .await
        .map_err(projection_error)?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|row| u64::try_from(row.position).unwrap_or(0))
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
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

/// How KIM progress: counts by (from, to) stage with median and quartile days in the previous
/// stage, split by bimtek attendance before the change.
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
    let region = params.region.as_deref().map(parse_region).transpose()?;
    let from = params.from.map(|d| check_date("from", d)).transpose()?;
    let to = params.to.map(|d| check_date("to", d)).transpose()?;
    let region = principal
        .read_scope(
            Action::ReadCommunity,
            region.as_ref(),
            WithoutRegion::OwnScope,
        )?
        .regions_only()?
        .map(|region| region.to_string())
        .unwrap_or_default();
    wait_for(&state, params.min_position).await?;
    let stats = simpul_projections::stage_transitions::query::stats(
        &state.database,
        &region,
        from.as_deref().unwrap_or_default(),
        to.as_deref().unwrap_or_default(),
    )
    .await
    .map_err(projection_error)?;
    Ok(Json(stats))
}

fn check_date(field: &str, text: String) -> Result<String, ApiError> {
    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map(|d| d.to_string())
        .map_err(|_| invalid(field, "must be a date, YYYY-MM-DD"))
}

fn check_time(field: &str, text: String) -> Result<String, ApiError> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return Ok(date.to_string());
    }
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        })
        .map_err(|_| invalid(field, "must be YYYY-MM-DD or an RFC 3339 time"))
}

//! `POST /bimtek-sessions`: one bimtek session recorded for many KIM at once, all or nothing.
//! The work is `simpul_app::Writes::record_bimtek_session`; this file extracts, calls and
//! responds.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use simpul_app::{Attendance, BimtekSession, SessionRecorded, SessionWritten, WriteOptions};
use utoipa::IntoResponses;

use super::WriteRequest;
use crate::dto::BimtekSessionBody;
use crate::error::{ApiError, Problem};
use crate::extract::{AppJson, Auth, IdempotencyKey, IfMatch, ReqId};
use crate::state::AppState;

/// Method and path of the route (below `/api/v1`), covered by an Idempotency-Key's digest.
const ROUTE: &str = "POST /bimtek-sessions";

/// The errors `POST /bimtek-sessions` may answer, for the OpenAPI document.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only read by the OpenAPI derive.
pub enum SessionErrors {
    /// Malformed JSON, wrong types, unknown or missing fields; `communities` empty, longer than
    /// 500 or naming a KIM twice (`field: communities`); an `If-Match` header.
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// No valid bearer token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token's role may not record bimtek (before any KIM is looked at).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// The body did not arrive within the body-read timeout.
    #[response(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Problem),
    /// Other writers kept changing the session's KIM (nothing written; send it again), or a
    /// request with this `Idempotency-Key` is still in progress (`Retry-After`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// Body over 1 MiB.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// Body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Some KIM cannot record the session (`type` `…/communities-rejected`, `field:
    /// communities`): `errors` lists every one of them — `index`, `id`, and the `status`,
    /// `type`, `rule`, `field` and `message` its single-KIM route would answer (404 missing or
    /// outside the scope, 409 dissolved or suspended, 422 a rule) — and nothing was written.
    /// Or an Idempotency-Key reused with another body.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// The database is unavailable (`Retry-After`); nothing was written.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Record one bimtek (or workshop, sarasehan, forum diskusi) attended by many KIM: one
/// `BimtekAttended` per KIM, all with the same new `session_id`, written in one transaction —
/// or, if any KIM cannot record it (not found or outside the token's scope, dissolved,
/// suspended, outside the organiser's region, a date before its formation, participants out
/// of range), nothing at all, and every failing KIM listed.
#[utoipa::path(post, path = "/bimtek-sessions", operation_id = "recordBimtekSession", tag = "communities",
    request_body = BimtekSessionBody,
    responses((status = 201, description = "Recorded for every KIM: the session's id, each KIM's event (sequence: the KIM's new version; position) in the order of the request, and the last position (for `min_position`)", body = SessionRecorded), SessionErrors),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ReqId(request_id): ReqId,
    IfMatch(if_match): IfMatch,
    IdempotencyKey(key): IdempotencyKey,
    body: AppJson<BimtekSessionBody>,
) -> Result<Response, ApiError> {
    let write = WriteRequest::new(ROUTE, &body.digest, request_id, if_match, key);
    let options = WriteOptions {
        request_id: write.request_id,
        if_match: write.if_match,
        idempotency: write.idempotency_key.map(|key| simpul_app::IdempotencyKey {
            key,
            digest: write.digest,
            status: StatusCode::CREATED.as_u16(),
        }),
    };
    let value = body.value;
    let session = BimtekSession {
        kind: value.kind,
        title: value.title,
        held_on: value.held_on,
        organizer_region: value.organizer_region,
        attendees: value
            .communities
            .into_iter()
            .map(|community| Attendance {
                community_id: community.id,
                participants: community.participants,
            })
            .collect(),
    };
    match state
        .writes
        .record_bimtek_session(&principal, session, options)
        .await?
    {
        SessionWritten::Recorded(recorded) => {
            let body =
                serde_json::to_string(&recorded).map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(respond(StatusCode::CREATED, body, false))
        }
        SessionWritten::Replayed(recorded) => {
            let status = StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::CREATED);
            let body = recorded.body.ok_or_else(|| {
                ApiError::Internal("a bimtek session's key was recorded without its body".into())
            })?;
            Ok(respond(status, body, true))
        }
    }
}

fn respond(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

//! One file per resource; the write path every command endpoint shares lives here.

pub mod analytics;
pub mod bimtek;
pub mod communities;
pub mod exports;
pub mod health;
pub mod imports;
pub mod ledger;
pub mod queries;
pub mod regions;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use simpul_app::{IdempotencyKey, Principal, Request, WriteOptions, Written as Done};
use simpul_domain::CommunityCommand;
use simpul_store::Recorded;
use utoipa::IntoResponses;

use crate::dto::WriteResult;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// The errors a write may answer, for the OpenAPI document.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only read by the OpenAPI derive.
pub enum WriteErrors {
    /// Malformed JSON, wrong types, unknown or missing fields.
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// No valid bearer token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token's role may not do this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such community, or outside the token's scope.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The body did not arrive within the body-read timeout.
    #[response(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Problem),
    /// Duplicate nomor induk, a lifecycle state that refuses the command, a chosen `id` in use,
    /// or a request with this `Idempotency-Key` still in progress (`Retry-After`).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `If-Match` names another version.
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// Body over 1 MiB.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// Body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// A domain rule (R1–R11) or an Idempotency-Key reused with another body.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// The database is unavailable (`Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The errors a read-model query may answer, for the OpenAPI document.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only read by the OpenAPI derive.
pub enum QueryErrors {
    /// A query parameter is malformed, out of range or unknown (`field` names it).
    #[response(status = 400, content_type = "application/problem+json")]
    Malformed(Problem),
    /// No valid bearer token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token's role may not read this, or the region is outside its scope.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// A community named by the query does not exist or is outside the token's scope.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The database is unavailable, or the read models did not reach `min_position` within
    /// 2 s (`Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The errors a read may answer, for the OpenAPI document.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only read by the OpenAPI derive.
pub enum ReadErrors {
    /// No valid bearer token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token's role may not read this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such community, or outside the token's scope.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The database is unavailable (`Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Everything about a write request besides its command.
pub struct WriteRequest {
    /// `X-Request-Id`.
    pub request_id: String,
    /// `If-Match`.
    pub if_match: Option<u64>,
    /// `Idempotency-Key`.
    pub idempotency_key: Option<String>,
    /// Hash of method, path and body.
    pub digest: String,
}

impl WriteRequest {
    /// A write request whose idempotency digest covers `route` and the body's digest.
    pub fn new(
        route: &str,
        body_digest: &str,
        request_id: String,
        if_match: Option<u64>,
        idempotency_key: Option<String>,
    ) -> Self {
        let digest = Sha256::digest(format!("{route}\n{body_digest}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            request_id,
            if_match,
            idempotency_key,
            digest,
        }
    }
}

/// What a write answers on success.
pub enum Written {
    /// 200 with `{version, position}`.
    Updated,
    /// 201 with `{id, version, position}` and `Location`.
    Created,
}

/// Runs `request` through the application's write path (authorisation, Idempotency-Key,
/// sealing, `If-Match`, the request id) and answers: the first response again for a retried
/// key.
pub async fn execute(
    state: &AppState,
    principal: &Principal,
    id: &str,
    request: Request,
    write: WriteRequest,
    written: Written,
) -> Result<Response, ApiError> {
    let success = match written {
        Written::Updated => StatusCode::OK,
        Written::Created => StatusCode::CREATED,
    };
    let options = WriteOptions {
        request_id: write.request_id,
        if_match: write.if_match,
        idempotency: write.idempotency_key.map(|key| IdempotencyKey {
            key,
            digest: write.digest,
            status: success.as_u16(),
        }),
    };
    match state.writes.write(principal, id, request, options).await? {
        Done::Replayed(recorded) => Ok(replay(recorded, id, &written)),
        Done::Recorded(outcome) => {
            let body = body_of(&written, id, outcome.version, outcome.position)?;
            Ok(respond(success, body, id, outcome.version, &written))
        }
    }
}

/// Runs a domain command on an existing KIM through [`execute`]: 200 with its new version.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    id: &str,
    command: CommunityCommand,
    write: WriteRequest,
) -> Result<Response, ApiError> {
    let request = Request::Command(command);
    execute(state, principal, id, request, write, Written::Updated).await
}

/// The body of a write's success.
fn body_of(written: &Written, id: &str, version: u64, position: u64) -> Result<String, ApiError> {
    match written {
        Written::Updated => serde_json::to_string(&WriteResult { version, position }),
        Written::Created => serde_json::to_string(&crate::dto::Created {
            id: id.to_owned(),
            version,
            position,
        }),
    }
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The first response again (rebuilt from the recorded outcome; kept as sent for keys recorded
/// before outcomes were). It names the community the first request wrote to: for a formation
/// without a chosen id, not the id generated for this retry.
fn replay(recorded: Recorded, id: &str, written: &Written) -> Response {
    let status = StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::OK);
    let sent = recorded
        .body
        .as_deref()
        .and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok());
    let id = recorded
        .community_id
        .clone()
        .or_else(|| {
            sent.as_ref()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| id.to_owned());
    let (body, version) = match (recorded.body, recorded.version, recorded.position) {
        (Some(body), _, _) => {
            let version = sent
                .as_ref()
                .and_then(|value| value["version"].as_u64())
                .unwrap_or_default();
            (body, version)
        }
        (None, version, position) => {
            let (version, position) = (version.unwrap_or_default(), position.unwrap_or_default());
            let body = body_of(written, &id, version, position).unwrap_or_default();
            (body, version)
        }
    };
    let mut response = respond(status, body, &id, version, written);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

fn respond(
    status: StatusCode,
    body: String,
    id: &str,
    version: u64,
    written: &Written,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        headers.insert(header::ETAG, etag);
    }
    if matches!(written, Written::Created) {
        if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/communities/{id}")) {
            headers.insert(header::LOCATION, location);
        }
    }
    response
}

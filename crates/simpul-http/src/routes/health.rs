//! Liveness and readiness.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// How long readiness waits for the database: under the usual 1 s probe timeout, so a probe gets
/// a 503 rather than no answer while the database is down or unreachable.
const READY_TIMEOUT: Duration = Duration::from_millis(500);

/// The database answers within a second; 503 with `Retry-After` otherwise.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses((status = 200, description = "The database answers", body = Health),
              (status = 503, description = "The database does not answer within 500 ms (`Retry-After`)",
               body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Result<(StatusCode, Json<Health>), ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.database.ping()).await {
        Ok(Ok(())) => Ok((StatusCode::OK, Json(Health { status: "ok" }))),
        // Probes come every few seconds: an outage is logged by the requests it fails, not here.
        Ok(Err(error)) => {
            tracing::debug!(error = %error, "not ready");
            Err(ApiError::Unavailable)
        }
        Err(_) => {
            tracing::debug!("not ready: the database did not answer in time");
            Err(ApiError::Unavailable)
        }
    }
}

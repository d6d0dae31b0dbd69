//! The verifiable ledger (`docs/ledger.md`): its latest signed checkpoint.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::ReadErrors;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// The latest signed checkpoint of the ledger: a C2SP `tlog-checkpoint` (origin, tree size,
/// base64 tree head) signed as a C2SP signed note (admin, auditor). Check it with the verifier
/// key `simpul audit key` prints. 404 before the first checkpoint is cut.
#[utoipa::path(get, path = "/ledger/checkpoint", operation_id = "getLedgerCheckpoint", tag = "ledger",
    responses((status = 200, description = "The signed note", content((String = "text/plain"))), ReadErrors),
    security(("bearer" = [])))]
pub async fn checkpoint(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Response, ApiError> {
    let note = state
        .reads
        .ledger_checkpoint(&principal)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        note,
    )
        .into_response())
}

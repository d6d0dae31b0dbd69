//! The verifiable ledger (`docs/ledger.md`): its signed checkpoints, and inclusion and
//! consistency proofs in the global tree or in one province's sub-log. Hashes are standard
//! base64, as in the checkpoints.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use simpul_app::Tree;
use utoipa::{IntoParams, ToSchema};

use super::queries::{invalid, AppQuery};
use super::{QueryErrors, ReadErrors};
use crate::error::ApiError;
use crate::extract::Auth;
use crate::state::AppState;

/// The latest signed checkpoint of the ledger: a C2SP `tlog-checkpoint` (origin, tree size,
/// base64 tree head, and one extension line committing to the per-province sub-logs) signed as a
/// C2SP signed note (admin, auditor). Check it with the verifier key `simpul audit key` prints.
/// 404 before the first checkpoint is cut.
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

/// Parameters of `GET /ledger/checkpoints`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointsParams {
    /// The smallest tree size (default 1).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    from: Option<u64>,
    /// The largest tree size (default: no limit).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    to: Option<u64>,
}

/// One signed checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    /// The tree size it commits to.
    size: u64,
    /// The tree head, base64.
    root: String,
    /// When it was signed (RFC 3339).
    signed_at: String,
    /// The signed note, as published.
    note: String,
    /// The sub-log table its extension line commits to: one `<province> <size> <base64 head>`
    /// line per non-empty province (empty for checkpoints cut before sub-logs existed).
    sublogs: String,
}

/// A page of signed checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointList {
    /// Smallest first, at most 1000.
    items: Vec<CheckpointView>,
    /// The `from` of the next page; absent on the last one.
    next_from: Option<u64>,
}

/// The signed checkpoints with tree sizes in `[from, to]`, smallest first, 1000 at most per
/// page (admin, auditor).
#[utoipa::path(get, path = "/ledger/checkpoints", operation_id = "listLedgerCheckpoints", tag = "ledger",
    params(CheckpointsParams),
    responses((status = 200, description = "The checkpoints", body = CheckpointList), QueryErrors),
    security(("bearer" = [])))]
pub async fn checkpoints(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(params): AppQuery<CheckpointsParams>,
) -> Result<Json<CheckpointList>, ApiError> {
    let from = size("from", params.from)?;
    let to = size("to", params.to)?;
    let found = state.reads.ledger_checkpoints(&principal, from, to).await?;
    let next_from = (found.len() == simpul_app::MAX_CHECKPOINTS as usize)
        .then(|| found.last().map(|last| last.size + 1))
        .flatten();
    Ok(Json(CheckpointList {
        items: found
            .into_iter()
            .map(|checkpoint| CheckpointView {
                size: checkpoint.size,
                root: BASE64.encode(checkpoint.root),
                signed_at: checkpoint.signed_at,
                note: checkpoint.note,
                sublogs: checkpoint.sublogs,
            })
            .collect(),
        next_from,
    }))
}

/// Parameters of `GET /ledger/proofs/inclusion`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionParams {
    /// The leaf (required): a ledger index, or with `province` an index in that province's
    /// sub-log.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    index: Option<u64>,
    /// The tree size the proof is for (required): a checkpoint's size, or the sub-log's size in
    /// it.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    size: Option<u64>,
    /// A province code (`32`): prove inclusion in its sub-log instead of the global tree. A
    /// regional auditor may only ask for its own province; the global tree needs a national
    /// scope.
    #[param(pattern = r"^[0-9]{2}$", example = "32")]
    province: Option<String>,
}

/// An inclusion proof (RFC 9162 §2.1.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionView {
    /// The leaf's index.
    index: u64,
    /// The tree size.
    size: u64,
    /// The province whose sub-log this is in; absent for the global tree.
    province: Option<String>,
    /// The event's global position.
    position: u64,
    /// SHA-256(0x00 || canonical bytes), base64.
    leaf_hash: String,
    /// The audit path from the leaf up, base64.
    path: Vec<String>,
}

/// The proof that a leaf is in the tree of a size: recompute the head from `leaf_hash` and
/// `path` and compare it with a checkpoint's (admin, auditor).
#[utoipa::path(get, path = "/ledger/proofs/inclusion", operation_id = "getInclusionProof", tag = "ledger",
    params(InclusionParams),
    responses((status = 200, description = "The inclusion proof", body = InclusionView), QueryErrors),
    security(("bearer" = [])))]
pub async fn inclusion(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(params): AppQuery<InclusionParams>,
) -> Result<Json<InclusionView>, ApiError> {
    let index = required("index", params.index)?;
    let tree_size = required("size", params.size)?;
    let tree = tree(params.province.as_deref())?;
    let proof = state
        .reads
        .inclusion_proof(&principal, &tree, index, tree_size)
        .await?;
    Ok(Json(InclusionView {
        index: proof.index,
        size: proof.size,
        province: params.province,
        position: proof.position,
        leaf_hash: BASE64.encode(proof.leaf_hash),
        path: encode_all(&proof.path),
    }))
}

/// Parameters of `GET /ledger/proofs/consistency`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// The older tree size (required).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    from: Option<u64>,
    /// The newer tree size (required).
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    to: Option<u64>,
    /// A province code (`32`): prove its sub-log's consistency instead of the global tree's.
    #[param(pattern = r"^[0-9]{2}$", example = "32")]
    province: Option<String>,
}

/// A consistency proof (RFC 9162 §2.1.4).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyView {
    /// The older size.
    from: u64,
    /// The newer size.
    to: u64,
    /// The province whose sub-log this is; absent for the global tree.
    province: Option<String>,
    /// The proof's hashes, base64.
    path: Vec<String>,
}

/// The proof that the tree of `to` leaves extends the tree of `from` leaves: nothing in the
/// older tree was changed or removed (admin, auditor).
#[utoipa::path(get, path = "/ledger/proofs/consistency", operation_id = "getConsistencyProof", tag = "ledger",
    params(ConsistencyParams),
    responses((status = 200, description = "The consistency proof", body = ConsistencyView), QueryErrors),
    security(("bearer" = [])))]
pub async fn consistency(
    State(state): State<AppState>,
    Auth(principal): Auth,
    AppQuery(params): AppQuery<ConsistencyParams>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let from = required("from", params.from)?;
    let to = required("to", params.to)?;
    let tree = tree(params.province.as_deref())?;
    let proof = state
        .reads
        .consistency_proof(&principal, &tree, from, to)
        .await?;
    Ok(Json(ConsistencyView {
        from: proof.from,
        to: proof.to,
        province: params.province,
        path: encode_all(&proof.path),
    }))
}

/// A size or index from a query: at most 2^63 − 1, like every position.
fn size(field: &str, value: Option<u64>) -> Result<Option<u64>, ApiError> {
    super::queries::position(field, value)
}

/// A size or index the proof cannot do without.
fn required(field: &str, value: Option<u64>) -> Result<u64, ApiError> {
    size(field, value)?.ok_or_else(|| invalid(field, "is required"))
}

fn tree(province: Option<&str>) -> Result<Tree, ApiError> {
    match province {
        None => Ok(Tree::Global),
        Some(text) => {
            let code = simpul_domain::RegionCode::parse(text.trim())
                .map_err(|error| invalid("province", &error.to_string()))?;
            Ok(Tree::Province(code))
        }
    }
}

fn encode_all(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|hash| BASE64.encode(hash)).collect()
}

//! `POST /imports`: an existing KIM registry (the CSV of `docs/import.md`) as events, all or
//! nothing — `simpul import` over HTTP, with the same report as JSON. The work is
//! `simpul_app::import`; this file reads the body, checks the role and picks the status.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use simpul_app::import::{self, ImportError, ImportRequest};
use simpul_app::Action;
use utoipa::{IntoParams, ToSchema};

use super::queries::AppQuery;
use crate::error::{ApiError, Problem};
use crate::extract::{Auth, ReqId};
use crate::state::AppState;

/// Largest registry accepted: 8 MiB (about 25,000 rows; a province has a few hundred KIM).
pub const IMPORT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Media types accepted for the body: `text/csv`, and what spreadsheet tools and browsers send
/// for a `.csv` file.
const CSV_TYPES: [&str; 4] = [
    "text/csv",
    "application/csv",
    "application/vnd.ms-excel",
    "text/plain",
];

/// Parameters of `POST /imports`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `true`: check every row and answer the report; write nothing.
    dry_run: Option<bool>,
    /// The file's name, recorded with its SHA-256 in every event's metadata; otherwise the
    /// `filename` of `Content-Disposition`, otherwise `import.csv`. At most 200 characters are
    /// kept.
    #[param(
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$",
        example = "registri-kim-2171.csv"
    )]
    filename: Option<String>,
}

/// One problem with the file (the same shape as `simpul import --report`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `simpul_app::import::RowError` for the OpenAPI document.
pub struct ImportRowError {
    /// The line in the file (the header is line 1).
    line: u64,
    /// The column at fault, as the header names it (`jumlah_anggota`).
    column: String,
    /// The cell's value as written.
    value: String,
    /// `R1` … `R10`, or `header`, `format`, `invalid`, `key`, `scope`, `lifecycle`.
    rule: String,
    /// What is wrong.
    message: String,
}

/// One valid row: the KIM it is and the events it gives.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `simpul_app::import::RowOutcome`.
pub struct ImportRowOutcome {
    /// The line in the file.
    line: u64,
    /// The community id, derived from `key` under a secret of the deployment: the same on every
    /// re-import while the master key stays, and not computable without it (a KIM imported
    /// before ids were keyed keeps its UUID v5 id). `GET /communities/{id}`.
    id: String,
    /// `source:<kabupaten/kota>:<source_id>` or `nomor-induk:<kabupaten/kota>:<nomor induk>`.
    key: String,
    /// `created`, `updated` or `unchanged`.
    outcome: String,
    /// The event types the row gives, in order.
    events: Vec<String>,
}

/// The import report.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // Documents `simpul_app::import::ImportReport`.
pub struct ImportReportBody {
    /// The file's name.
    file: String,
    /// Hex SHA-256 of the body.
    sha256: String,
    /// `,` or `;`.
    delimiter: String,
    /// Whether nothing was to be written.
    dry_run: bool,
    /// `written`, `validated` (dry run) or `failed` (nothing written).
    status: String,
    /// Data rows read.
    rows: usize,
    /// Valid rows that create a KIM.
    created: usize,
    /// Valid rows that update a KIM.
    updated: usize,
    /// Valid rows that change nothing.
    unchanged: usize,
    /// Events of the valid rows.
    events: usize,
    /// Every problem, by line.
    errors: Vec<ImportRowError>,
    /// Every valid row's KIM and events.
    communities: Vec<ImportRowOutcome>,
}

/// Import an existing KIM registry (CSV, UTF-8 with or without BOM, `,` or `;`; columns in
/// `docs/import.md`), all or nothing. For `regency` (rows of its own kabupaten/kota only; others
/// are `scope` errors) and `admin`. **200** with the report when every row is valid (written,
/// or only checked with `dry_run=true`); **422** with the same report when any row failed —
/// then nothing is written. Re-importing the same file writes nothing new.
#[utoipa::path(post, path = "/imports", operation_id = "importRegistry", tag = "imports",
    params(ImportParams),
    request_body(content = String, content_type = "text/csv",
        description = "The registry file, one row per KIM"),
    responses(
        (status = 200, description = "Every row valid: written, or checked (`dry_run`)",
            body = ImportReportBody),
        (status = 400, body = Problem, content_type = "application/problem+json",
            description = "The body is not a readable CSV (not UTF-8, empty)"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            description = "No valid bearer token"),
        (status = 403, body = Problem, content_type = "application/problem+json",
            description = "The role may not import"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "Another writer changed a KIM of the file meanwhile; nothing written"),
        (status = 413, body = Problem, content_type = "application/problem+json",
            description = "Body over 8 MiB or more than 20,000 rows"),
        (status = 415, body = Problem, content_type = "application/problem+json",
            description = "Body not `text/csv`"),
        (status = 422, description = "Some rows failed; nothing written", body = ImportReportBody),
        (status = 503, body = Problem, content_type = "application/problem+json",
            description = "The database is unavailable (`Retry-After`); nothing written")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ReqId(request_id): ReqId,
    AppQuery(params): AppQuery<ImportParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !principal.can(Action::ImportRegistry) {
        return Err(ApiError::Forbidden(format!(
            "role `{}` may not {}",
            principal.role,
            Action::ImportRegistry.describe()
        )));
    }
    check_content_type(&headers)?;
    let bytes = read_body(body).await?;
    let file_name = params
        .filename
        .or_else(|| content_disposition_filename(&headers))
        .unwrap_or_else(|| "import.csv".to_owned());
    let context = principal.command_context(request_id, None);
    let request = ImportRequest {
        file_name: &file_name,
        bytes: &bytes,
        context: &context,
        scope: &principal.scope,
        dry_run: params.dry_run.unwrap_or(false),
        recorded_at: Utc::now(),
    };
    let report = import::run(
        state.store(),
        &state.keys,
        state.executor.services(),
        request,
    )
    .await
    .map_err(import_error)?;
    let status = if report.failed() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| mime.trim().to_ascii_lowercase());
    match mime {
        Some(mime) if CSV_TYPES.contains(&mime.as_str()) => Ok(()),
        _ => Err(ApiError::UnreadableBody(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request body must be a CSV file (Content-Type: text/csv)".to_owned(),
        )),
    }
}

/// The body, at most [`IMPORT_BODY_LIMIT`] bytes (this route reads more than the API's 1 MiB).
async fn read_body(body: Body) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| ApiError::unreadable_body(&error))?;
        if bytes.len() + chunk.len() > IMPORT_BODY_LIMIT {
            return Err(too_large("request body is larger than 8 MiB"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn too_large(detail: &str) -> ApiError {
    ApiError::UnreadableBody(StatusCode::PAYLOAD_TOO_LARGE, detail.to_owned())
}

/// `filename` of `Content-Disposition: attachment; filename="registri.csv"`.
fn content_disposition_filename(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_DISPOSITION)?.to_str().ok()?;
    value.split(';').find_map(|part| {
        let (name, value) = part.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("filename"))
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|name| !name.is_empty())
    })
}

fn import_error(error: ImportError) -> ApiError {
    match error {
        ImportError::TooManyRows { .. } => too_large(&error.to_string()),
        error if error.is_unreadable() => ApiError::Malformed {
            detail: error.to_string(),
            field: None,
        },
        ImportError::Conflict(_) => ApiError::Conflict {
            detail: error.to_string(),
            rule: None,
            field: None,
        },
        ImportError::Store(store) => store.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

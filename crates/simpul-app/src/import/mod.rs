//! Importing an existing KIM registry — the spreadsheets supervisors bring from KIM.id or the
//! Dinas — as events (`simpul import`, `POST /api/v1/imports`; the file format is `docs/import.md`).
//!
//! All or nothing: every row is read ([`csv`]), checked against the token's scope, given its
//! identity, and turned into the events the aggregate decides for it against the KIM's current
//! state ([`plan`]). Only when no row has an error is everything written, in one
//! [`EventStore::append_bulk`] transaction; otherwise the report lists every bad row (line,
//! column, value, rule) and nothing is written. A re-import finds each KIM's stream again
//! (the id is derived from the import key under a secret of the deployment, [`ImportIds`]) and
//! writes only what changed.

pub mod csv;
mod plan;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use simpul_domain::CommunityServices;
use simpul_store::{BulkMessage, EventStore, KeyStore, StoreError};

use crate::auth::Scope;
use crate::executor::CommandContext;

pub use self::csv::{Column, MAX_ROWS};
pub use self::plan::{import_key, legacy_community_id, ImportIds};

/// Longest file name kept in the report and the events' metadata.
const MAX_FILE_NAME: usize = 200;

/// Events per batch streamed into an import's transaction while the rest is planned.
const STREAM_BATCH_EVENTS: u64 = 5_000;

/// Batches planned ahead of the writer.
const STREAM_DEPTH: usize = 4;

/// Why an import could not even be checked, or could not be written. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bytes are not UTF-8.
    #[error(
        "the file is not UTF-8 text (first bad byte on line {line}); save it as \"CSV UTF-8\""
    )]
    NotUtf8 {
        /// The line of the first invalid byte.
        line: u64,
    },
    /// No header line.
    #[error("the file is empty: expected a header line and one row per KIM")]
    Empty,
    /// More rows than one import takes.
    #[error("the file has more than {max} rows; split it into several imports")]
    TooManyRows {
        /// The limit.
        max: usize,
    },
    /// The CSV cannot be read at all.
    #[error("the file cannot be read as CSV: {0}")]
    Csv(String),
    /// Another writer changed a KIM of the file, or took one of its nomor induk, between the
    /// check and the write.
    #[error(
        "another writer changed the registry while this import was being written; nothing was \
         written, run the import again ({0})"
    )]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// Sealing an officer's name failed (should not happen).
    #[error("sealing an officer's name failed")]
    Seal,
}

impl ImportError {
    /// Whether the file itself is at fault (unreadable), as opposed to the store.
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            ImportError::NotUtf8 { .. }
                | ImportError::Empty
                | ImportError::TooManyRows { .. }
                | ImportError::Csv(_)
        )
    }
}

impl From<StoreError> for ImportError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::BulkConflict(detail) => ImportError::Conflict(detail),
            StoreError::Conflict { aggregate_id, .. } => ImportError::Conflict(aggregate_id),
            StoreError::DuplicateRegistrationNumber { regency, number } => {
                ImportError::Conflict(format!("nomor induk {number} in {regency}"))
            }
            other => ImportError::Store(other),
        }
    }
}

/// One problem with the file: where (line, column), what (the cell's value) and which rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault, as the header names it (`jumlah_anggota`), or `-`.
    pub column: String,
    /// The cell's value as written (trimmed).
    pub value: String,
    /// `R1` … `R10`, or `header`, `format`, `invalid`, `key`, `scope`, `lifecycle`.
    pub rule: String,
    /// What is wrong, for humans.
    pub message: String,
}

impl RowError {
    /// An unknown, repeated or missing header name.
    pub fn header(line: u64, name: &str, message: impl Into<String>) -> Self {
        Self {
            line,
            column: name.trim().to_owned(),
            value: name.trim().to_owned(),
            rule: "header".to_owned(),
            message: message.into(),
        }
    }

    /// A malformed or missing cell.
    pub fn format(line: u64, column: &str, value: &str, message: impl Into<String>) -> Self {
        Self::rule("format", line, column, value, message)
    }

    /// A broken rule (`R1` … `R10`) or another kind of problem.
    pub fn rule(
        rule: &str,
        line: u64,
        column: &str,
        value: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            line,
            column: column.to_owned(),
            value: value.to_owned(),
            rule: rule.to_owned(),
            message: message.into(),
        }
    }
}

/// What happened to the import as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Every row was valid and the events were written (one transaction).
    Written,
    /// `--dry-run` / `?dry_run=true`: every row was valid; nothing was written.
    Validated,
    /// At least one row (or the header) failed; nothing was written.
    Failed,
}

/// What a valid row means for its KIM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcomeKind {
    /// A new KIM (its stream did not exist).
    Created,
    /// An existing KIM with updating or compensating events.
    Updated,
    /// An existing KIM the row agrees with: no event.
    Unchanged,
}

/// One valid row: the KIM it is and the events it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowOutcome {
    /// The line in the file.
    pub line: u64,
    /// The community id: derived from `key` under the deployment's import id secret
    /// ([`ImportIds::community_id`]), or the legacy id of a KIM an earlier import formed there.
    pub id: String,
    /// The import key: `source:<kabupaten/kota>:<source_id>` or
    /// `nomor-induk:<kabupaten/kota>:<nomor induk>`.
    pub key: String,
    /// Created, updated or unchanged.
    pub outcome: RowOutcomeKind,
    /// The types of the events it gives, in order.
    pub events: Vec<String>,
}

/// The answer of an import, printed by the CLI and returned by the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The file's name.
    pub file: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The delimiter found (`,` or `;`); empty when the header could not be read.
    pub delimiter: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Written, validated (dry run) or failed.
    pub status: ImportStatus,
    /// Data rows read (blank rows are skipped).
    pub rows: usize,
    /// Valid rows that create a KIM.
    pub created: usize,
    /// Valid rows that update a KIM.
    pub updated: usize,
    /// Valid rows that change nothing.
    pub unchanged: usize,
    /// Events of the valid rows (written only when `status` is `written`).
    pub events: usize,
    /// Every problem found, by line. Empty unless `status` is `failed`.
    pub errors: Vec<RowError>,
    /// Every valid row's KIM and events.
    pub communities: Vec<RowOutcome>,
}

impl ImportReport {
    /// Whether any row failed.
    pub fn failed(&self) -> bool {
        self.status == ImportStatus::Failed
    }
}

/// One import to run.
pub struct ImportRequest<'a> {
    /// The file's name as given (only its last path segment is kept).
    pub file_name: &'a str,
    /// The file's bytes.
    pub bytes: &'a [u8],
    /// Who imports (actor, role, request id) — stamped on every event (R11).
    pub context: &'a CommandContext,
    /// Rows outside this scope are errors (`scope`).
    pub scope: &'a Scope,
    /// Check and report only.
    pub dry_run: bool,
    /// Server time; also gives the import date (WIB) of the updating events.
    pub recorded_at: DateTime<Utc>,
}

/// The file name kept: the last path segment, without control characters, at most 200
/// characters; `import.csv` when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "import.csv".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// The import date: the date in Western Indonesia (WIB, UTC+7) at `recorded_at`.
pub fn import_date(recorded_at: DateTime<Utc>) -> NaiveDate {
    (recorded_at + Duration::hours(7)).date_naive()
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks every row of the file and, when all are valid and this is not a dry run, writes their
/// events, nomor induk claims and officers' keys in one transaction.
///
/// Rows that fail are in the report (`Ok` with status `failed`); an `Err` is a file that cannot be
/// read or a store that fails — nothing is written in either case.
pub async fn run(
    store: &EventStore,
    keys: &KeyStore,
    services: &CommunityServices,
    request: ImportRequest<'_>,
) -> Result<ImportReport, ImportError> {
    let file = clean_file_name(request.file_name);
    let sha256 = sha256_hex(request.bytes);
    let parsed = csv::read(request.bytes)?;
    let mut report = ImportReport {
        file: file.clone(),
        sha256: sha256.clone(),
        delimiter: parsed.delimiter.to_string(),
        dry_run: request.dry_run,
        status: ImportStatus::Failed,
        rows: parsed.rows.len(),
        created: 0,
        updated: 0,
        unchanged: 0,
        events: 0,
        errors: Vec::new(),
        communities: Vec::new(),
    };
    if !parsed.header_errors.is_empty() {
        report.errors = parsed.header_errors;
        return Ok(report);
    }
    let today = import_date(request.recorded_at);
    let mut errors = parsed.row_errors;
    let failed_lines: std::collections::HashSet<u64> = errors.iter().map(|e| e.line).collect();
    let mut rows = Vec::with_capacity(parsed.rows.len());
    for raw in parsed.rows {
        if failed_lines.contains(&raw.line) {
            continue;
        }
        match csv::parse_row(raw, today) {
            Ok(row) => rows.push(row),
            Err(row_errors) => errors.extend(row_errors),
        }
    }
    let keyed = plan::identify(rows, request.scope, &mut errors);
    let prefetched = plan::Prefetched::read(store, keys, ImportIds::of(keys), &keyed).await?;
    let planner = plan::Planner {
        prefetched: &prefetched,
        keys,
        services,
        context: request.context,
        file: &file,
        sha256: &sha256,
        import_date: today,
        recorded_at: request.recorded_at,
    };
    // While every row so far is valid, planned rows are streamed into one open transaction, so
    // the database stores them while the rest are planned. It is committed only after the last
    // row; the first bad row drops the stream, which rolls everything back (all or nothing).
    let mut stream = (errors.is_empty() && !request.dry_run).then(|| {
        let (sender, receiver) = tokio::sync::mpsc::channel(STREAM_DEPTH);
        let store = store.clone();
        let writer = tokio::spawn(async move { store.write_bulk_streamed(receiver).await });
        (sender, writer)
    });
    let mut batch = store.bulk_batch();
    let mut outcomes = Vec::with_capacity(keyed.len());
    for (row, key) in keyed {
        match planner.plan(&row, &key, request.scope) {
            Ok(plan) => {
                if let Some((sender, _)) = &stream {
                    for append in &plan.appends {
                        batch.push(append)?;
                    }
                    batch.push_keys(plan.keys);
                    if batch.events() >= STREAM_BATCH_EVENTS {
                        let full = std::mem::replace(&mut batch, store.bulk_batch());
                        // A writer that stopped answers with its error below.
                        let _ = sender.send(BulkMessage::Batch(full)).await;
                    }
                }
                outcomes.push(plan.outcome);
            }
            Err(plan::Failure::Row(error)) => {
                errors.push(*error);
                roll_back(stream.take()).await;
            }
            Err(plan::Failure::Fatal(error)) => {
                roll_back(stream.take()).await;
                return Err(error);
            }
        }
    }
    if let Some((sender, writer)) = stream.take() {
        // A send fails only when the writer has stopped; its answer says why.
        if sender.send(BulkMessage::Batch(batch)).await.is_ok() {
            let _ = sender.send(BulkMessage::Commit).await;
        }
        drop(sender);
        let written = writer
            .await
            .map_err(|e| StoreError::Unavailable(format!("the import's writer stopped: {e}")))??;
        if written.is_none() {
            return Err(StoreError::Unavailable("the import's writer stopped".to_owned()).into());
        }
    }
    errors.sort_by_key(|e| e.line);
    for outcome in &outcomes {
        match outcome.outcome {
            RowOutcomeKind::Created => report.created += 1,
            RowOutcomeKind::Updated => report.updated += 1,
            RowOutcomeKind::Unchanged => report.unchanged += 1,
        }
        report.events += outcome.events.len();
    }
    report.communities = outcomes;
    report.errors = errors;
    report.status = if !report.errors.is_empty() {
        ImportStatus::Failed
    } else if request.dry_run {
        ImportStatus::Validated
    } else {
        ImportStatus::Written
    };
    tracing::info!(
        file = %report.file,
        sha256 = %report.sha256,
        rows = report.rows,
        created = report.created,
        updated = report.updated,
        unchanged = report.unchanged,
        events = report.events,
        errors = report.errors.len(),
        status = ?report.status,
        "registry import"
    );
    Ok(report)
}

/// An import's open transaction: the channel its rows go into and the task writing them.
type Stream = (
    tokio::sync::mpsc::Sender<BulkMessage>,
    tokio::task::JoinHandle<Result<Option<simpul_store::BulkOutcome>, StoreError>>,
);

/// Closes the stream without committing and waits for the transaction to roll back (a failure to
/// roll back is not the file's to report).
async fn roll_back(stream: Option<Stream>) {
    if let Some((sender, writer)) = stream {
        drop(sender);
        let _ = writer.await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn file_names_keep_their_last_segment_only() {
        assert_eq!(clean_file_name("C:\\data\\registri.csv"), "registri.csv");
        assert_eq!(clean_file_name("/tmp/a/b.csv"), "b.csv");
        assert_eq!(clean_file_name("  "), "import.csv");
        assert_eq!(clean_file_name("../.."), "import.csv");
        assert_eq!(clean_file_name("a\nb.csv"), "ab.csv");
    }

    #[test]
    fn the_import_date_is_the_date_in_wib() {
        let late = DateTime::parse_from_rfc3339("2025-06-30T18:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(import_date(late).to_string(), "2025-07-01");
    }
}

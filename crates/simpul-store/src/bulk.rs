//! Bulk writes: many communities' events, their nomor induk claims and their persons' keys in
//! one transaction — all or nothing. Used by the demo generator and the registry import, whose
//! events were decided by the same aggregate as the API's; only the persistence differs: `COPY`
//! on PostgreSQL, one large transaction of prepared inserts on SQLite.
//!
//! The caller bounds the size of each call (memory, and on SQLite the single writer's turn). On
//! PostgreSQL a long bulk transaction holds no reader back: the feed gives every other
//! transaction's events as they commit, and this one's after them once it commits (migration
//! `…80_feed_commits`).

use crate::event_store::CLAIM_REGISTRATION_SQLITE;
use chrono::{SecondsFormat, Utc};
use uuid::Uuid;

use crate::db::{Backend, Database};
use crate::error::StoreError;
use crate::event_store::{Append, EventStore, RegistrationClaim, AGGREGATE_TYPE};
use crate::idempotency::{
    complete_with_body_in_postgres, complete_with_body_in_sqlite, Completion,
};

/// A person's data key, wrapped by the master key, ready to be stored.
#[derive(Clone, Debug)]
pub struct WrappedKey {
    /// The person.
    pub person_id: Uuid,
    /// The data key, encrypted by the master key.
    pub wrapped: Vec<u8>,
    /// The nonce of that encryption.
    pub nonce: Vec<u8>,
}

/// What one bulk write stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Events appended.
    pub events: u64,
    /// Nomor induk claims taken.
    pub claims: u64,
    /// Person keys stored.
    pub keys: u64,
}

/// Where one event of a bulk write landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkAppended {
    /// The community.
    pub community_id: String,
    /// Its sequence within the community.
    pub sequence: u64,
    /// Its global position.
    pub position: u64,
}

/// The outcome an idempotent request over many communities records in the transaction of its
/// bulk write ([`EventStore::append_bulk_completing`]): a crash leaves both or neither.
pub struct BulkCompletion<'a> {
    /// The request's claim on its `Idempotency-Key`.
    pub completion: &'a Completion,
    /// The response body to record, made from where the events landed (given in the order of
    /// the appends, each append's events in sequence order).
    pub body: &'a (dyn Fn(&[BulkAppended]) -> Result<String, StoreError> + Send + Sync),
}

/// Why a bulk write that answers a request wrote nothing.
enum BulkFailure {
    Sql(sqlx::Error),
    Store(StoreError),
    /// The idempotent request's claim on its key is not its own any more.
    ClaimLost,
}

impl From<sqlx::Error> for BulkFailure {
    fn from(error: sqlx::Error) -> Self {
        BulkFailure::Sql(error)
    }
}

impl From<StoreError> for BulkFailure {
    fn from(error: StoreError) -> Self {
        BulkFailure::Store(error)
    }
}

/// One event row as stored (SQLite: bound as parameters).
struct Row {
    community_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: std::sync::Arc<str>,
}

/// The event rows, nomor induk claims and person keys of one bulk write, rendered for the store's
/// backend ahead of the write: serialising payloads and metadata and, on PostgreSQL, the `COPY`
/// text is CPU work that can run on another thread while the previous batch is being written, so
/// the write itself only streams bytes.
pub struct BulkBatch {
    backend: Backend,
    /// PostgreSQL: the event rows as `COPY … WITH (FORMAT csv)` text.
    csv: Csv,
    /// SQLite: the event rows.
    rows: Vec<Row>,
    claims: Vec<(String, RegistrationClaim)>,
    keys: Vec<WrappedKey>,
    events: u64,
}

impl BulkBatch {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            csv: Csv::with_capacity(0),
            rows: Vec::new(),
            claims: Vec::new(),
            keys: Vec::new(),
            events: 0,
        }
    }

    /// Adds one append: its events after its `after_sequence`, and its claims. Checks R11 on the
    /// metadata.
    pub fn push(&mut self, append: &Append) -> Result<(), StoreError> {
        let metadata = serde_json::to_string(&append.metadata.to_map()?)?;
        let shared: std::sync::Arc<str> = metadata.as_str().into();
        for (event, sequence) in append.events.iter().zip(append.after_sequence + 1..) {
            let sequence = i64::try_from(sequence)
                .map_err(|_| StoreError::Config(format!("sequence {sequence} is too large")))?;
            match self.backend {
                Backend::Postgres => self
                    .csv
                    .text(AGGREGATE_TYPE)
                    .text(&append.community_id)
                    .number(sequence)
                    .text(&event.event_type)
                    .text(&event.event_version)
                    .text(&event.payload)
                    .text(&metadata)
                    .end_row(),
                Backend::Sqlite => self.rows.push(Row {
                    community_id: append.community_id.clone(),
                    sequence,
                    event_type: event.event_type.clone(),
                    event_version: event.event_version.clone(),
                    payload: event.payload.clone(),
                    metadata: shared.clone(),
                }),
            }
            self.events += 1;
        }
        self.claims.extend(
            append
                .claims
                .iter()
                .map(|claim| (append.community_id.clone(), claim.clone())),
        );
        Ok(())
    }

    /// Adds person keys, stored in the same transaction as the events.
    pub fn push_keys(&mut self, keys: impl IntoIterator<Item = WrappedKey>) {
        self.keys.extend(keys);
    }

    /// Events in the batch.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Whether the batch would write nothing.
    pub fn is_empty(&self) -> bool {
        self.events == 0 && self.claims.is_empty() && self.keys.is_empty()
    }

    fn outcome(&self) -> BulkOutcome {
        BulkOutcome {
            events: self.events,
            claims: self.claims.len() as u64,
            keys: self.keys.len() as u64,
        }
    }

    /// Moves `other`'s claims and keys into this batch (their rows have been sent).
    fn absorb_claims_and_keys(&mut self, other: BulkBatch) {
        self.claims.extend(other.claims);
        self.keys.extend(other.keys);
        self.events += other.events;
    }
}

/// What the producer of a [`EventStore::write_bulk_streamed`] sends.
pub enum BulkMessage {
    /// More rows of the same transaction.
    Batch(BulkBatch),
    /// Everything was sent: commit. A channel closed without it rolls back.
    Commit,
}

impl EventStore {
    /// An empty batch for this store's backend.
    pub fn bulk_batch(&self) -> BulkBatch {
        BulkBatch::new(self.database().backend())
    }

    /// Appends every `Append` (each after its `after_sequence`, as decided), with their claims
    /// and the given person keys, in one transaction. A stream that moved meanwhile or a nomor
    /// induk already claimed fails the whole call and nothing is written.
    pub async fn append_bulk(
        &self,
        appends: &[Append],
        keys: &[WrappedKey],
    ) -> Result<BulkOutcome, StoreError> {
        let mut batch = self.bulk_batch();
        for append in appends {
            batch.push(append)?;
        }
        batch.push_keys(keys.iter().cloned());
        self.write_bulk(&batch).await
    }

    /// [`append_bulk`](Self::append_bulk) for a request that answers where its events landed:
    /// returns every event's sequence and global position (in the order of `appends`) and, for
    /// an idempotent request (`completes`), records its response in the same transaction. All or
    /// nothing as `append_bulk`: a stream that moved meanwhile fails the whole call
    /// ([`StoreError::BulkConflict`]); a claim on the key taken over meanwhile too
    /// ([`StoreError::IdempotencyClaimLost`]). Appends without events write (and record) nothing.
    pub async fn append_bulk_completing(
        &self,
        appends: &[Append],
        completes: Option<BulkCompletion<'_>>,
    ) -> Result<Vec<BulkAppended>, StoreError> {
        let mut batch = self.bulk_batch();
        let mut wanted = Vec::new();
        for append in appends {
            batch.push(append)?;
            for sequence in (append.after_sequence + 1..).take(append.events.len()) {
                let sequence = i64::try_from(sequence)
                    .map_err(|_| StoreError::Config(format!("sequence {sequence} is too large")))?;
                wanted.push((append.community_id.as_str(), sequence));
            }
        }
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let written = match self.database() {
            Database::Postgres(pool) => {
                placed_postgres(pool, &batch, &wanted, completes.as_ref()).await
            }
            Database::Sqlite { writer, .. } => {
                placed_sqlite(writer, &batch, &wanted, completes.as_ref()).await
            }
        };
        let placed = match written {
            Ok(placed) => placed,
            Err(BulkFailure::Sql(error)) => return Err(classify(error)),
            Err(BulkFailure::Store(error)) => return Err(error),
            Err(BulkFailure::ClaimLost) => {
                return Err(StoreError::IdempotencyClaimLost(
                    completes
                        .map(|c| c.completion.key.clone())
                        .unwrap_or_default(),
                ))
            }
        };
        self.appended().notify_waiters();
        Ok(placed)
    }

    /// One transaction fed while its rows are still being decided: batches are streamed into the
    /// `COPY` as they arrive, so the database works while the producer plans the rest; their
    /// claims and keys are stored after the rows, in the same transaction. Commits when the
    /// producer sends [`BulkMessage::Commit`]; if the channel closes without it (the producer
    /// found a bad row, or failed) everything is rolled back and the answer is `Ok(None)`.
    /// Conflicts fail the whole transaction as in [`EventStore::append_bulk`].
    pub async fn write_bulk_streamed(
        &self,
        mut messages: tokio::sync::mpsc::Receiver<BulkMessage>,
    ) -> Result<Option<BulkOutcome>, StoreError> {
        let written = match self.database() {
            Database::Postgres(pool) => streamed_postgres(pool, &mut messages).await,
            Database::Sqlite { writer, .. } => streamed_sqlite(writer, &mut messages).await,
        };
        let written = written.map_err(classify)?;
        if written.is_some() {
            self.appended().notify_waiters();
        }
        Ok(written)
    }

    /// Writes a rendered batch in one transaction: all of it, or nothing (see
    /// [`EventStore::append_bulk`]).
    pub async fn write_bulk(&self, batch: &BulkBatch) -> Result<BulkOutcome, StoreError> {
        if batch.backend != self.database().backend() {
            return Err(StoreError::Config(
                "a bulk batch rendered for another backend".to_owned(),
            ));
        }
        if batch.is_empty() {
            return Ok(BulkOutcome::default());
        }
        let written = match self.database() {
            Database::Postgres(pool) => bulk_postgres(pool, batch).await,
            Database::Sqlite { writer, .. } => bulk_sqlite(writer, batch).await,
        };
        written.map_err(classify)?;
        self.appended().notify_waiters();
        Ok(batch.outcome())
    }
}

const COPY_EVENTS: &str = "COPY events (aggregate_type, aggregate_id, sequence, event_type,
                           event_version, payload, metadata) FROM STDIN WITH (FORMAT csv)";

async fn streamed_postgres(
    pool: &sqlx::PgPool,
    messages: &mut tokio::sync::mpsc::Receiver<BulkMessage>,
) -> Result<Option<BulkOutcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut rest = BulkBatch::new(Backend::Postgres);
    {
        let mut copy = tx.copy_in_raw(COPY_EVENTS).await?;
        let committed = loop {
            match messages.recv().await {
                Some(BulkMessage::Batch(batch)) => {
                    for piece in batch.csv.buffer.as_bytes().chunks(COPY_PIECE) {
                        copy.send(piece).await?;
                    }
                    rest.absorb_claims_and_keys(batch);
                }
                Some(BulkMessage::Commit) => break true,
                None => break false,
            }
        };
        if !committed {
            copy.abort("the producer of this bulk write stopped")
                .await?;
            return Ok(None);
        }
        copy.finish().await?;
    }
    insert_keys_and_claims(&mut tx, &rest).await?;
    tx.commit().await?;
    Ok(Some(rest.outcome()))
}

async fn streamed_sqlite(
    writer: &sqlx::SqlitePool,
    messages: &mut tokio::sync::mpsc::Receiver<BulkMessage>,
) -> Result<Option<BulkOutcome>, sqlx::Error> {
    let mut tx = writer.begin().await?;
    let mut outcome = BulkOutcome::default();
    loop {
        match messages.recv().await {
            Some(BulkMessage::Batch(batch)) => {
                insert_sqlite(&mut tx, &batch).await?;
                let written = batch.outcome();
                outcome.events += written.events;
                outcome.claims += written.claims;
                outcome.keys += written.keys;
            }
            Some(BulkMessage::Commit) => break,
            // Dropping the transaction rolls it back.
            None => return Ok(None),
        }
    }
    tx.commit().await?;
    Ok(Some(outcome))
}

async fn insert_keys_and_claims(
    tx: &mut sqlx::PgConnection,
    batch: &BulkBatch,
) -> Result<(), sqlx::Error> {
    let keys = &batch.keys;
    if !keys.is_empty() {
        sqlx::query(
            "INSERT INTO person_keys (person_id, wrapped_key, nonce, created_at)
             SELECT id, wrapped, nonce, now() FROM UNNEST($1::uuid[], $2::bytea[], $3::bytea[])
                 AS k(id, wrapped, nonce)",
        )
        .bind(keys.iter().map(|k| k.person_id).collect::<Vec<_>>())
        .bind(
            keys.iter()
                .map(|k| k.wrapped.as_slice())
                .collect::<Vec<_>>(),
        )
        .bind(keys.iter().map(|k| k.nonce.as_slice()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    let claims = &batch.claims;
    if !claims.is_empty() {
        sqlx::query(
            "INSERT INTO registration_claims (regency, number, community_id, sequence)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[])",
        )
        .bind(
            claims
                .iter()
                .map(|(_, c)| c.regency.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            claims
                .iter()
                .map(|(_, c)| c.number.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(claims.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())
        .bind(
            claims
                .iter()
                .map(|(_, c)| c.sequence as i64)
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn bulk_postgres(pool: &sqlx::PgPool, batch: &BulkBatch) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    write_postgres(&mut tx, batch).await?;
    tx.commit().await
}

/// A batch's keys, claims and rows, inside the caller's PostgreSQL transaction.
async fn write_postgres(tx: &mut sqlx::PgConnection, batch: &BulkBatch) -> Result<(), sqlx::Error> {
    insert_keys_and_claims(&mut *tx, batch).await?;
    if !batch.csv.buffer.is_empty() {
        let mut copy = tx.copy_in_raw(COPY_EVENTS).await?;
        // COPY data may be cut anywhere; a row spanning two messages is fine.
        for piece in batch.csv.buffer.as_bytes().chunks(COPY_PIECE) {
            copy.send(piece).await?;
        }
        copy.finish().await?;
    }
    Ok(())
}

/// [`EventStore::append_bulk_completing`] on PostgreSQL: the batch, then (same transaction)
/// where its events landed and the request's outcome.
async fn placed_postgres(
    pool: &sqlx::PgPool,
    batch: &BulkBatch,
    wanted: &[(&str, i64)],
    completes: Option<&BulkCompletion<'_>>,
) -> Result<Vec<BulkAppended>, BulkFailure> {
    let mut tx = pool.begin().await?;
    write_postgres(&mut tx, batch).await?;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT e.aggregate_id, e.sequence, e.position
           FROM events e
           JOIN UNNEST($2::text[], $3::bigint[]) AS w(aggregate_id, sequence)
             ON e.aggregate_id = w.aggregate_id AND e.sequence = w.sequence
          WHERE e.aggregate_type = $1",
    )
    .bind(AGGREGATE_TYPE)
    .bind(wanted.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(
        wanted
            .iter()
            .map(|(_, sequence)| *sequence)
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let placed = in_order(wanted, rows)?;
    if let Some(completes) = completes {
        let body = (completes.body)(&placed)?;
        let last = placed.iter().map(|p| p.position).max().unwrap_or(0);
        if !complete_with_body_in_postgres(&mut tx, completes.completion, &body, last).await? {
            return Err(BulkFailure::ClaimLost);
        }
    }
    tx.commit().await?;
    Ok(placed)
}

/// [`EventStore::append_bulk_completing`] on SQLite (the single writer's transaction).
async fn placed_sqlite(
    writer: &sqlx::SqlitePool,
    batch: &BulkBatch,
    wanted: &[(&str, i64)],
    completes: Option<&BulkCompletion<'_>>,
) -> Result<Vec<BulkAppended>, BulkFailure> {
    let mut tx = writer.begin().await?;
    insert_sqlite(&mut tx, batch).await?;
    let mut rows = Vec::with_capacity(wanted.len());
    for (community_id, sequence) in wanted {
        let position: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM events
              WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND sequence = ?3",
        )
        .bind(AGGREGATE_TYPE)
        .bind(*community_id)
        .bind(*sequence)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(position) = position {
            rows.push(((*community_id).to_owned(), *sequence, position));
        }
    }
    let placed = in_order(wanted, rows)?;
    if let Some(completes) = completes {
        let body = (completes.body)(&placed)?;
        let last = placed.iter().map(|p| p.position).max().unwrap_or(0);
        if !complete_with_body_in_sqlite(&mut tx, completes.completion, &body, last).await? {
            return Err(BulkFailure::ClaimLost);
        }
    }
    tx.commit().await?;
    Ok(placed)
}

/// The rows `(community, sequence, position)` read back, in the order `wanted` names them; one
/// missing means the write did not store what it was given.
fn in_order(
    wanted: &[(&str, i64)],
    rows: Vec<(String, i64, i64)>,
) -> Result<Vec<BulkAppended>, StoreError> {
    let found: std::collections::HashMap<(String, i64), i64> = rows
        .into_iter()
        .map(|(id, sequence, position)| ((id, sequence), position))
        .collect();
    wanted
        .iter()
        .map(|(id, sequence)| {
            let position = found
                .get(&((*id).to_owned(), *sequence))
                .copied()
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "event {sequence} of {id} was written but does not read back"
                    ))
                })?;
            Ok(BulkAppended {
                community_id: (*id).to_owned(),
                sequence: u64::try_from(*sequence)
                    .map_err(|_| StoreError::Corrupt(format!("sequence {sequence}")))?,
                position: u64::try_from(position)
                    .map_err(|_| StoreError::Corrupt(format!("position {position}")))?,
            })
        })
        .collect()
}

/// Bytes per `CopyData` message.
const COPY_PIECE: usize = 1 << 20;

/// Renders CSV rows (`COPY … WITH (FORMAT csv)`) at the end of a buffer.
struct Csv {
    buffer: String,
    fields: usize,
}

impl Csv {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            buffer: String::with_capacity(capacity),
            fields: 0,
        }
    }

    fn separator(&mut self) {
        if self.fields > 0 {
            self.buffer.push(',');
        }
        self.fields += 1;
    }

    /// A text field, quoted, with `"` doubled.
    fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        self.buffer.reserve(value.len() + 2);
        self.buffer.push('"');
        let mut pieces = value.split('"');
        if let Some(first) = pieces.next() {
            self.buffer.push_str(first);
        }
        for piece in pieces {
            self.buffer.push_str("\"\"");
            self.buffer.push_str(piece);
        }
        self.buffer.push('"');
        self
    }

    /// A text field or NULL (an unquoted empty field).
    fn optional(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => {
                self.separator();
                self
            }
        }
    }

    fn number(&mut self, value: i64) -> &mut Self {
        use std::fmt::Write as _;
        self.separator();
        // Writing to a String cannot fail.
        let _ = write!(self.buffer, "{value}");
        self
    }

    fn end_row(&mut self) {
        self.buffer.push('\n');
        self.fields = 0;
    }
}

/// Rows streamed into `COPY … FROM STDIN WITH (FORMAT csv)` (PostgreSQL), sent in 1 MiB pieces.
pub struct CopyCsv<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut sqlx::PgConnection>,
    csv: Csv,
}

impl<'c> CopyCsv<'c> {
    /// Starts `statement` (a `COPY … FROM STDIN WITH (FORMAT csv)`) on `connection`.
    pub async fn start(
        connection: &'c mut sqlx::PgConnection,
        statement: &str,
    ) -> Result<Self, sqlx::Error> {
        Ok(Self {
            copy: connection.copy_in_raw(statement).await?,
            csv: Csv::with_capacity(COPY_PIECE + (COPY_PIECE >> 2)),
        })
    }

    /// A text field, quoted with `"` doubled.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.csv.text(value);
        self
    }

    /// A text field or NULL (an unquoted empty field).
    pub fn optional(&mut self, value: Option<&str>) -> &mut Self {
        self.csv.optional(value);
        self
    }

    /// A number.
    pub fn number(&mut self, value: i64) -> &mut Self {
        self.csv.number(value);
        self
    }

    /// Ends the row; sends what is buffered once it passes 1 MiB.
    pub async fn end_row(&mut self) -> Result<(), sqlx::Error> {
        self.csv.end_row();
        if self.csv.buffer.len() > COPY_PIECE {
            self.copy.send(self.csv.buffer.as_bytes()).await?;
            self.csv.buffer.clear();
        }
        Ok(())
    }

    /// Sends the rest and ends the `COPY`; returns the rows copied.
    pub async fn finish(mut self) -> Result<u64, sqlx::Error> {
        if !self.csv.buffer.is_empty() {
            self.copy.send(self.csv.buffer.as_bytes()).await?;
        }
        self.copy.finish().await
    }
}

async fn bulk_sqlite(writer: &sqlx::SqlitePool, batch: &BulkBatch) -> Result<(), sqlx::Error> {
    let mut tx = writer.begin().await?;
    insert_sqlite(&mut tx, batch).await?;
    tx.commit().await
}

/// A batch's keys, claims and rows, inside the caller's SQLite transaction.
async fn insert_sqlite(
    tx: &mut sqlx::SqliteConnection,
    batch: &BulkBatch,
) -> Result<(), sqlx::Error> {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    for key in &batch.keys {
        sqlx::query(
            "INSERT INTO person_keys (person_id, wrapped_key, nonce, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(key.person_id.to_string())
        .bind(&key.wrapped)
        .bind(&key.nonce)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    }
    for (community_id, claim) in &batch.claims {
        sqlx::query(&CLAIM_REGISTRATION_SQLITE)
            .bind(&claim.regency)
            .bind(&claim.number)
            .bind(community_id)
            .bind(claim.sequence as i64)
            .execute(&mut *tx)
            .await?;
    }
    for row in &batch.rows {
        sqlx::query(include_str!("sql/sqlite/append_event.sql"))
            .bind(AGGREGATE_TYPE)
            .bind(&row.community_id)
            .bind(row.sequence)
            .bind(&row.event_type)
            .bind(&row.event_version)
            .bind(&row.payload)
            .bind(&*row.metadata)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Unique violations mean a stream moved, a nomor induk is taken, or a key exists. A deadlock
/// (PostgreSQL `40P01`: two bulk writes waiting for each other's rows, each about to conflict
/// with the other) is the same race, and was rolled back as well.
fn classify(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db_error) = &error {
        if db_error.code().as_deref() == Some("40P01") {
            return StoreError::BulkConflict(db_error.message().to_owned());
        }
        if db_error.is_unique_violation() {
            let detail = db_error
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|pg| pg.detail().map(str::to_owned))
                .unwrap_or_else(|| db_error.message().to_owned());
            return StoreError::BulkConflict(detail);
        }
    }
    StoreError::from(error)
}

#[cfg(test)]
mod tests {
    use super::Csv;

    #[test]
    fn csv_fields_are_quoted_with_quotes_doubled() {
        let mut csv = Csv::with_capacity(0);
        csv.text(r#"{"a":"say \"hi\""}"#)
            .text("")
            .text("\"")
            .optional(None)
            .optional(Some("x,y\nz"))
            .number(-42)
            .end_row();
        csv.text("next").end_row();
        assert_eq!(
            csv.buffer,
            "\"{\"\"a\"\":\"\"say \\\"\"hi\\\"\"\"\"}\",\"\",\"\"\"\",,\"x,y\nz\",-42\n\"next\"\n"
        );
    }
}

//! Appending a community's events and reading them back, per stream and as one global feed.
//!
//! Reads of a community go through cqrs-es' `PersistedEventStore` over postgres-es or sqlite-es
//! in event-sourced mode (never snapshot or aggregate mode: cqrs-es 0.5.0 applies events twice
//! there). Appends are Simpul's own: one statement on PostgreSQL (a multi-row insert that returns
//! the global positions), one transaction on SQLite, plus the nomor induk claim in the same
//! transaction when a command assigns one.

use std::collections::HashMap;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, EventStore as _};
use postgres_es::PostgresEventRepository;
use serde::Serialize;
use serde_json::Value;
use simpul_domain::events::CommunityEvent;
use simpul_domain::{Community, DomainError};
use sqlite_es::SqliteEventRepository;
use sqlx::Row;

use crate::db::Database;
use crate::error::StoreError;
use crate::horizon::Horizons;
use crate::idempotency::{complete_in_postgres, complete_in_sqlite, Completion, Outcome};
use crate::metadata::EventMetadata;

/// The R8 claim in SQLite's dialect, converted once from the one statement.
pub(crate) static CLAIM_REGISTRATION_SQLITE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        crate::sqlite_sql(include_str!("sql/postgres/claim_registration.sql"))
    });

/// cqrs-es' aggregate type of every Simpul stream.
pub const AGGREGATE_TYPE: &str = "Community";

/// One event to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Stable stored name, e.g. `SkIssued`.
    pub event_type: String,
    /// Payload shape version.
    pub event_version: String,
    /// The payload as serialised by the domain (JSON text: serialised once, written as is).
    pub payload: String,
}

/// A nomor induk to claim in the same transaction as its event (R8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationClaim {
    /// The kabupaten/kota code.
    pub regency: String,
    /// The number in canonical form.
    pub number: String,
    /// The sequence of the `RegistrationNumberAssigned` event.
    pub sequence: u64,
}

/// A request to append events to one community after `after_sequence`.
#[derive(Clone, Debug)]
pub struct Append {
    /// The community (aggregate id).
    pub community_id: String,
    /// The sequence the events follow: the community's version when the command was decided.
    pub after_sequence: u64,
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// Metadata for every event (R11).
    pub metadata: EventMetadata,
    /// Unique claims taken in the same transaction.
    pub claims: Vec<RegistrationClaim>,
}

/// Where an appended event landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// Its sequence within the community.
    pub sequence: u64,
    /// Its global position.
    pub position: u64,
}

/// A stored event with its place in the log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Global position.
    pub position: u64,
    /// Always [`AGGREGATE_TYPE`].
    pub aggregate_type: String,
    /// The community.
    pub aggregate_id: String,
    /// Sequence within the community, from 1.
    pub sequence: u64,
    /// Stored event name.
    pub event_type: String,
    /// Payload version.
    pub event_version: String,
    /// The payload.
    pub payload: Value,
    /// The metadata (R11).
    pub metadata: HashMap<String, String>,
}

/// The event store over one database.
#[derive(Clone, Debug)]
pub struct EventStore {
    db: Database,
    appended: std::sync::Arc<tokio::sync::Notify>,
    community_reads: std::sync::Arc<std::sync::atomic::AtomicU64>,
    horizons: std::sync::Arc<Horizons>,
}

impl EventStore {
    /// An event store on an open (migrated) database.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            appended: std::sync::Arc::new(tokio::sync::Notify::new()),
            community_reads: std::sync::Arc::default(),
            horizons: std::sync::Arc::default(),
        }
    }

    /// How many readers of this store (and its clones) asked for the feed's horizon, and how
    /// many times PostgreSQL was asked for it: readers asking at the same moment share a call
    /// (`horizon.rs`). (0, 0) on SQLite.
    pub fn horizon_counts(&self) -> (u64, u64) {
        self.horizons.counts()
    }

    /// Signalled after every append through this store (and its clones): the in-process wake-up
    /// of projection runners, beside PostgreSQL's NOTIFY and polling.
    pub fn appended(&self) -> &tokio::sync::Notify {
        &self.appended
    }

    /// The database underneath.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Appends events atomically: all of them and their claims, or nothing.
    pub async fn append(&self, append: &Append) -> Result<Vec<Appended>, StoreError> {
        self.append_completing(append, None).await
    }

    /// [`append`](Self::append), recording in the same transaction the outcome of the idempotent
    /// request that decided the events (`completes`): a crash leaves both or neither. If the
    /// request's claim on its key was taken over meanwhile, nothing is written
    /// ([`StoreError::IdempotencyClaimLost`]).
    #[tracing::instrument(skip_all, fields(community.id = %append.community_id, events = append.events.len()))]
    pub async fn append_completing(
        &self,
        append: &Append,
        completes: Option<&Completion>,
    ) -> Result<Vec<Appended>, StoreError> {
        if append.events.is_empty() {
            return Ok(Vec::new());
        }
        let metadata = serde_json::to_string(&append.metadata.to_map()?)?;
        let result = match &self.db {
            Database::Postgres(pool) => append_postgres(pool, append, &metadata, completes).await,
            Database::Sqlite { writer, .. } => {
                append_sqlite(writer, append, &metadata, completes).await
            }
        };
        let appended = match result {
            Ok(appended) => appended,
            Err(AppendFailure::Sql(error)) => return Err(classify_append_error(error, append)),
            Err(AppendFailure::ClaimLost) => {
                return Err(StoreError::IdempotencyClaimLost(
                    completes.map(|c| c.key.clone()).unwrap_or_default(),
                ))
            }
        };
        self.appended.notify_waiters();
        Ok(appended)
    }

    /// Loads a community by replaying its events through cqrs-es (event-sourced mode).
    /// Returns the aggregate and its version (the last sequence; 0 when it has no events).
    pub async fn load(&self, community_id: &str) -> Result<(Community, u64), StoreError> {
        self.count_community_read();
        let context = match &self.db {
            Database::Postgres(pool) => {
                let repo = PostgresEventRepository::new(pool.clone());
                PersistedEventStore::<_, Community>::new_event_store(repo)
                    .load_aggregate(community_id)
                    .await
            }
            Database::Sqlite { readers, .. } => {
                let repo = SqliteEventRepository::new(readers.clone());
                PersistedEventStore::<_, Community>::new_event_store(repo)
                    .load_aggregate(community_id)
                    .await
            }
        }
        .map_err(from_aggregate_error)?;
        Ok((context.aggregate, context.current_sequence as u64))
    }

    /// The events of one community after sequence `after`, in order, as the domain's events with
    /// their sequences: what a cached copy of the community at version `after` lacks.
    pub async fn events_after(
        &self,
        community_id: &str,
        after: u64,
    ) -> Result<Vec<(u64, CommunityEvent)>, StoreError> {
        let after = to_i64(after)?;
        let rows: Vec<(i64, String)> = match &self.db {
            Database::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT sequence, payload::text FROM events
                      WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
                      ORDER BY sequence",
                )
                .bind(AGGREGATE_TYPE)
                .bind(community_id)
                .bind(after)
                .fetch_all(pool)
                .await?
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query_as(
                    "SELECT sequence, payload FROM events
                      WHERE aggregate_type = ?1 AND aggregate_id = ?2 AND sequence > ?3
                      ORDER BY sequence",
                )
                .bind(AGGREGATE_TYPE)
                .bind(community_id)
                .bind(after)
                .fetch_all(readers)
                .await?
            }
        };
        rows.into_iter()
            .map(|(sequence, payload)| {
                Ok((
                    u64::try_from(sequence)
                        .map_err(|_| StoreError::Corrupt(format!("sequence {sequence}")))?,
                    serde_json::from_str(&payload)?,
                ))
            })
            .collect()
    }

    /// Every event of one community, in sequence order, with global positions.
    pub async fn stream(&self, community_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.count_community_read();
        let rows = match &self.db {
            Database::Postgres(pool) => sqlx::query(include_str!("sql/postgres/stream_events.sql"))
                .bind(AGGREGATE_TYPE)
                .bind(community_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(stored_event_pg)
                .collect::<Result<Vec<_>, _>>(),
            Database::Sqlite { readers, .. } => {
                sqlx::query(include_str!("sql/sqlite/stream_events.sql"))
                    .bind(AGGREGATE_TYPE)
                    .bind(community_id)
                    .fetch_all(readers)
                    .await?
                    .iter()
                    .map(stored_event_sqlite)
                    .collect::<Result<Vec<_>, _>>()
            }
        };
        rows
    }

    /// The events of many communities at once (one query on PostgreSQL, one per
    /// [`SQLITE_IN_LIST`] ids on SQLite), each stream in sequence order. Communities without
    /// events are absent from the map.
    pub async fn streams(
        &self,
        community_ids: &[String],
    ) -> Result<HashMap<String, Vec<StoredEvent>>, StoreError> {
        let mut events = Vec::new();
        match &self.db {
            Database::Postgres(pool) => {
                for row in sqlx::query(
                    "SELECT position, aggregate_type, aggregate_id, sequence, event_type,
                            event_version, payload::text AS payload, metadata::text AS metadata
                       FROM events
                      WHERE aggregate_type = $1 AND aggregate_id = ANY($2)
                      ORDER BY aggregate_id, sequence",
                )
                .bind(AGGREGATE_TYPE)
                .bind(community_ids)
                .fetch_all(pool)
                .await?
                {
                    events.push(stored_event_pg(&row)?);
                }
            }
            Database::Sqlite { readers, .. } => {
                for ids in community_ids.chunks(SQLITE_IN_LIST) {
                    let sql = format!(
                        "SELECT position, aggregate_type, aggregate_id, sequence, event_type,
                                event_version, payload, metadata
                           FROM events
                          WHERE aggregate_type = ? AND aggregate_id IN ({})
                          ORDER BY aggregate_id, sequence",
                        vec!["?"; ids.len()].join(", ")
                    );
                    let mut query = sqlx::query(&sql).bind(AGGREGATE_TYPE);
                    for id in ids {
                        query = query.bind(id);
                    }
                    for row in query.fetch_all(readers).await? {
                        events.push(stored_event_sqlite(&row)?);
                    }
                }
            }
        }
        let mut streams: HashMap<String, Vec<StoredEvent>> = HashMap::new();
        for event in events {
            streams
                .entry(event.aggregate_id.clone())
                .or_default()
                .push(event);
        }
        Ok(streams)
    }

    /// The holders of many nomor induk at once, keyed by (kabupaten/kota, canonical number);
    /// numbers nobody holds are absent.
    pub async fn registration_holders(
        &self,
        numbers: &[(String, String)],
    ) -> Result<HashMap<(String, String), String>, StoreError> {
        let mut holders = HashMap::new();
        match &self.db {
            Database::Postgres(pool) => {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT c.regency, c.number, c.community_id
                       FROM registration_claims c
                       JOIN UNNEST($1::text[], $2::text[]) AS k(regency, number)
                         ON c.regency = k.regency AND c.number = k.number",
                )
                .bind(numbers.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>())
                .bind(numbers.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>())
                .fetch_all(pool)
                .await?;
                for (regency, number, holder) in rows {
                    holders.insert((regency, number), holder);
                }
            }
            Database::Sqlite { readers, .. } => {
                for pairs in numbers.chunks(SQLITE_IN_LIST / 2) {
                    let sql = format!(
                        "SELECT regency, number, community_id FROM registration_claims
                          WHERE (regency, number) IN (VALUES {})",
                        vec!["(?, ?)"; pairs.len()].join(", ")
                    );
                    let mut query = sqlx::query_as::<_, (String, String, String)>(&sql);
                    for (regency, number) in pairs {
                        query = query.bind(regency).bind(number);
                    }
                    for (regency, number, holder) in query.fetch_all(readers).await? {
                        holders.insert((regency, number), holder);
                    }
                }
            }
        }
        Ok(holders)
    }

    /// Up to `limit` events after `after` in global commit order (see `sql/postgres/read_all.sql`).
    ///
    /// `after` is the position of the last event the reader has seen (0 to start). The feed never
    /// skips an event whose transaction committed late and never repeats one. On PostgreSQL the
    /// order is the writers' commit order; positions along it increase except where two writers
    /// interleaved, so readers resume from the last position they were given, not from a
    /// maximum. It first asks for the feed's horizon (a statement of its own, which waits only
    /// for the commits of event writers under way at that moment; shared with the readers of
    /// this store asking at the same moment), then reads up to it.
    pub async fn read_all(&self, after: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let after = to_i64(after)?;
        match &self.db {
            Database::Postgres(pool) => {
                let horizon = self.horizons.horizon(pool).await?;
                sqlx::query(include_str!("sql/postgres/read_all.sql"))
                    .bind(after)
                    .bind(i64::from(limit))
                    .bind(horizon)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(stored_event_pg)
                    .collect()
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query(include_str!("sql/sqlite/read_all.sql"))
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(readers)
                    .await?
                    .iter()
                    .map(stored_event_sqlite)
                    .collect()
            }
        }
    }

    /// The events at `positions`, in that order; a position with no event is left out.
    pub async fn at_positions(&self, positions: &[u64]) -> Result<Vec<StoredEvent>, StoreError> {
        const COLUMNS: &str = "SELECT position, aggregate_type, aggregate_id, sequence, event_type,
            event_version, payload::text AS payload, metadata::text AS metadata FROM events";
        let wanted: Vec<i64> = positions
            .iter()
            .map(|p| to_i64(*p))
            .collect::<Result<_, _>>()?;
        let mut found = match &self.db {
            Database::Postgres(pool) => sqlx::query(&format!("{COLUMNS} WHERE position = ANY($1)"))
                .bind(&wanted)
                .fetch_all(pool)
                .await?
                .iter()
                .map(stored_event_pg)
                .collect::<Result<Vec<_>, _>>()?,
            Database::Sqlite { readers, .. } => {
                let sql = format!("{} WHERE position = ?1", COLUMNS.replace("::text", ""));
                let mut events = Vec::with_capacity(wanted.len());
                for position in &wanted {
                    if let Some(row) = sqlx::query(&sql)
                        .bind(position)
                        .fetch_optional(readers)
                        .await?
                    {
                        events.push(stored_event_sqlite(&row)?);
                    }
                }
                events
            }
        };
        let order: HashMap<u64, usize> = positions
            .iter()
            .enumerate()
            .map(|(i, position)| (*position, i))
            .collect();
        found.sort_by_key(|event| order.get(&event.position).copied().unwrap_or(usize::MAX));
        Ok(found)
    }

    /// The community holding nomor induk `number` (canonical form) in kabupaten/kota `regency`,
    /// if any (R8), from the claims table.
    pub async fn registration_holder(
        &self,
        regency: &str,
        number: &str,
    ) -> Result<Option<String>, StoreError> {
        let holder = match &self.db {
            Database::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT community_id FROM registration_claims \
                     WHERE regency = $1 AND number = $2",
                )
                .bind(regency)
                .bind(number)
                .fetch_optional(pool)
                .await?
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query_scalar(
                    "SELECT community_id FROM registration_claims \
                     WHERE regency = ?1 AND number = ?2",
                )
                .bind(regency)
                .bind(number)
                .fetch_optional(readers)
                .await?
            }
        };
        Ok(holder)
    }

    /// How many times this store (and its clones) read one community's whole stream (`load`,
    /// `stream`): what serving a request costs, which tests hold to one read per request.
    pub fn community_reads(&self) -> u64 {
        self.community_reads
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_community_read(&self) {
        self.community_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many events the log holds.
    pub async fn count(&self) -> Result<u64, StoreError> {
        let count: i64 = match &self.db {
            Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM events")
                    .fetch_one(pool)
                    .await?
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query_scalar("SELECT COUNT(*) FROM events")
                    .fetch_one(readers)
                    .await?
            }
        };
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// The highest position in the log (0 when it is empty). Every position a write has answered
    /// is at most this, so a larger one was never given out by this store.
    pub async fn head(&self) -> Result<u64, StoreError> {
        const SQL: &str = "SELECT COALESCE(MAX(position), 0) FROM events";
        let head: i64 = match &self.db {
            Database::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await?,
            Database::Sqlite { readers, .. } => sqlx::query_scalar(SQL).fetch_one(readers).await?,
        };
        Ok(u64::try_from(head).unwrap_or_default())
    }
}

/// Why an append wrote nothing.
enum AppendFailure {
    Sql(sqlx::Error),
    /// The idempotent request's claim on its key is not its own any more.
    ClaimLost,
}

impl From<sqlx::Error> for AppendFailure {
    fn from(error: sqlx::Error) -> Self {
        AppendFailure::Sql(error)
    }
}

/// The outcome (version, position) of an append that returned `appended`.
fn outcome_of<'a>(append: &'a Append, appended: &[Appended]) -> Outcome<'a> {
    Outcome {
        community_id: &append.community_id,
        version: append.after_sequence + appended.len() as u64,
        position: appended.iter().map(|a| a.position).max().unwrap_or(0),
    }
}

async fn append_postgres(
    pool: &sqlx::PgPool,
    append: &Append,
    metadata: &str,
    completes: Option<&Completion>,
) -> Result<Vec<Appended>, AppendFailure> {
    let mut sequences = Vec::with_capacity(append.events.len());
    let mut types = Vec::with_capacity(append.events.len());
    let mut versions = Vec::with_capacity(append.events.len());
    let mut payloads = Vec::with_capacity(append.events.len());
    let mut metadatas = Vec::with_capacity(append.events.len());
    for (event, sequence) in append.events.iter().zip(append.after_sequence + 1..) {
        sequences.push(sequence as i64);
        types.push(event.event_type.as_str());
        versions.push(event.event_version.as_str());
        payloads.push(event.payload.as_str());
        metadatas.push(metadata);
    }
    let insert = sqlx::query(include_str!("sql/postgres/append_events.sql"))
        .bind(AGGREGATE_TYPE)
        .bind(&append.community_id)
        .bind(&sequences)
        .bind(&types)
        .bind(&versions)
        .bind(&payloads)
        .bind(&metadatas);
    let mut appended = if append.claims.is_empty() && completes.is_none() {
        // A single statement is atomic on its own: one round trip, no BEGIN/COMMIT.
        insert
            .fetch_all(pool)
            .await?
            .iter()
            .map(appended_from)
            .collect::<Result<Vec<_>, sqlx::Error>>()?
    } else {
        let mut tx = pool.begin().await?;
        for claim in &append.claims {
            sqlx::query(include_str!("sql/postgres/claim_registration.sql"))
                .bind(&claim.regency)
                .bind(&claim.number)
                .bind(&append.community_id)
                .bind(claim.sequence as i64)
                .execute(&mut *tx)
                .await?;
        }
        let appended = insert
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(appended_from)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        if let Some(completion) = completes {
            if !complete_in_postgres(&mut tx, completion, outcome_of(append, &appended)).await? {
                return Err(AppendFailure::ClaimLost);
            }
        }
        tx.commit().await?;
        appended
    };
    appended.sort_by_key(|a| a.sequence);
    Ok(appended)
}

async fn append_sqlite(
    writer: &sqlx::SqlitePool,
    append: &Append,
    metadata: &str,
    completes: Option<&Completion>,
) -> Result<Vec<Appended>, AppendFailure> {
    if let ([event], [], None) = (
        append.events.as_slice(),
        append.claims.as_slice(),
        completes,
    ) {
        // One event and no claim: a single statement is atomic on its own (no BEGIN/COMMIT).
        // Stepped to the end (`fetch_all`, never `fetch_one`): an `INSERT … RETURNING` in
        // autocommit mode commits when it finishes, and a commit that fails there (a full disk)
        // is reported only to a caller that steps that far — `fetch_one` stops at the first row
        // and would acknowledge a write that was never committed.
        let rows = insert_sqlite_event(event, append, append.after_sequence + 1, metadata)
            .fetch_all(writer)
            .await?;
        return Ok(rows
            .iter()
            .map(appended_from)
            .collect::<Result<_, sqlx::Error>>()?);
    }
    let mut tx = writer.begin().await?;
    for claim in &append.claims {
        sqlx::query(&CLAIM_REGISTRATION_SQLITE)
            .bind(&claim.regency)
            .bind(&claim.number)
            .bind(&append.community_id)
            .bind(claim.sequence as i64)
            .execute(&mut *tx)
            .await?;
    }
    let mut appended = Vec::with_capacity(append.events.len());
    for (event, sequence) in append.events.iter().zip(append.after_sequence + 1..) {
        for row in insert_sqlite_event(event, append, sequence, metadata)
            .fetch_all(&mut *tx)
            .await?
        {
            appended.push(appended_from(&row)?);
        }
    }
    if let Some(completion) = completes {
        if !complete_in_sqlite(&mut tx, completion, outcome_of(append, &appended)).await? {
            return Err(AppendFailure::ClaimLost);
        }
    }
    tx.commit().await?;
    Ok(appended)
}

fn insert_sqlite_event<'q>(
    event: &'q NewEvent,
    append: &'q Append,
    sequence: u64,
    metadata: &'q str,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    sqlx::query(include_str!("sql/sqlite/append_event.sql"))
        .bind(AGGREGATE_TYPE)
        .bind(&append.community_id)
        .bind(sequence as i64)
        .bind(&event.event_type)
        .bind(&event.event_version)
        .bind(event.payload.as_str())
        .bind(metadata)
}

fn appended_from<R: Row>(row: &R) -> Result<Appended, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(Appended {
        sequence: row.try_get::<i64, _>("sequence")? as u64,
        position: row.try_get::<i64, _>("position")? as u64,
    })
}

/// Turns unique violations into the conflicts they mean.
fn classify_append_error(error: sqlx::Error, append: &Append) -> StoreError {
    if let sqlx::Error::Database(db_error) = &error {
        if db_error.is_unique_violation() {
            let message = db_error.message();
            let claim = db_error.constraint() == Some("registration_claims_pkey")
                || message.contains("registration_claims");
            if claim {
                let (regency, number) = append
                    .claims
                    .first()
                    .map(|c| (c.regency.clone(), c.number.clone()))
                    .unwrap_or_default();
                return StoreError::DuplicateRegistrationNumber { regency, number };
            }
            return StoreError::Conflict {
                aggregate_id: append.community_id.clone(),
                sequence: append.after_sequence + 1,
            };
        }
    }
    StoreError::from(error)
}

fn from_aggregate_error(error: AggregateError<DomainError>) -> StoreError {
    match error {
        AggregateError::DatabaseConnectionError(e) => StoreError::Unavailable(e.to_string()),
        AggregateError::DeserializationError(e) => StoreError::Corrupt(e.to_string()),
        AggregateError::AggregateConflict => StoreError::Conflict {
            aggregate_id: String::new(),
            sequence: 0,
        },
        AggregateError::UserError(e) => StoreError::Corrupt(e.to_string()),
        AggregateError::UnexpectedError(e) => StoreError::Unavailable(e.to_string()),
    }
}

/// Values bound in one SQLite `IN (…)` list (well under SQLite's limit of 32 766 parameters).
pub const SQLITE_IN_LIST: usize = 500;

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Config(format!("position {value} is too large")))
}

fn stored_event_pg(row: &sqlx::postgres::PgRow) -> Result<StoredEvent, StoreError> {
    stored_event(
        row.try_get::<i64, _>("position")?,
        row.try_get("aggregate_type")?,
        row.try_get("aggregate_id")?,
        row.try_get::<i64, _>("sequence")?,
        row.try_get("event_type")?,
        row.try_get("event_version")?,
        row.try_get::<String, _>("payload")?,
        row.try_get::<String, _>("metadata")?,
    )
}

fn stored_event_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<StoredEvent, StoreError> {
    stored_event(
        row.try_get::<i64, _>("position")?,
        row.try_get("aggregate_type")?,
        row.try_get("aggregate_id")?,
        row.try_get::<i64, _>("sequence")?,
        row.try_get("event_type")?,
        row.try_get("event_version")?,
        row.try_get::<String, _>("payload")?,
        row.try_get::<String, _>("metadata")?,
    )
}

#[allow(clippy::too_many_arguments)]
fn stored_event(
    position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        position: position as u64,
        aggregate_type,
        aggregate_id,
        sequence: sequence as u64,
        event_type,
        event_version,
        payload: serde_json::from_str(&payload)?,
        metadata: serde_json::from_str(&metadata)?,
    })
}

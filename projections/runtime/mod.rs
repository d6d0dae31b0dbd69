//! The catch-up runtime: each projection reads the global feed in batches from its own
//! checkpoint and writes its rows and the new checkpoint in one transaction.
//!
//! A projection that fails on an event commits everything before it, stops there with state
//! `failed`, and reports the event's position, id and error; the others go on. Nothing is skipped
//! silently: a failed projection moves again only when rebuilt.

mod locks;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use simpul_store::{Database, EventStore, StoreError, StoredEvent};
use sqlx::Row as _;

pub use locks::Scratch;
use locks::{MaintenanceLock, Purpose, RunnerSession};

/// Events read per batch (and per transaction).
pub const BATCH_SIZE: u32 = 500;
/// Events read per batch while rebuilding into shadow tables (their writes are deferred, see
/// [`Memory`]; each batch still commits the shadow's checkpoint, so no transaction stays open).
pub const REBUILD_BATCH_SIZE: u32 = 5_000;
/// How often an idle runner looks for new events when no notification arrives.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The channel the events table's trigger notifies on commit (migration `…_projections.sql`).
const NOTIFY_CHANNEL: &str = "simpul_events";

/// Why a projection could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// One event could not be projected: the projection stops at it.
    #[error("event {event} at position {position}: {error}")]
    Event {
        /// Its global position.
        position: u64,
        /// `<community id>#<sequence>`.
        event: String,
        /// What went wrong.
        error: String,
    },
    /// The read model's own storage failed (transient: the batch is retried).
    #[error("storage: {0}")]
    Storage(String),
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The projection is stopped at a failed event.
    #[error("projection {0} is stopped at a failed event; rebuild it")]
    Stopped(String),
    /// The read model's storage refused a value (out of range, too long, a broken constraint):
    /// one event of the batch cannot be stored, and retrying will not change that.
    #[error("storage refused a value: {0}")]
    Data(String),
    /// A rebuild's shadow is not what it wrote, or not the whole log: it was not swapped in.
    #[error("the rebuilt tables are incomplete and were not swapped in: {0}")]
    Incomplete(String),
}

impl From<sqlx::Error> for ProjectionError {
    /// An outage (connection lost, database restarting, disk full) stays recognisable as one
    /// (`Store(Unavailable)`: HTTP 503); anything else is the read model's own storage failing.
    fn from(error: sqlx::Error) -> Self {
        let refused = is_refused_value(&error);
        match StoreError::from(error) {
            unavailable @ StoreError::Unavailable(_) => ProjectionError::Store(unavailable),
            other if refused => ProjectionError::Data(other.to_string()),
            other => ProjectionError::Storage(other.to_string()),
        }
    }
}

/// Whether the database refused a value rather than failed: PostgreSQL's data exceptions,
/// integrity violations and program limits (classes 22, 23, 54), SQLite's TOOBIG, CONSTRAINT,
/// MISMATCH and RANGE.
fn is_refused_value(error: &sqlx::Error) -> bool {
    let Some(database) = error.as_database_error() else {
        return false;
    };
    let Some(code) = database.code() else {
        return false;
    };
    if database
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        let primary = code.parse::<i32>().map(|code| code & 0xff);
        return matches!(primary, Ok(18 | 19 | 20 | 25));
    }
    // 54: a program limit (an index row too large for a B-tree).
    code.starts_with("22") || code.starts_with("23") || code.starts_with("54")
}

/// A read model.
#[async_trait]
pub trait Projection: Send + Sync {
    /// Its name, e.g. `community_summary`.
    fn name(&self) -> &'static str;
    /// Its tables, emptied by a rebuild.
    fn tables(&self) -> &'static [&'static str];
    /// Applies a batch inside the runner's PostgreSQL transaction. `memory` holds what this
    /// projection kept from earlier batches of the same runner (see [`Memory`]).
    async fn apply_postgres(
        &self,
        tx: &mut sqlx::PgConnection,
        events: &[StoredEvent],
        memory: &mut Memory,
    ) -> Result<(), ProjectionError>;
    /// Applies a batch inside the runner's SQLite transaction.
    async fn apply_sqlite(
        &self,
        tx: &mut sqlx::SqliteConnection,
        events: &[StoredEvent],
        memory: &mut Memory,
    ) -> Result<(), ProjectionError>;
}

/// Communities a projection keeps in memory between batches before it starts over from its
/// tables (bounds the memory of a runner, whatever the size of the log).
pub const MEMORY_CAPACITY: usize = 100_000;

/// What one projection keeps between the batches of one runner: the folded state of the
/// communities it has seen, so a batch does not read back and decode the rows the previous one
/// wrote.
///
/// The runner guarantees that the memory is exactly as current as the tables it writes: it is
/// emptied whenever a batch fails, and whenever the checkpoint found in the batch's transaction
/// is not the one the memory was left at (another runner wrote, or a rebuild was swapped in).
/// During a rebuild into shadow tables the runner may let the projection *defer* writes
/// ([`Memory::deferring`]); the last call of the rebuild never defers.
pub struct Memory {
    state: Option<Box<dyn std::any::Any + Send>>,
    synced_at: Option<u64>,
    budget: Budget,
}

impl Default for Memory {
    fn default() -> Self {
        Self {
            state: None,
            synced_at: None,
            budget: Budget {
                deferring: false,
                capacity: MEMORY_CAPACITY,
                complete: false,
            },
        }
    }
}

/// How much a projection may keep in [`Memory`] after a call.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Rows may stay unwritten (a rebuild into shadow tables).
    pub deferring: bool,
    /// Entries (communities, or pending rows) to hold at most before writing and starting over.
    pub capacity: usize,
    /// Memory has seen every event the tables hold (it started at position 0): a community it
    /// does not hold has no rows, so nothing needs to be read back.
    pub complete: bool,
}

impl Memory {
    /// The projection's state, created empty on first use.
    pub fn state<T: Default + Send + 'static>(&mut self) -> &mut T {
        let fresh = !self.state.as_ref().is_some_and(|state| state.is::<T>());
        if fresh {
            self.state = Some(Box::new(T::default()));
        }
        match self
            .state
            .as_mut()
            .and_then(|state| state.downcast_mut::<T>())
        {
            Some(state) => state,
            None => unreachable!("the state was just set to a T"),
        }
    }

    /// What this call may leave in memory.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    fn clear(&mut self) {
        self.state = None;
        self.synced_at = None;
        self.budget.complete = false;
    }

    /// Called inside a batch's transaction with the checkpoint `from` found there: memory left
    /// at another position starts over (at 0 the tables hold nothing, so it is then complete).
    fn align(&mut self, from: u64) {
        if self.synced_at != Some(from) {
            self.clear();
            self.budget.complete = from == 0;
        }
    }
}

/// Per-community entries held in [`Memory`], with the ones changed since they were last written.
pub struct Entries<E> {
    map: std::collections::HashMap<String, E>,
    dirty: std::collections::BTreeSet<String>,
    /// Memory was full once and started over: absent entries may have rows.
    evicted: bool,
}

impl<E> Default for Entries<E> {
    fn default() -> Self {
        Self {
            map: std::collections::HashMap::new(),
            dirty: std::collections::BTreeSet::new(),
            evicted: false,
        }
    }
}

impl<E> Entries<E> {
    /// The distinct communities of `events` not held in memory, sorted: the rows to load (none
    /// when memory is complete).
    pub fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String> {
        if budget.complete && !self.evicted {
            return Vec::new();
        }
        let mut ids: Vec<String> = events
            .iter()
            .filter(|e| !self.map.contains_key(&e.aggregate_id))
            .map(|e| e.aggregate_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Holds a row read from the tables (not dirty).
    pub fn loaded(&mut self, id: String, entry: E) {
        self.map.insert(id, entry);
    }

    /// The entry of `id` (created by `new` if absent), marked as changed.
    pub fn change(&mut self, id: &str, new: impl FnOnce() -> E) -> &mut E {
        if !self.dirty.contains(id) {
            self.dirty.insert(id.to_owned());
        }
        self.map.entry(id.to_owned()).or_insert_with(new)
    }

    /// The entry of `id` if held, marked as changed.
    pub fn change_existing(&mut self, id: &str) -> Option<&mut E> {
        let entry = self.map.get_mut(id)?;
        if !self.dirty.contains(id) {
            self.dirty.insert(id.to_owned());
        }
        Some(entry)
    }

    /// The entry of `id`, if held.
    pub fn get(&self, id: &str) -> Option<&E> {
        self.map.get(id)
    }

    /// The raw map (for projections whose entries are lookups, not rows).
    pub fn map_mut(&mut self) -> &mut std::collections::HashMap<String, E> {
        &mut self.map
    }

    /// Whether the changed entries must be written now: always unless deferring, and when
    /// deferring once memory is full.
    pub fn must_write(&self, budget: Budget) -> bool {
        !budget.deferring || self.map.len() > budget.capacity
    }

    /// The changed entries, sorted by community id.
    pub fn changed(&self) -> impl Iterator<Item = (&String, &E)> {
        self.dirty
            .iter()
            .filter_map(|id| self.map.get(id).map(|entry| (id, entry)))
    }

    /// After the changed entries were written: none is changed any more, and a full memory
    /// starts over.
    pub fn written(&mut self, budget: Budget) {
        self.dirty.clear();
        if self.map.len() > budget.capacity {
            self.map.clear();
            self.evicted = true;
        }
    }
}

/// A projection's progress, as `simpul projections status` and `GET /projections` show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectionStatus {
    /// Its name.
    pub name: String,
    /// The position of the last event applied (0: none).
    pub position: u64,
    /// Events applied since the last rebuild.
    pub events: u64,
    /// Events in the feed not applied yet.
    pub lag_events: u64,
    /// Age of the oldest event not applied yet, in seconds (0 when caught up).
    pub lag_seconds: f64,
    /// `running` or `failed`.
    pub state: String,
    /// The error that stopped it.
    pub last_error: Option<String>,
    /// Where it stopped.
    pub error_position: Option<u64>,
    /// Which event stopped it (`<community id>#<sequence>`).
    pub error_event: Option<String>,
    /// Scratch space of a rebuild or verify of this read model: in use by one running now, or
    /// left behind by one that was killed (removed by the next rebuild, verify or runner start).
    pub scratch: Vec<Scratch>,
}

/// Runs projections over one event store.
#[derive(Clone)]
pub struct Runner {
    store: EventStore,
    batch_size: u32,
    rebuild_batch_size: u32,
    memory_capacity: usize,
    target: Target,
    /// Each projection's [`Memory`], locked for the length of a batch.
    memory: Arc<std::sync::Mutex<MemoryMap>>,
    /// While following on PostgreSQL: the connection holding this runner's lock on the read
    /// model, through which its live batches are written (see `locks`).
    session: Option<RunnerSession>,
    /// The read models whose runner lock this runner (or a clone of it) holds.
    holding: Arc<std::sync::Mutex<std::collections::HashSet<&'static str>>>,
}

/// Where a runner writes: the live tables, or a shadow copy being rebuilt.
#[derive(Clone, Debug)]
enum Target {
    /// The live read-model tables.
    Live,
    /// Tables of the same names in a PostgreSQL schema of their own (`search_path`).
    PostgresSchema(String),
    /// A scratch SQLite database with the same tables.
    SqliteFile(Database),
}

type MemoryMap = std::collections::HashMap<&'static str, Arc<tokio::sync::Mutex<Memory>>>;

struct Checkpoint {
    position: u64,
    failed: bool,
}

impl Runner {
    /// A runner with the default batch size.
    pub fn new(store: EventStore) -> Self {
        Self {
            store,
            batch_size: BATCH_SIZE,
            rebuild_batch_size: REBUILD_BATCH_SIZE,
            memory_capacity: MEMORY_CAPACITY,
            target: Target::Live,
            memory: Arc::default(),
            session: None,
            holding: Arc::default(),
        }
    }

    /// The same runner with another batch size, for following and rebuilding (tests use small
    /// ones).
    pub fn with_batch_size(mut self, batch_size: u32) -> Self {
        self.batch_size = batch_size.max(1);
        self.rebuild_batch_size = self.batch_size;
        self
    }

    /// The same runner holding at most `capacity` communities per projection in memory (tests
    /// use tiny ones to exercise starting over).
    pub fn with_memory_capacity(mut self, capacity: usize) -> Self {
        self.memory_capacity = capacity;
        self
    }

    /// The event store it reads.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    fn db(&self) -> &Database {
        self.store.database()
    }

    /// Applies one batch; returns how many events were applied (0: caught up).
    #[tracing::instrument(skip_all, fields(projection.name = projection.name()))]
    pub async fn step(&self, projection: &dyn Projection) -> Result<usize, ProjectionError> {
        let checkpoint = self.checkpoint(projection.name()).await?;
        if checkpoint.failed {
            return Err(ProjectionError::Stopped(projection.name().to_owned()));
        }
        let events = self
            .store
            .read_all(checkpoint.position, self.batch_size)
            .await?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut committed = self
            .commit_batch(projection, &events, checkpoint.position, false)
            .await;
        if let Err(ProjectionError::Data(_)) = committed {
            // The read model's storage refused a value of the batch: find the event.
            committed = self.isolate(projection, &events, checkpoint.position).await;
        }
        match committed {
            // Applied, or skipped because the checkpoint moved: either way, read on.
            Ok(_) => Ok(events.len()),
            Err(ProjectionError::Event {
                position,
                event,
                error,
            }) => {
                let good = events
                    .iter()
                    .position(|e| e.position == position)
                    .unwrap_or(0);
                if good > 0 {
                    self.commit_batch(projection, &events[..good], checkpoint.position, false)
                        .await?;
                }
                tracing::error!(position, event = %event, error = %error, "projection stopped at an event it cannot apply");
                if matches!(self.target, Target::Live) {
                    self.record_failure(projection.name(), position, &event, &error)
                        .await?;
                }
                Err(ProjectionError::Event {
                    position,
                    event,
                    error,
                })
            }
            Err(other) => Err(other),
        }
    }

    /// Applies `events` one by one from `from` after their batch was refused by the read model's
    /// storage: the first one refused again becomes an [`ProjectionError::Event`] error (the
    /// ones before it stay applied); if none is, the refusal was not theirs and all are applied.
    async fn isolate(
        &self,
        projection: &dyn Projection,
        events: &[StoredEvent],
        from: u64,
    ) -> Result<bool, ProjectionError> {
        let mut from = from;
        for event in events {
            match self
                .commit_batch(projection, std::slice::from_ref(event), from, false)
                .await
            {
                Ok(true) => from = event.position,
                // Another writer moved the checkpoint: read again from there.
                Ok(false) => return Ok(false),
                Err(ProjectionError::Data(error)) => {
                    return Err(ProjectionError::Event {
                        position: event.position,
                        event: format!("{}#{}", event.aggregate_id, event.sequence),
                        error: format!("the read model cannot store it: {error}"),
                    })
                }
                Err(other) => return Err(other),
            }
        }
        Ok(true)
    }

    /// Applies batches until the projection has reached the end of the feed.
    pub async fn catch_up(&self, projection: &dyn Projection) -> Result<u64, ProjectionError> {
        let mut applied = 0u64;
        loop {
            let n = self.step(projection).await?;
            if n == 0 {
                return Ok(applied);
            }
            applied += n as u64;
        }
    }

    /// Rebuilds a read model with zero downtime: replays the whole log into shadow tables while
    /// the live ones keep serving and following, then swaps them in one transaction, checkpoint
    /// included. Interrupted before the swap, it leaves the live read model untouched.
    /// `progress` is called after every batch with (events applied, events in the log).
    ///
    /// Holds the read model's maintenance lock throughout (a second rebuild or a verify of it,
    /// in this process or another, waits), fills a scratch space of its own, and swaps only what
    /// it checked is complete: every event readable when it started, and exactly the rows and
    /// checkpoint it wrote.
    pub async fn rebuild(
        &self,
        projection: &dyn Projection,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<u64, ProjectionError> {
        let lock = MaintenanceLock::acquire(self.db(), projection.name()).await?;
        locks::remove_scratch(self.db(), projection.name(), &lock).await?;
        let shadow = self.shadow_for(projection, Purpose::Rebuild).await?;
        let rebuilt = async {
            // Secondary indexes are built once at the end, not row by row while filling.
            let indexes = shadow.drop_secondary_indexes().await?;
            let filled = shadow.fill(projection, progress).await?;
            if filled.applied < filled.readable_at_start {
                return Err(ProjectionError::Incomplete(format!(
                    "replayed {} events, but {} were in the log when the rebuild started",
                    filled.applied, filled.readable_at_start
                )));
            }
            let expected = Expected {
                position: filled.position,
                events: filled.applied,
                rows: shadow.row_counts(projection).await?,
            };
            shadow.create_indexes(&indexes).await?;
            shadow.analyze(projection).await?;
            self.swap(projection, &shadow, &expected).await?;
            Ok(filled.applied)
        }
        .await;
        if rebuilt.is_err() {
            // Close and remove the shadow now (a scratch SQLite file must not stay open).
            if let Err(error) = self.drop_shadow(&shadow).await {
                tracing::warn!(error = %error, "could not remove the shadow of a failed rebuild");
            }
        }
        drop(lock);
        rebuilt
    }

    /// Drops the non-unique indexes of a PostgreSQL shadow schema (unique ones serve the upserts)
    /// and returns their definitions.
    async fn drop_secondary_indexes(&self) -> Result<Vec<String>, ProjectionError> {
        let (Target::PostgresSchema(schema), Database::Postgres(pool)) = (&self.target, self.db())
        else {
            return Ok(Vec::new());
        };
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT i.relname::text, pg_get_indexdef(i.oid)
               FROM pg_index x
               JOIN pg_class i ON i.oid = x.indexrelid
               JOIN pg_namespace n ON n.oid = i.relnamespace
              WHERE n.nspname = $1 AND NOT x.indisunique",
        )
        .bind(schema)
        .fetch_all(pool)
        .await?;
        for (name, _) in &indexes {
            sqlx::query(&format!("DROP INDEX {schema}.\"{name}\""))
                .execute(pool)
                .await?;
        }
        Ok(indexes
            .into_iter()
            .map(|(_, definition)| definition)
            .collect())
    }

    /// Creates indexes from their definitions (`pg_get_indexdef`).
    async fn create_indexes(&self, definitions: &[String]) -> Result<(), ProjectionError> {
        if let Database::Postgres(pool) = self.db() {
            for definition in definitions {
                sqlx::query(definition).execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Gathers the query planner's statistics on a PostgreSQL shadow's tables. They stay with
    /// the tables through the swap, so the first queries after it are planned on the new rows
    /// (fresh tables have no statistics until autovacuum comes by, and until then the planner
    /// guesses row counts and selectivities for every query).
    async fn analyze(&self, projection: &dyn Projection) -> Result<(), ProjectionError> {
        let (Target::PostgresSchema(schema), Database::Postgres(pool)) = (&self.target, self.db())
        else {
            return Ok(());
        };
        for table in projection.tables() {
            sqlx::query(&format!("ANALYZE {schema}.{table}"))
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Rebuilds a read model into scratch tables and compares them with the live ones, row by
    /// row. Returns the differing rows (`-` live only, `+` rebuilt only), at most `limit`.
    /// Holds the read model's maintenance lock throughout, like [`rebuild`](Self::rebuild).
    pub async fn verify(
        &self,
        projection: &dyn Projection,
        limit: usize,
    ) -> Result<Vec<String>, ProjectionError> {
        let lock = MaintenanceLock::acquire(self.db(), projection.name()).await?;
        locks::remove_scratch(self.db(), projection.name(), &lock).await?;
        let shadow = self.shadow_for(projection, Purpose::Verify).await?;
        let compared = async {
            shadow.fill(projection, &|_, _| {}).await?;
            // Both must stand at the same position: catch the live one up (and the scratch one
            // again if events arrived meanwhile).
            for _attempt in 0..5 {
                self.catch_up(projection).await?;
                shadow.catch_up(projection).await?;
                let live = self.checkpoint(projection.name()).await?.position;
                let scratch = shadow.checkpoint(projection.name()).await?.position;
                if live == scratch {
                    return self.compare(projection, &shadow, limit).await;
                }
            }
            Err(ProjectionError::Storage(
                "the log kept growing; verify again when it is quieter".to_owned(),
            ))
        }
        .await;
        self.drop_shadow(&shadow).await?;
        drop(lock);
        compared
    }

    /// A runner writing into a fresh scratch space of its own for `projection`.
    async fn shadow_for(
        &self,
        projection: &dyn Projection,
        purpose: Purpose,
    ) -> Result<Runner, ProjectionError> {
        let name = projection.name();
        let target = match self.db() {
            Database::Postgres(pool) => {
                let schema = locks::scratch_schema(name, purpose);
                let mut tx = pool.begin().await?;
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut *tx)
                    .await?;
                for table in projection
                    .tables()
                    .iter()
                    .chain(&["projection_checkpoints"])
                {
                    sqlx::query(&format!(
                        "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)"
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Target::PostgresSchema(schema)
            }
            Database::Sqlite { .. } => {
                let main = locks::sqlite_main_path(self.db()).await?;
                let path = locks::scratch_file(&main, name, purpose);
                let scratch =
                    Database::connect_and_migrate(&simpul_store::DatabaseUrl::Sqlite(path)).await?;
                Target::SqliteFile(scratch)
            }
        };
        Ok(Runner {
            store: self.store.clone(),
            batch_size: self.batch_size,
            rebuild_batch_size: self.rebuild_batch_size,
            memory_capacity: self.memory_capacity,
            target,
            memory: Arc::default(),
            session: None,
            holding: Arc::default(),
        })
    }

    async fn fill(
        &self,
        projection: &dyn Projection,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<Filled, ProjectionError> {
        let readable_at_start = readable_events(&self.store).await?;
        let total = self.store.count().await?;
        let mut applied = 0u64;
        let mut from = self.checkpoint(projection.name()).await?.position;
        let mut events = self.store.read_all(from, self.rebuild_batch_size).await?;
        // Read the next batch while this one is applied (the database and this process work on
        // two cores at once); the shadow's writes are deferred until the end or a full memory.
        while let Some(last) = events.last().map(|e| e.position) {
            let (next, committed) = tokio::join!(
                self.store.read_all(last, self.rebuild_batch_size),
                self.commit_batch(projection, &events, from, true)
            );
            if !committed? {
                return Err(ProjectionError::Storage(
                    "the shadow checkpoint moved during a rebuild".to_owned(),
                ));
            }
            applied += events.len() as u64;
            progress(applied, total.max(applied));
            from = last;
            events = next?;
        }
        // Write whatever is still deferred.
        self.commit_batch(projection, &[], from, false).await?;
        Ok(Filled {
            applied,
            position: from,
            readable_at_start,
        })
    }

    /// The rows in each of the projection's tables in this runner's target.
    async fn row_counts(&self, projection: &dyn Projection) -> Result<Vec<i64>, ProjectionError> {
        let mut counts = Vec::new();
        for table in projection.tables() {
            let count: i64 = match (&self.target, self.db()) {
                (Target::PostgresSchema(schema), Database::Postgres(pool)) => {
                    sqlx::query_scalar(&format!("SELECT count(*) FROM {schema}.{table}"))
                        .fetch_one(pool)
                        .await?
                }
                (Target::SqliteFile(Database::Sqlite { writer, .. }), _) => {
                    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                        .fetch_one(writer)
                        .await?
                }
                _ => return Err(ProjectionError::Storage("no shadow to count".to_owned())),
            };
            counts.push(count);
        }
        Ok(counts)
    }

    /// Puts the shadow's tables and checkpoint in place of the live ones, atomically, after
    /// checking inside the same transaction that they are what the rebuild wrote.
    async fn swap(
        &self,
        projection: &dyn Projection,
        shadow: &Runner,
        expected: &Expected,
    ) -> Result<(), ProjectionError> {
        let name = projection.name();
        match (&shadow.target, self.db()) {
            (Target::PostgresSchema(schema), Database::Postgres(pool)) => {
                // A reader holding one table while waiting for another can still deadlock with
                // the swap's exclusive locks; PostgreSQL then aborts one of the two, and the swap
                // (which changed nothing) tries again.
                let mut attempt = 0;
                loop {
                    match swap_postgres(pool, projection, schema, expected).await {
                        Err(error) if attempt < SWAP_ATTEMPTS && is_lock_conflict(&error) => {
                            attempt += 1;
                            tracing::warn!(projection.name = name, attempt, error = %error, "swap retried");
                        }
                        Err(error) => return Err(error.into()),
                        Ok(Some(incomplete)) => {
                            return Err(ProjectionError::Incomplete(incomplete))
                        }
                        Ok(None) => return Ok(()),
                    }
                }
            }
            (Target::SqliteFile(scratch), Database::Sqlite { writer, .. }) => {
                let path = locks::sqlite_main_path(scratch).await?;
                let mut connection = writer.acquire().await?;
                sqlx::query("ATTACH DATABASE ?1 AS shadow")
                    .bind(&path)
                    .execute(&mut *connection)
                    .await?;
                let swapped = async {
                    let mut tx = sqlx::Connection::begin(&mut *connection).await?;
                    let found = shadow_contents(&mut tx, projection, "shadow").await?;
                    if let Some(incomplete) = expected.differs_from(&found) {
                        return Ok(Some(incomplete));
                    }
                    for table in projection.tables() {
                        sqlx::query(&format!("DELETE FROM main.{table}"))
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(&format!(
                            "INSERT INTO main.{table} SELECT * FROM shadow.{table}"
                        ))
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query("DELETE FROM main.projection_checkpoints WHERE name = ?1")
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO main.projection_checkpoints
                         SELECT * FROM shadow.projection_checkpoints WHERE name = ?1",
                    )
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await.map(|()| None)
                }
                .await;
                sqlx::query("DETACH DATABASE shadow")
                    .execute(&mut *connection)
                    .await?;
                if let Some(incomplete) = swapped? {
                    return Err(ProjectionError::Incomplete(incomplete));
                }
                self.drop_shadow(shadow).await
            }
            _ => Err(ProjectionError::Storage(
                "shadow and live tables are on different backends".to_owned(),
            )),
        }
    }

    async fn drop_shadow(&self, shadow: &Runner) -> Result<(), ProjectionError> {
        match &shadow.target {
            Target::PostgresSchema(schema) => {
                if let Database::Postgres(pool) = self.db() {
                    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(pool)
                        .await?;
                }
            }
            Target::SqliteFile(scratch) => {
                let path = locks::sqlite_main_path(scratch).await?;
                scratch.close().await;
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{path}{suffix}"));
                }
            }
            Target::Live => {}
        }
        Ok(())
    }

    /// Rows that differ between the live tables and the shadow's.
    async fn compare(
        &self,
        projection: &dyn Projection,
        shadow: &Runner,
        limit: usize,
    ) -> Result<Vec<String>, ProjectionError> {
        let mut differences = Vec::new();
        for table in projection.tables() {
            let (live, rebuilt) = match (&shadow.target, self.db()) {
                (Target::PostgresSchema(schema), Database::Postgres(pool)) => {
                    let rows = |from: String| async move {
                        sqlx::query_scalar::<_, String>(&format!(
                            "SELECT to_jsonb(t)::text FROM {from} t ORDER BY 1"
                        ))
                        .fetch_all(pool)
                        .await
                    };
                    (
                        rows(format!("public.{table}")).await?,
                        rows(format!("{schema}.{table}")).await?,
                    )
                }
                (Target::SqliteFile(scratch), Database::Sqlite { readers, .. }) => {
                    let Database::Sqlite {
                        readers: scratch_readers,
                        ..
                    } = scratch
                    else {
                        return Err(ProjectionError::Storage("scratch is not SQLite".to_owned()));
                    };
                    let columns: Vec<String> = sqlx::query_scalar(&format!(
                        "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                    ))
                    .fetch_all(readers)
                    .await?;
                    let object = columns
                        .iter()
                        .map(|c| format!("'{c}', {c}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!("SELECT json_object({object}) FROM {table} ORDER BY 1");
                    (
                        sqlx::query_scalar::<_, String>(&sql)
                            .fetch_all(readers)
                            .await?,
                        sqlx::query_scalar::<_, String>(&sql)
                            .fetch_all(scratch_readers)
                            .await?,
                    )
                }
                _ => return Err(ProjectionError::Storage("no shadow to compare".to_owned())),
            };
            let live_set: std::collections::BTreeSet<&String> = live.iter().collect();
            let rebuilt_set: std::collections::BTreeSet<&String> = rebuilt.iter().collect();
            for row in live_set.difference(&rebuilt_set) {
                differences.push(format!("{table} - {row}"));
            }
            for row in rebuilt_set.difference(&live_set) {
                differences.push(format!("{table} + {row}"));
            }
        }
        differences.truncate(limit);
        Ok(differences)
    }

    /// Follows the feed with every projection until `shutdown` turns true. On PostgreSQL each
    /// projection first takes its runner lock, so only one server writes it at a time; the
    /// others wait and take over when it goes away. A runner that loses its lock (the database
    /// restarted, its connection was cut) stops writing, says so, and waits for the lock again.
    pub async fn run(
        self,
        projections: Vec<Arc<dyn Projection>>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tasks = Vec::new();
        for projection in projections {
            let runner = self.clone();
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                runner.follow(projection, shutdown).await;
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Whether this runner (or a clone) holds the runner lock of `name` now (always true on
    /// SQLite while following, where one process owns the file).
    pub fn holds(&self, name: &str) -> bool {
        self.holding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(name)
    }

    fn set_holding(&self, name: &'static str, holding: bool) {
        let mut held = self
            .holding
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if holding {
            held.insert(name);
        } else {
            held.remove(name);
        }
    }

    async fn follow(
        &self,
        projection: Arc<dyn Projection>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let name = projection.name();
        loop {
            let Some(session) = self.take_runner_lock(name, &mut shutdown).await else {
                return;
            };
            let runner = Runner {
                session,
                ..self.clone()
            };
            self.set_holding(name, true);
            runner.remove_leftovers(name).await;
            let lost = runner
                .follow_holding(projection.as_ref(), &mut shutdown)
                .await;
            self.set_holding(name, false);
            if !lost {
                return;
            }
            tracing::warn!(
                projection.name = name,
                "lost the projection lock (the database connection holding it is gone): stopped writing; taking the lock again"
            );
        }
    }

    /// Waits for the runner lock of `name` (PostgreSQL); `Some(None)` on SQLite, `None` at
    /// shutdown.
    async fn take_runner_lock(
        &self,
        name: &str,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Option<Option<RunnerSession>> {
        let Database::Postgres(pool) = self.db() else {
            return Some(None);
        };
        loop {
            if *shutdown.borrow() {
                return None;
            }
            match locks::try_runner_session(pool, name).await {
                Ok(Some(session)) => {
                    tracing::info!(projection.name = name, "took the projection lock");
                    return Some(Some(session));
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(projection.name = name, error = %error, "cannot take the projection lock")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL * 4) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Removes scratch space a killed rebuild or verify left, unless one is running now.
    async fn remove_leftovers(&self, name: &str) {
        let removed = async {
            match MaintenanceLock::try_acquire(self.db(), name).await? {
                Some(lock) => locks::remove_scratch(self.db(), name, &lock)
                    .await
                    .map(drop),
                None => Ok(()),
            }
        }
        .await;
        if let Err(error) = removed {
            tracing::warn!(projection.name = name, error = %error, "could not remove scratch space left behind");
        }
    }

    /// Follows while holding the runner lock. Returns whether the lock was lost (`false`: shut
    /// down, or stopped at a failed event until shutdown).
    async fn follow_holding(
        &self,
        projection: &dyn Projection,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let name = projection.name();
        let mut listener = match self.db() {
            Database::Postgres(pool) => {
                let listening = async {
                    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                    listener.listen(NOTIFY_CHANNEL).await?;
                    Ok::<_, sqlx::Error>(listener)
                }
                .await;
                match listening {
                    Ok(listener) => Some(listener),
                    Err(error) => {
                        // Said once: the read model still follows, only later (by polling).
                        tracing::warn!(projection.name = name, error = %error,
                            "cannot LISTEN for new events; polling every {} ms instead",
                            POLL_INTERVAL.as_millis());
                        None
                    }
                }
            }
            Database::Sqlite { .. } => None,
        };
        loop {
            if *shutdown.borrow() {
                return false;
            }
            match self.catch_up(projection).await {
                Ok(_) => {}
                Err(ProjectionError::Stopped(_)) | Err(ProjectionError::Event { .. }) => {
                    // Stopped at a failed event: wait for shutdown (a rebuild restarts it).
                    let _ = shutdown.changed().await;
                    return false;
                }
                Err(error) => {
                    if let Some(session) = &self.session {
                        if !locks::session_alive(session).await {
                            return true;
                        }
                    }
                    tracing::warn!(projection.name = name, error = %error, "projection batch failed; retrying");
                }
            }
            let notified = async {
                match listener.as_mut() {
                    Some(listener) => listener.recv().await.map(drop),
                    None => std::future::pending().await,
                }
            };
            // A listener that failed (and could not reconnect) would answer at once, forever:
            // it is dropped, once, for polling.
            let mut lost_listener = false;
            tokio::select! {
                received = notified => {
                    if let Err(error) = received {
                        tracing::warn!(projection.name = name, error = %error,
                            "lost the LISTEN connection; polling every {} ms instead",
                            POLL_INTERVAL.as_millis());
                        lost_listener = true;
                    }
                }
                _ = self.store.appended().notified() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = shutdown.changed() => {}
            }
            if lost_listener {
                listener = None;
            }
        }
    }

    async fn checkpoint(&self, name: &str) -> Result<Checkpoint, ProjectionError> {
        let row = match (&self.target, self.db()) {
            (Target::SqliteFile(scratch), _) => sqlite_checkpoint(scratch, name).await?,
            (_, Database::Sqlite { .. }) => sqlite_checkpoint(self.db(), name).await?,
            (target, Database::Postgres(pool)) => {
                let mut tx = pool.begin().await?;
                if let Target::PostgresSchema(schema) = target {
                    set_search_path(&mut tx, schema).await?;
                }
                let row = sqlx::query(
                    "SELECT position, state FROM projection_checkpoints WHERE name = $1",
                )
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| -> Result<(i64, String), sqlx::Error> {
                    Ok((row.try_get("position")?, row.try_get("state")?))
                })
                .transpose()?;
                tx.commit().await?;
                row
            }
        };
        Ok(match row {
            Some((position, state)) => Checkpoint {
                position: u64::try_from(position).unwrap_or(0),
                failed: state == "failed",
            },
            None => Checkpoint {
                position: 0,
                failed: false,
            },
        })
    }

    /// Applies `events` and moves the checkpoint from `from` to the last of them, in one
    /// transaction. If another writer moved the checkpoint meanwhile (a swap after a rebuild),
    /// nothing is written and `Ok(false)` says so: the batch is read again from the new position.
    async fn commit_batch(
        &self,
        projection: &dyn Projection,
        events: &[StoredEvent],
        from: u64,
        defer: bool,
    ) -> Result<bool, ProjectionError> {
        let slot = {
            let mut memories = self
                .memory
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            memories.entry(projection.name()).or_default().clone()
        };
        let mut memory = slot.lock().await;
        let memory = &mut *memory;
        memory.budget = Budget {
            deferring: defer && !matches!(self.target, Target::Live),
            capacity: self.memory_capacity,
            complete: memory.budget.complete,
        };
        let result = self.write_batch(projection, events, from, memory).await;
        match &result {
            Ok(true) => {
                memory.synced_at = Some(events.last().map_or(from, |e| e.position));
            }
            // Skipped (the checkpoint moved) or failed: what memory holds is not in the tables.
            _ => memory.clear(),
        }
        result
    }

    /// `commit_batch` in one transaction; with no events, writes only what memory deferred.
    async fn write_batch(
        &self,
        projection: &dyn Projection,
        events: &[StoredEvent],
        from_position: u64,
        memory: &mut Memory,
    ) -> Result<bool, ProjectionError> {
        let last = events.last().map_or(from_position, |e| e.position);
        let position = i64::try_from(last).unwrap_or(i64::MAX);
        let from = i64::try_from(from_position).unwrap_or(i64::MAX);
        let count = events.len() as i64;
        let sqlite_writer = match (&self.target, self.db()) {
            (Target::SqliteFile(Database::Sqlite { writer, .. }), _) => Some(writer),
            (Target::Live, Database::Sqlite { writer, .. }) => Some(writer),
            _ => None,
        };
        if let Some(writer) = sqlite_writer {
            let mut tx = writer.begin().await?;
            let current: Option<i64> =
                sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = ?1")
                    .bind(projection.name())
                    .fetch_optional(&mut *tx)
                    .await?;
            if current.unwrap_or(0) != from {
                return Ok(false);
            }
            memory.align(from_position);
            projection.apply_sqlite(&mut tx, events, memory).await?;
            sqlx::query(include_str!("checkpoint_sqlite.sql"))
                .bind(projection.name())
                .bind(position)
                .bind(count)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(true);
        }
        let Database::Postgres(pool) = self.db() else {
            return Err(ProjectionError::Storage(
                "no target for this backend".to_owned(),
            ));
        };
        // Following, the live batches go through the connection holding the runner lock: once
        // the lock is gone, so is the connection, and nothing more is written.
        let mut session = match (&self.target, &self.session) {
            (Target::Live, Some(session)) => Some(session.lock().await),
            _ => None,
        };
        let mut tx = match session.as_mut() {
            Some(connection) => sqlx::Connection::begin(&mut **connection).await?,
            None => pool.begin().await?,
        };
        match &self.target {
            Target::PostgresSchema(schema) => set_search_path(&mut tx, schema).await?,
            // Serialise with a swap (`rebuild`): a row lock on the checkpoint is not enough, as
            // the row does not exist before the first batch.
            _ => write_lock(&mut tx, projection.name()).await?,
        }
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
        )
        .bind(projection.name())
        .fetch_optional(&mut *tx)
        .await?;
        if current.unwrap_or(0) != from {
            return Ok(false);
        }
        memory.align(from_position);
        projection.apply_postgres(&mut tx, events, memory).await?;
        sqlx::query(include_str!("checkpoint_postgres.sql"))
            .bind(projection.name())
            .bind(position)
            .bind(count)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_failure(
        &self,
        name: &str,
        position: u64,
        event: &str,
        error: &str,
    ) -> Result<(), ProjectionError> {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        match self.db() {
            Database::Postgres(pool) => {
                sqlx::query(include_str!("failure_postgres.sql"))
                    .bind(name)
                    .bind(error)
                    .bind(position)
                    .bind(event)
                    .execute(pool)
                    .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(include_str!("failure_sqlite.sql"))
                    .bind(name)
                    .bind(error)
                    .bind(position)
                    .bind(event)
                    .execute(writer)
                    .await?;
            }
        }
        Ok(())
    }
}

async fn sqlite_checkpoint(
    db: &Database,
    name: &str,
) -> Result<Option<(i64, String)>, ProjectionError> {
    let Database::Sqlite { writer, .. } = db else {
        return Err(ProjectionError::Storage("expected SQLite".to_owned()));
    };
    // Read through the writer: the checkpoint must be the one the next batch will compare with.
    Ok(
        sqlx::query("SELECT position, state FROM projection_checkpoints WHERE name = ?1")
            .bind(name)
            .fetch_optional(writer)
            .await?
            .map(|row| -> Result<(i64, String), sqlx::Error> {
                Ok((row.try_get("position")?, row.try_get("state")?))
            })
            .transpose()?,
    )
}

/// How often a swap is tried again after PostgreSQL aborted it to break a deadlock.
const SWAP_ATTEMPTS: u32 = 5;

/// The transaction-scoped lock that serialises the live writes of projection `name` (each batch,
/// and a rebuild's swap). Key space 1 of the two-key advisory locks; the runner's session lock
/// (one writer per projection) uses the one-key space.
async fn write_lock(tx: &mut sqlx::PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Deadlock (40P01) or lock not available (55P03).
fn is_lock_conflict(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40P01" || code == "55P03")
}

/// One try at swapping a PostgreSQL shadow schema in: all or nothing. `Ok(Some(why))` when the
/// shadow is not what the rebuild wrote (nothing was changed).
async fn swap_postgres(
    pool: &sqlx::PgPool,
    projection: &dyn Projection,
    schema: &str,
    expected: &Expected,
) -> Result<Option<String>, sqlx::Error> {
    let name = projection.name();
    let mut tx = pool.begin().await?;
    // The shadow cannot change from here to the commit; counting it before taking the live
    // tables keeps readers of the live ones waiting only for the swap itself.
    let shadow = projection
        .tables()
        .iter()
        .chain(&["projection_checkpoints"])
        .map(|table| format!("{schema}.{table}"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query(&format!("LOCK TABLE {shadow} IN SHARE MODE"))
        .execute(&mut *tx)
        .await?;
    let found = shadow_contents(&mut tx, projection, schema).await?;
    if let Some(incomplete) = expected.differs_from(&found) {
        return Ok(Some(incomplete));
    }
    // A live batch in flight finishes first; one that starts later sees the moved checkpoint and
    // reads again.
    write_lock(&mut tx, name).await?;
    let live = projection
        .tables()
        .iter()
        .map(|table| format!("public.{table}"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query(&format!("LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *tx)
        .await?;
    for table in projection.tables() {
        sqlx::query(&format!("DROP TABLE public.{table}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("ALTER TABLE {schema}.{table} SET SCHEMA public"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM public.projection_checkpoints WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "INSERT INTO public.projection_checkpoints
         SELECT * FROM {schema}.projection_checkpoints WHERE name = $1"
    ))
    .bind(name)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(None)
}

/// What a rebuild's fill did.
struct Filled {
    /// Events applied.
    applied: u64,
    /// The position of the last of them.
    position: u64,
    /// Events a reader of the feed could see when the fill started: it must have applied at
    /// least these.
    readable_at_start: u64,
}

/// What a shadow must hold to be swapped in: the rows and checkpoint its rebuild wrote.
struct Expected {
    position: u64,
    events: u64,
    /// Rows per table, in the order of `Projection::tables`.
    rows: Vec<i64>,
}

impl Expected {
    /// Why `found` is not what was expected, if it is not.
    fn differs_from(&self, found: &Expected) -> Option<String> {
        (found.position != self.position || found.events != self.events || found.rows != self.rows)
            .then(|| {
                format!(
                    "the shadow holds checkpoint {} after {} events and rows {:?}; the rebuild wrote checkpoint {} after {} events and rows {:?}",
                    found.position, found.events, found.rows, self.position, self.events, self.rows
                )
            })
    }
}

/// The checkpoint and row counts of a shadow, read inside the swap's transaction (`schema`: the
/// PostgreSQL schema, or the SQLite name the scratch file is attached as).
async fn shadow_contents<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    projection: &dyn Projection,
    schema: &str,
) -> Result<Expected, sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let mut rows = Vec::new();
    for table in projection.tables() {
        let (count,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {schema}.{table}"))
            .fetch_one(&mut **tx)
            .await?;
        rows.push(count);
    }
    let checkpoint: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT position, events FROM {schema}.projection_checkpoints WHERE name = '{}'",
        projection.name()
    ))
    .fetch_optional(&mut **tx)
    .await?;
    let (position, events) = checkpoint.unwrap_or((0, 0));
    Ok(Expected {
        position: u64::try_from(position).unwrap_or(0),
        events: u64::try_from(events).unwrap_or(0),
        rows,
    })
}

/// Events a reader of the feed can see now: on PostgreSQL those below the oldest transaction in
/// flight (what `read_all` returns), on SQLite all of them.
async fn readable_events(store: &EventStore) -> Result<u64, ProjectionError> {
    let count: i64 =
        match store.database() {
            Database::Postgres(pool) => sqlx::query_scalar(
                "SELECT count(*) FROM events WHERE txid < pg_snapshot_xmin(pg_current_snapshot())",
            )
            .fetch_one(pool)
            .await?,
            Database::Sqlite { readers, .. } => {
                sqlx::query_scalar("SELECT count(*) FROM events")
                    .fetch_one(readers)
                    .await?
            }
        };
    Ok(u64::try_from(count).unwrap_or(0))
}

async fn set_search_path(tx: &mut sqlx::PgConnection, schema: &str) -> Result<(), ProjectionError> {
    sqlx::query(&format!("SET LOCAL search_path TO {schema}, public"))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Whether projection `name` has applied the event at global `position` (read-your-writes).
/// On PostgreSQL "applied" follows the feed's order (transaction, then position), not the
/// position's number alone.
pub async fn has_reached(
    store: &EventStore,
    name: &str,
    position: u64,
) -> Result<bool, ProjectionError> {
    let position = i64::try_from(position).unwrap_or(i64::MAX);
    let reached: bool = match store.database() {
        Database::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT EXISTS (
                     SELECT 1 FROM projection_checkpoints c
                       JOIN events done ON done.position = c.position
                       JOIN events target ON target.position = $2
                      WHERE c.name = $1 AND (target.txid, target.position) <= (done.txid, done.position))",
            )
            .bind(name)
            .bind(position)
            .fetch_one(pool)
            .await?
        }
        Database::Sqlite { readers, .. } => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM projection_checkpoints WHERE name = ?1 AND position >= ?2)",
            )
            .bind(name)
            .bind(position)
            .fetch_one(readers)
            .await?
        }
    };
    Ok(reached)
}

/// A keyset page's SQL, built from only the filters given (so each can use its index): every `?`
/// of a condition becomes that condition's `$n`; then `key > $n+1 ORDER BY key LIMIT $n+2`.
pub(crate) struct Page<V> {
    conditions: Vec<String>,
    /// The values of the conditions, in placeholder order.
    pub(crate) values: Vec<V>,
}

impl<V> Page<V> {
    pub(crate) fn new() -> Self {
        Self {
            conditions: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Adds `condition` (its `?` standing for `value`).
    pub(crate) fn filter(&mut self, condition: &str, value: V) {
        self.values.push(value);
        self.conditions
            .push(condition.replace('?', &format!("${}", self.values.len())));
    }

    /// `select` (a `SELECT … FROM …` without `WHERE`) with the conditions and the keyset.
    pub(crate) fn sql(&self, select: &str, key: &str) -> String {
        let n = self.values.len();
        let mut conditions = self.conditions.clone();
        conditions.push(format!("{key} > ${}", n + 1));
        format!(
            "{} WHERE {} ORDER BY {key} LIMIT ${}",
            select.trim_end(),
            conditions.join(" AND "),
            n + 2
        )
    }
}

/// PostgreSQL's `$n` placeholders and date casts in SQLite's dialect (dates are ISO text there).
pub(crate) fn sqlite_sql(postgres: &str) -> String {
    let mut sql = postgres.to_owned();
    for n in (1..=40).rev() {
        sql = sql
            .replace(&format!("CAST(${n} AS date)"), &format!("?{n}"))
            .replace(&format!("${n}"), &format!("?{n}"));
    }
    sql
}

/// The status of every projection in `names` (those never run show position 0).
pub async fn status(
    store: &EventStore,
    names: &[&str],
) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    let mut result = Vec::with_capacity(names.len());
    let total = store.count().await?;
    for name in names {
        let row = match store.database() {
            Database::Postgres(pool) => sqlx::query(
                "SELECT position, events, state, last_error, error_position, error_event
                   FROM projection_checkpoints WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
            .map(|row| status_row_pg(&row))
            .transpose()?,
            Database::Sqlite { readers, .. } => sqlx::query(
                "SELECT position, events, state, last_error, error_position, error_event
                   FROM projection_checkpoints WHERE name = ?1",
            )
            .bind(name)
            .fetch_optional(readers)
            .await?
            .map(|row| status_row_sqlite(&row))
            .transpose()?,
        };
        let (position, events, state, last_error, error_position, error_event) =
            row.unwrap_or((0, 0, "running".to_owned(), None, None, None));
        let next = store.read_all(position, 1).await?;
        let lag_seconds = next
            .first()
            .and_then(|event| event.metadata.get("recorded_at"))
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .map(|at| {
                (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_milliseconds() as f64
                    / 1000.0
            })
            .unwrap_or(0.0)
            .max(0.0);
        result.push(ProjectionStatus {
            name: (*name).to_owned(),
            position,
            events,
            lag_events: total.saturating_sub(events),
            lag_seconds,
            state,
            last_error,
            error_position,
            error_event,
            scratch: locks::scratch_of(store.database(), name).await?,
        });
    }
    Ok(result)
}

type StatusRow = (
    u64,
    u64,
    String,
    Option<String>,
    Option<u64>,
    Option<String>,
);

fn status_row_pg(row: &sqlx::postgres::PgRow) -> Result<StatusRow, sqlx::Error> {
    Ok((
        row.try_get::<i64, _>("position")? as u64,
        row.try_get::<i64, _>("events")? as u64,
        row.try_get("state")?,
        row.try_get("last_error")?,
        row.try_get::<Option<i64>, _>("error_position")?
            .map(|p| p as u64),
        row.try_get("error_event")?,
    ))
}

fn status_row_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<StatusRow, sqlx::Error> {
    Ok((
        row.try_get::<i64, _>("position")? as u64,
        row.try_get::<i64, _>("events")? as u64,
        row.try_get("state")?,
        row.try_get("last_error")?,
        row.try_get::<Option<i64>, _>("error_position")?
            .map(|p| p as u64),
        row.try_get("error_event")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_become_sqlite_ones() {
        assert_eq!(
            sqlite_sql("VALUES ($1, CAST($12 AS date), $2)"),
            "VALUES (?1, ?12, ?2)"
        );
    }
}

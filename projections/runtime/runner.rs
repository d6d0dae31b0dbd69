//! The [`Runner`] following the feed live: `run`/`follow` (one task per read model, taking its
//! runner lock, woken by LISTEN/NOTIFY, the store's in-process signal or polling), `step` and
//! `catch_up`, and the batch transaction every write goes through (`commit_batch`, with the
//! checkpoint re-checked inside it, and the `write_lock` a swap serialises with).

use std::sync::Arc;
use std::time::Duration;

use simpul_store::{Database, EventStore, StoredEvent};

use super::locks::{self, MaintenanceLock, RunnerSession};
use super::sql::set_search_path;
use super::{
    Budget, Memory, Projection, ProjectionError, BATCH_SIZE, MEMORY_CAPACITY, REBUILD_BATCH_SIZE,
};

/// How often an idle runner looks for new events when no notification arrives.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The channel the events table's trigger notifies on commit (migration `…_projections.sql`).
const NOTIFY_CHANNEL: &str = "simpul_events";

/// Runs projections over one event store.
#[derive(Clone)]
pub struct Runner {
    pub(super) store: EventStore,
    pub(super) batch_size: u32,
    pub(super) rebuild_batch_size: u32,
    pub(super) memory_capacity: usize,
    pub(super) target: Target,
    /// Each projection's [`Memory`], locked for the length of a batch.
    pub(super) memory: Arc<std::sync::Mutex<MemoryMap>>,
    /// While following on PostgreSQL: the connection holding this runner's lock on the read
    /// model, through which its live batches are written (see `locks`).
    pub(super) session: Option<RunnerSession>,
    /// The read models whose runner lock this runner (or a clone of it) holds.
    pub(super) holding: Arc<std::sync::Mutex<std::collections::HashSet<&'static str>>>,
}

/// Where a runner writes: the live tables, or a shadow copy being rebuilt.
#[derive(Clone, Debug)]
pub(super) enum Target {
    /// The live read-model tables.
    Live,
    /// Tables of the same names in a PostgreSQL schema of their own (`search_path`).
    PostgresSchema(String),
    /// A scratch SQLite database with the same tables.
    SqliteFile(Database),
}

type MemoryMap = std::collections::HashMap<&'static str, Arc<tokio::sync::Mutex<Memory>>>;

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

    pub(super) fn db(&self) -> &Database {
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

    /// Applies `events` and moves the checkpoint from `from` to the last of them, in one
    /// transaction. If another writer moved the checkpoint meanwhile (a swap after a rebuild),
    /// nothing is written and `Ok(false)` says so: the batch is read again from the new position.
    pub(super) async fn commit_batch(
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
}

/// The transaction-scoped lock that serialises the live writes of projection `name` (each batch,
/// and a rebuild's swap). Key space 1 of the two-key advisory locks; the runner's session lock
/// (one writer per projection) uses the one-key space.
pub(super) async fn write_lock(tx: &mut sqlx::PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(1, hashtext($1))")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

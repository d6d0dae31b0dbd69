//! Rebuild and verify: replaying the whole log into a scratch space of its own (a PostgreSQL
//! shadow schema or a scratch SQLite file), then swapping the shadow's tables and checkpoint in
//! after checking, in the swap's transaction, that it holds what the rebuild wrote ([`Expected`])
//! and every event readable when it started; or comparing it with the live tables row by row.

use std::sync::Arc;

use simpul_store::{Database, EventStore};

use super::locks::{self, MaintenanceLock, Purpose};
use super::runner::{write_lock, Target};
use super::{Projection, ProjectionError, Runner};

impl Runner {
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
}

/// How often a swap is tried again after PostgreSQL aborted it to break a deadlock.
const SWAP_ATTEMPTS: u32 = 5;

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

/// Events a reader of the feed can see now: every committed one, on both backends (on PostgreSQL
/// an event is in the feed from its commit on: `read_all.sql`). Counted without the feed's own
/// join, so an event the feed could not give would make the rebuild fail, not shrink it.
async fn readable_events(store: &EventStore) -> Result<u64, ProjectionError> {
    const SQL: &str = "SELECT count(*) FROM events";
    let count: i64 = match store.database() {
        Database::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await?,
        Database::Sqlite { readers, .. } => sqlx::query_scalar(SQL).fetch_one(readers).await?,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

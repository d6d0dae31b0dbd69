//! Checkpoints: reading one ([`Runner`]'s next batch starts there), recording the event a
//! projection failed at, each read model's [`ProjectionStatus`] ([`status`]), and
//! [`has_reached`] (read-your-writes).

use serde::Serialize;
use simpul_store::{Database, EventStore};
use sqlx::Row as _;

use super::locks::{self, Scratch};
use super::runner::Target;
use super::sql::set_search_path;
use super::{ProjectionError, Runner};

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

pub(super) struct Checkpoint {
    pub(super) position: u64,
    pub(super) failed: bool,
}

impl Runner {
    pub(super) async fn checkpoint(&self, name: &str) -> Result<Checkpoint, ProjectionError> {
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

    pub(super) async fn record_failure(
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
                       JOIN feed_commits done_commit ON done_commit.batch = done.commit_batch
                       JOIN events target ON target.position = $2
                       JOIN feed_commits target_commit ON target_commit.batch = target.commit_batch
                      WHERE c.name = $1
                        AND (target_commit.seq, target.position) <= (done_commit.seq, done.position))",
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

/// The status of every projection in `names` (those never run show position 0).
pub async fn status(
    store: &EventStore,
    names: &[&str],
) -> Result<Vec<ProjectionStatus>, ProjectionError> {
    let mut result = Vec::with_capacity(names.len());
    // Counting the log costs a scan of it (~0.4 s at 2.4 M events): only a read model that is
    // behind needs the count, and a caught-up one — the usual case — is told by its next event.
    let mut total = None;
    for name in names {
        const SQL: &str = "SELECT position, events, state, last_error, error_position, error_event
            FROM projection_checkpoints WHERE name = $1";
        let row: Option<StatusRow> = match store.database() {
            Database::Postgres(pool) => sqlx::query_as(SQL).bind(name).fetch_optional(pool).await?,
            Database::Sqlite { readers, .. } => {
                sqlx::query_as(&simpul_store::sqlite_sql(SQL))
                    .bind(name)
                    .fetch_optional(readers)
                    .await?
            }
        };
        let (position, events, state, last_error, error_position, error_event) = row
            .map(|(position, events, state, error, at, event)| {
                (
                    position as u64,
                    events as u64,
                    state,
                    error,
                    at.map(|p: i64| p as u64),
                    event,
                )
            })
            .unwrap_or((0, 0, "running".to_owned(), None, None, None));
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
        let lag_events = if next.is_empty() {
            0
        } else {
            let total = match total {
                Some(total) => total,
                None => *total.insert(store.count().await?),
            };
            // At least the next event, even while a rebuild's count is ahead of the log's.
            total.saturating_sub(events).max(1)
        };
        result.push(ProjectionStatus {
            name: (*name).to_owned(),
            position,
            events,
            lag_events,
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

/// A checkpoint's row: position, events, state, last error, its position and event.
type StatusRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
);

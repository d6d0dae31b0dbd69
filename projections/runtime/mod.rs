//! The catch-up runtime: each projection reads the global feed in batches from its own
//! checkpoint and writes its rows and the new checkpoint in one transaction.
//!
//! A projection that fails on an event commits everything before it, stops there with state
//! `failed`, and reports the event's position, id and error; the others go on. Nothing is skipped
//! silently: a failed projection moves again only when rebuilt.
//!
//! The files, by responsibility:
//! - `mod.rs`: the [`Projection`] trait, [`ProjectionError`] and the batch sizes;
//! - `driver.rs`: [`ReadModel`] (a read model's fold, stated once) and [`Storage`] (its
//!   per-dialect load and write), run as a [`Projection`] by the one [`Driver`];
//! - `memory.rs`: what a projection keeps between batches ([`Memory`], [`Budget`], [`Entries`]);
//! - `runner.rs`: the [`Runner`] following the feed live (`run`, `step`, `catch_up`) and the
//!   batch transaction every write goes through;
//! - `rebuild.rs`: `rebuild` and `verify` into shadow tables, the swap and its completeness
//!   check;
//! - `status.rs`: checkpoints and failures, [`status()`] and [`has_reached`];
//! - `sql.rs`: SQL helpers (keyset pages, SQLite's dialect, a shadow's `search_path`);
//! - `locks.rs`: who may write a read model, and the scratch spaces rebuilds leave behind.

mod driver;
mod locks;
mod memory;
mod rebuild;
mod runner;
mod sql;
mod status;

use async_trait::async_trait;
use simpul_store::{StoreError, StoredEvent};

pub use driver::{load_any, load_each, Driver, Loaded, ReadModel, Remembered, Storage};
pub use locks::Scratch;
pub use memory::{Budget, Entries, Memory};
pub use runner::Runner;
pub(crate) use sql::{sqlite_sql, Page};
pub use status::{has_reached, status, ProjectionStatus};

/// Events read per batch (and per transaction).
pub const BATCH_SIZE: u32 = 500;
/// Events read per batch while rebuilding into shadow tables (their writes are deferred, see
/// [`Memory`]; each batch still commits the shadow's checkpoint, so no transaction stays open).
pub const REBUILD_BATCH_SIZE: u32 = 5_000;

/// Communities a projection keeps in memory between batches before it starts over from its
/// tables (bounds the memory of a runner, whatever the size of the log).
pub const MEMORY_CAPACITY: usize = 100_000;

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

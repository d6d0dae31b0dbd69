//! What every handler shares.

use std::sync::Arc;

use simpul_app::{CommandExecutor, Reads, Writes};
use simpul_regions::Regions;
use simpul_store::{Database, EventStore, IdempotencyStore, KeyStore, TokenStore};

/// Cloneable application state: PostgreSQL and SQLite look the same from here.
#[derive(Clone)]
pub struct AppState {
    /// Runs commands (reads of a KIM's state go through it too).
    pub executor: Arc<CommandExecutor>,
    /// Every principal's write: authorise, Idempotency-Key, sealing, run.
    pub writes: Writes,
    /// Every principal's read: scope, query, rows.
    pub reads: Reads,
    /// Per-person data keys (sealing names, opening them for roles that may see them).
    pub keys: KeyStore,
    /// API tokens.
    pub tokens: TokenStore,
    /// Region codes of the current edition.
    pub regions: &'static Regions,
    /// The database, for readiness checks.
    pub database: Database,
}

impl AppState {
    /// The state for one database.
    pub fn new(database: Database, keys: KeyStore, regions: &'static Regions) -> Self {
        let store = EventStore::new(database.clone());
        let services = simpul_domain::CommunityServices::new(Arc::new(regions));
        let executor = Arc::new(CommandExecutor::new(store, services));
        let idempotency = IdempotencyStore::new(database.clone());
        Self {
            writes: Writes::new(executor.clone(), idempotency, keys.clone()),
            reads: Reads::new(executor.clone(), regions),
            executor,
            keys,
            tokens: TokenStore::new(database.clone()),
            regions,
            database,
        }
    }

    /// The event store.
    pub fn store(&self) -> &EventStore {
        self.executor.store()
    }
}

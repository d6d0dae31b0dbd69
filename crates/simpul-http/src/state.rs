//! What every handler shares.

use std::sync::Arc;

use simpul_app::CommandExecutor;
use simpul_regions::Regions;
use simpul_store::{Database, EventStore, IdempotencyStore, KeyStore, TokenStore};

/// Cloneable application state: PostgreSQL and SQLite look the same from here.
#[derive(Clone)]
pub struct AppState {
    /// Runs commands.
    pub executor: Arc<CommandExecutor>,
    /// Per-person data keys (sealing names, opening them for roles that may see them).
    pub keys: KeyStore,
    /// API tokens.
    pub tokens: TokenStore,
    /// Idempotency keys.
    pub idempotency: IdempotencyStore,
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
        Self {
            executor: Arc::new(CommandExecutor::new(store, services)),
            keys,
            tokens: TokenStore::new(database.clone()),
            idempotency: IdempotencyStore::new(database.clone()),
            regions,
            database,
        }
    }

    /// The event store.
    pub fn store(&self) -> &EventStore {
        self.executor.store()
    }
}

//! `ledger`: every event's **ledger index** — dense (0, 1, 2, … with no gap), in the feed's
//! commit order, assigned once — and its RFC 9162 leaf hash over the event's canonical bytes
//! (`simpul_ledger`, `docs/ledger.md`). Built by the runner like every read model, so it is off
//! the append path: a command never waits for it.
//!
//! The index is the number of leaves before it: the runner applies each event exactly once, in
//! feed order, and writes leaves and checkpoint in one transaction, so the indexes stay dense
//! whatever crashes or restarts.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "ledger";

pub mod query;

use async_trait::async_trait;
use simpul_ledger::{canonical_event, leaf_hash, to_hex, EventFields, Hash};
use simpul_store::StoredEvent;

use crate::runtime::{sqlite_sql, Budget, Loaded, ProjectionError, ReadModel, Remembered, Storage};

/// The `ledger` read model.
pub struct Ledger;

/// Leaves folded but not written yet (only while a rebuild defers its writes).
#[derive(Default)]
pub struct Pending {
    /// (position, leaf hash), in feed order.
    leaves: Vec<(i64, Hash)>,
}

impl Remembered<()> for Pending {
    /// A leaf depends on its event alone: nothing is read back.
    fn missing(&self, _events: &[StoredEvent], _budget: Budget) -> Vec<String> {
        Vec::new()
    }

    fn loaded(&mut self, _missing: Vec<String>, _found: Vec<(String, ())>) {}
}

/// The leaf hash of a stored event.
pub fn leaf_of(event: &StoredEvent) -> Result<Hash, ProjectionError> {
    let metadata = serde_json::Value::Object(
        event
            .metadata
            .iter()
            .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
            .collect(),
    );
    let bytes = canonical_event(&EventFields {
        community_id: &event.aggregate_id,
        sequence: event.sequence,
        event_type: &event.event_type,
        event_version: &event.event_version,
        payload: &event.payload,
        metadata: &metadata,
    })
    .map_err(|error| ProjectionError::Event {
        position: event.position,
        event: format!("{}#{}", event.aggregate_id, event.sequence),
        error: error.to_string(),
    })?;
    Ok(leaf_hash(&bytes))
}

impl ReadModel for Ledger {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["ledger_leaves"];
    type State = Pending;
    type Loaded = ();
    type Rows = Vec<(i64, Hash)>;

    fn fold(&self, pending: &mut Pending, events: &[StoredEvent]) -> Result<(), ProjectionError> {
        for event in events {
            let position = i64::try_from(event.position).unwrap_or(i64::MAX);
            pending.leaves.push((position, leaf_of(event)?));
        }
        Ok(())
    }

    fn take(
        &self,
        pending: &mut Pending,
        budget: Budget,
    ) -> Result<Option<Self::Rows>, ProjectionError> {
        let due = !budget.deferring || pending.leaves.len() > budget.capacity;
        Ok(due.then(|| std::mem::take(&mut pending.leaves)))
    }
}

/// The next ledger index: the number of leaves so far (dense from 0).
const NEXT_INDEX: &str = "SELECT COALESCE(MAX(ledger_index) + 1, 0) FROM ledger_leaves";

#[async_trait]
impl Storage<sqlx::PgConnection> for Ledger {
    async fn load(
        &self,
        _tx: &mut sqlx::PgConnection,
        _ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        Ok(Vec::new())
    }

    /// One `INSERT` of column arrays, indexes counted on from the last.
    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        leaves: Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        if leaves.is_empty() {
            return Ok(());
        }
        let next: i64 = sqlx::query_scalar(NEXT_INDEX).fetch_one(&mut *tx).await?;
        let indexes: Vec<i64> = (next..).take(leaves.len()).collect();
        let positions: Vec<i64> = leaves.iter().map(|(position, _)| *position).collect();
        let hashes: Vec<String> = leaves.iter().map(|(_, hash)| to_hex(hash)).collect();
        sqlx::query(
            "INSERT INTO ledger_leaves (ledger_index, position, leaf_hash)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[])",
        )
        .bind(&indexes)
        .bind(&positions)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Storage<sqlx::SqliteConnection> for Ledger {
    async fn load(
        &self,
        _tx: &mut sqlx::SqliteConnection,
        _ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        Ok(Vec::new())
    }

    /// One prepared insert per leaf, indexes counted on from the last.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        leaves: Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        if leaves.is_empty() {
            return Ok(());
        }
        let mut next: i64 = sqlx::query_scalar(NEXT_INDEX).fetch_one(&mut *tx).await?;
        let insert = sqlite_sql(
            "INSERT INTO ledger_leaves (ledger_index, position, leaf_hash) VALUES ($1, $2, $3)",
        );
        for (position, hash) in &leaves {
            sqlx::query(&insert)
                .bind(next)
                .bind(position)
                .bind(to_hex(hash))
                .execute(&mut *tx)
                .await?;
            next += 1;
        }
        Ok(())
    }
}

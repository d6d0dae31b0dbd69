//! `ledger`: every event's **ledger index** — dense (0, 1, 2, … with no gap), in the feed's
//! commit order, assigned once — and its RFC 9162 leaf hash over the event's canonical bytes
//! (`simpul_ledger`, `docs/ledger.md`). Built by the runner like every read model, so it is off
//! the append path: a command never waits for it.
//!
//! The index is the number of leaves before it: the runner applies each event exactly once, in
//! feed order, and writes leaves and checkpoint in one transaction, so the indexes stay dense
//! whatever crashes or restarts. Each leaf also joins the sub-log of its community's province
//! (known from the community's `CommunityFormed` event), with a dense *province index* there.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "ledger";

pub mod query;

use async_trait::async_trait;
use simpul_ledger::{canonical_event, formed_province, leaf_hash, to_hex, EventFields, Hash};
use simpul_store::StoredEvent;

use crate::runtime::{
    load_any, load_each, sqlite_sql, Budget, Entries, Loaded, ProjectionError, ReadModel,
    Remembered, Storage,
};

/// The `ledger` read model.
pub struct Ledger;

/// What the read model keeps between batches.
#[derive(Default)]
pub struct Pending {
    /// Each community's province code.
    provinces: Entries<String>,
    /// Leaves folded but not written yet (only while a rebuild defers its writes).
    leaves: Vec<PendingLeaf>,
}

/// A leaf waiting for its ledger and province indexes.
pub struct PendingLeaf {
    position: i64,
    province: String,
    hash: Hash,
}

/// What one write stores: leaves in feed order, and the communities first seen.
pub struct Rows {
    leaves: Vec<PendingLeaf>,
    communities: Vec<(String, String)>,
}

impl Remembered<String> for Pending {
    fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String> {
        self.provinces.missing(events, budget)
    }

    fn loaded(&mut self, missing: Vec<String>, found: Vec<(String, String)>) {
        Remembered::loaded(&mut self.provinces, missing, found);
    }
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
    .map_err(|error| event_error(event, error.to_string()))?;
    Ok(leaf_hash(&bytes))
}

fn event_error(event: &StoredEvent, error: String) -> ProjectionError {
    ProjectionError::Event {
        position: event.position,
        event: format!("{}#{}", event.aggregate_id, event.sequence),
        error,
    }
}

/// The province of a `CommunityFormed` event's desa, or `None` for any other event
/// ([`simpul_ledger::formed_province`]: the verifiers use the same rule).
pub fn formed_in(event: &StoredEvent) -> Result<Option<String>, ProjectionError> {
    match formed_province(&event.event_type, &event.payload) {
        None => Ok(None),
        Some(Ok(province)) => Ok(Some(province.to_owned())),
        Some(Err(error)) => Err(event_error(event, error)),
    }
}

impl ReadModel for Ledger {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] =
        &["ledger_leaves", "ledger_communities", "ledger_provinces"];
    type State = Pending;
    type Loaded = String;
    type Rows = Rows;

    fn fold(&self, pending: &mut Pending, events: &[StoredEvent]) -> Result<(), ProjectionError> {
        for event in events {
            let province = match formed_in(event)? {
                Some(province) => {
                    pending
                        .provinces
                        .change(&event.aggregate_id, || province.clone());
                    province
                }
                None => pending
                    .provinces
                    .get(&event.aggregate_id)
                    .cloned()
                    .ok_or_else(|| {
                        event_error(event, "its community was never formed".to_owned())
                    })?,
            };
            pending.leaves.push(PendingLeaf {
                position: i64::try_from(event.position).unwrap_or(i64::MAX),
                province,
                hash: leaf_of(event)?,
            });
        }
        Ok(())
    }

    fn take(
        &self,
        pending: &mut Pending,
        budget: Budget,
    ) -> Result<Option<Self::Rows>, ProjectionError> {
        let due = !budget.deferring
            || pending.leaves.len() > budget.capacity
            || pending.provinces.must_write(budget);
        if !due {
            return Ok(None);
        }
        let communities = pending
            .provinces
            .changed()
            .map(|(id, province)| (id.clone(), province.clone()))
            .collect();
        pending.provinces.written(budget);
        Ok(Some(Rows {
            leaves: std::mem::take(&mut pending.leaves),
            communities,
        }))
    }
}

/// The next ledger index: the number of leaves so far (dense from 0).
const NEXT_INDEX: &str = "SELECT COALESCE(MAX(ledger_index) + 1, 0) FROM ledger_leaves";
const SIZES: &str = "SELECT province, size FROM ledger_provinces";
const LOAD: &str = "SELECT community_id, province FROM ledger_communities";

/// The rows of `leaves` with their ledger and province indexes, counted on from `next` and
/// from each sub-log's size in `sizes` (updated to the new sizes).
struct Indexed {
    ledger_index: Vec<i64>,
    position: Vec<i64>,
    leaf_hash: Vec<String>,
    province: Vec<String>,
    province_index: Vec<i64>,
}

fn index(
    leaves: Vec<PendingLeaf>,
    next: i64,
    sizes: &mut std::collections::HashMap<String, i64>,
) -> Indexed {
    let mut rows = Indexed {
        ledger_index: (next..).take(leaves.len()).collect(),
        position: Vec::with_capacity(leaves.len()),
        leaf_hash: Vec::with_capacity(leaves.len()),
        province: Vec::with_capacity(leaves.len()),
        province_index: Vec::with_capacity(leaves.len()),
    };
    for leaf in leaves {
        let size = sizes.entry(leaf.province.clone()).or_insert(0);
        rows.province_index.push(*size);
        *size += 1;
        rows.position.push(leaf.position);
        rows.leaf_hash.push(to_hex(&leaf.hash));
        rows.province.push(leaf.province);
    }
    rows
}

#[async_trait]
impl Storage<sqlx::PgConnection> for Ledger {
    async fn load(
        &self,
        tx: &mut sqlx::PgConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        use sqlx::Row as _;
        let sql = format!("{LOAD} WHERE community_id = ANY($1)");
        load_any(tx, &sql, ids, |row| Ok(row.try_get("province")?)).await
    }

    /// `INSERT`s of column arrays; indexes counted on from the last ones.
    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        if !rows.communities.is_empty() {
            let (ids, provinces): (Vec<String>, Vec<String>) = rows.communities.into_iter().unzip();
            sqlx::query(
                "INSERT INTO ledger_communities (community_id, province)
                 SELECT * FROM UNNEST($1::text[], $2::text[])",
            )
            .bind(&ids)
            .bind(&provinces)
            .execute(&mut *tx)
            .await?;
        }
        if rows.leaves.is_empty() {
            return Ok(());
        }
        let next: i64 = sqlx::query_scalar(NEXT_INDEX).fetch_one(&mut *tx).await?;
        let mut sizes: std::collections::HashMap<String, i64> = sqlx::query_as(SIZES)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        let leaves = index(rows.leaves, next, &mut sizes);
        sqlx::query(
            "INSERT INTO ledger_leaves
               (ledger_index, position, leaf_hash, province, province_index)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[])",
        )
        .bind(&leaves.ledger_index)
        .bind(&leaves.position)
        .bind(&leaves.leaf_hash)
        .bind(&leaves.province)
        .bind(&leaves.province_index)
        .execute(&mut *tx)
        .await?;
        let (provinces, sizes): (Vec<String>, Vec<i64>) = sizes.into_iter().unzip();
        sqlx::query(
            "INSERT INTO ledger_provinces (province, size)
             SELECT * FROM UNNEST($1::text[], $2::bigint[])
             ON CONFLICT (province) DO UPDATE SET size = EXCLUDED.size",
        )
        .bind(&provinces)
        .bind(&sizes)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Storage<sqlx::SqliteConnection> for Ledger {
    async fn load(
        &self,
        tx: &mut sqlx::SqliteConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        use sqlx::Row as _;
        let sql = format!("{LOAD} WHERE community_id = ?1");
        load_each(tx, &sql, ids, |row| Ok(row.try_get("province")?)).await
    }

    /// One prepared insert per row; indexes counted on from the last ones.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rows: Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        for (id, province) in &rows.communities {
            sqlx::query("INSERT INTO ledger_communities (community_id, province) VALUES (?1, ?2)")
                .bind(id)
                .bind(province)
                .execute(&mut *tx)
                .await?;
        }
        if rows.leaves.is_empty() {
            return Ok(());
        }
        let next: i64 = sqlx::query_scalar(NEXT_INDEX).fetch_one(&mut *tx).await?;
        let mut sizes: std::collections::HashMap<String, i64> = sqlx::query_as(SIZES)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        let leaves = index(rows.leaves, next, &mut sizes);
        let insert = sqlite_sql(
            "INSERT INTO ledger_leaves (ledger_index, position, leaf_hash, province, province_index)
             VALUES ($1, $2, $3, $4, $5)",
        );
        for i in 0..leaves.position.len() {
            sqlx::query(&insert)
                .bind(leaves.ledger_index[i])
                .bind(leaves.position[i])
                .bind(&leaves.leaf_hash[i])
                .bind(&leaves.province[i])
                .bind(leaves.province_index[i])
                .execute(&mut *tx)
                .await?;
        }
        for (province, size) in sizes {
            sqlx::query(
                "INSERT INTO ledger_provinces (province, size) VALUES (?1, ?2)
                 ON CONFLICT (province) DO UPDATE SET size = excluded.size",
            )
            .bind(province)
            .bind(size)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

//! Reading the ledger: its size, its leaves (globally or in one province's sub-log), its tree
//! heads, its signed checkpoints, and each event's ledger index.

use std::collections::{BTreeMap, HashMap};

use simpul_ledger::{from_hex, Frontier, Hash, SubLogs};
use simpul_store::Database;

use crate::runtime::{sqlite_sql, ProjectionError};

/// One leaf as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// Its ledger index (dense from 0).
    pub index: u64,
    /// The event's global position.
    pub position: u64,
    /// SHA-256(0x00 || canonical bytes).
    pub hash: Hash,
    /// The province of its community: the sub-log it is in.
    pub province: String,
    /// Its index in that sub-log (dense from 0).
    pub province_index: u64,
}

type LeafRow = (i64, i64, String, String, i64);

const LEAF_COLUMNS: &str =
    "SELECT ledger_index, position, leaf_hash, province, province_index FROM ledger_leaves";

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn leaf_from(
    (index, position, hash, province, province_index): LeafRow,
) -> Result<Leaf, ProjectionError> {
    Ok(Leaf {
        index: to_u64(index),
        position: to_u64(position),
        hash: from_hex(&hash).ok_or_else(|| {
            ProjectionError::Storage(format!("leaf {index} is not 64 hex digits"))
        })?,
        province,
        province_index: to_u64(province_index),
    })
}

/// Runs a leaf query with text and two integer bounds, in either dialect.
async fn leaf_query(
    db: &Database,
    sql: &str,
    text: Option<&str>,
    from: u64,
    to: u64,
) -> Result<Vec<Leaf>, ProjectionError> {
    let rows: Vec<LeafRow> = match db {
        Database::Postgres(pool) => {
            let query = sqlx::query_as(sql);
            let query = match text {
                Some(text) => query.bind(text),
                None => query,
            };
            query
                .bind(to_i64(from))
                .bind(to_i64(to))
                .fetch_all(pool)
                .await?
        }
        Database::Sqlite { readers, .. } => {
            let sql = sqlite_sql(sql);
            let query = sqlx::query_as(&sql);
            let query = match text {
                Some(text) => query.bind(text),
                None => query,
            };
            query
                .bind(to_i64(from))
                .bind(to_i64(to))
                .fetch_all(readers)
                .await?
        }
    };
    rows.into_iter().map(leaf_from).collect()
}

/// The leaves with ledger indexes in `[from, to)`, in index order.
pub async fn leaves(db: &Database, from: u64, to: u64) -> Result<Vec<Leaf>, ProjectionError> {
    let sql = format!(
        "{LEAF_COLUMNS} WHERE ledger_index >= $1 AND ledger_index < $2 ORDER BY ledger_index"
    );
    leaf_query(db, &sql, None, from, to).await
}

/// The leaves of `province`'s sub-log with province indexes in `[from, to)`, in that order.
pub async fn province_leaves(
    db: &Database,
    province: &str,
    from: u64,
    to: u64,
) -> Result<Vec<Leaf>, ProjectionError> {
    let sql = format!(
        "{LEAF_COLUMNS} WHERE province = $1 AND province_index >= $2 AND province_index < $3
          ORDER BY province_index"
    );
    leaf_query(db, &sql, Some(province), from, to).await
}

/// The ledger index of each of `positions` that has one.
pub async fn ledger_indexes(
    db: &Database,
    positions: &[u64],
) -> Result<HashMap<u64, u64>, ProjectionError> {
    let positions: Vec<i64> = positions.iter().copied().map(to_i64).collect();
    let rows: Vec<(i64, i64)> = match db {
        Database::Postgres(pool) => {
            sqlx::query_as(
                "SELECT position, ledger_index FROM ledger_leaves WHERE position = ANY($1)",
            )
            .bind(&positions)
            .fetch_all(pool)
            .await?
        }
        Database::Sqlite { readers, .. } => {
            let mut rows = Vec::with_capacity(positions.len());
            for position in positions {
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT ledger_index FROM ledger_leaves WHERE position = ?1",
                )
                .bind(position)
                .fetch_optional(readers)
                .await?;
                rows.extend(found.map(|index| (position, index)));
            }
            rows
        }
    };
    Ok(rows
        .into_iter()
        .map(|(position, index)| (to_u64(position), to_u64(index)))
        .collect())
}

/// The number of leaves (the tree's size).
pub async fn size(db: &Database) -> Result<u64, ProjectionError> {
    const SQL: &str = "SELECT COALESCE(MAX(ledger_index) + 1, 0) FROM ledger_leaves";
    let size: i64 = match db {
        Database::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await?,
        Database::Sqlite { readers, .. } => sqlx::query_scalar(SQL).fetch_one(readers).await?,
    };
    Ok(u64::try_from(size).unwrap_or(0))
}

/// The right edges of the global tree and of every province's sub-log, grown together: memory
/// O(log n) per sub-log, whatever the ledger's size.
#[derive(Clone, Debug, Default)]
pub struct Heads {
    global: Frontier,
    provinces: BTreeMap<String, Frontier>,
}

impl Heads {
    /// Pushes one leaf (the next in ledger order).
    pub fn push(&mut self, leaf: &Leaf) {
        self.global.push(leaf.hash);
        self.provinces
            .entry(leaf.province.clone())
            .or_default()
            .push(leaf.hash);
    }

    /// The number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.global.size()
    }

    /// The global tree head.
    pub fn root(&self) -> Hash {
        self.global.root()
    }

    /// Every sub-log's size and head.
    pub fn sublogs(&self) -> SubLogs {
        let mut logs = SubLogs::default();
        for (province, frontier) in &self.provinces {
            logs.insert(province, frontier.size(), frontier.root());
        }
        logs
    }

    /// Pushes the stored leaves from `self.size()` up to `size`, read page by page.
    pub async fn extend(&mut self, db: &Database, size: u64) -> Result<(), ProjectionError> {
        const PAGE: u64 = 50_000;
        while self.size() < size {
            let from = self.size();
            let page = leaves(db, from, size.min(from + PAGE)).await?;
            if page.is_empty() {
                return Err(ProjectionError::Storage(format!(
                    "the ledger holds {from} leaves, not {size}"
                )));
            }
            for leaf in &page {
                self.push(leaf);
            }
        }
        Ok(())
    }
}

/// The tree head over the first `size` leaves.
pub async fn head(db: &Database, size: u64) -> Result<Hash, ProjectionError> {
    let mut heads = Heads::default();
    heads.extend(db, size).await?;
    Ok(heads.root())
}

/// A signed checkpoint as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it commits to.
    pub size: u64,
    /// The tree head at that size.
    pub root: Hash,
    /// The signed note, as published.
    pub note: String,
    /// When it was signed (RFC 3339).
    pub signed_at: String,
    /// The sub-log table its extension line commits to (empty for checkpoints cut before
    /// sub-logs existed).
    pub sublogs: String,
}

/// Records a signed checkpoint; `false` when one of that size exists already (another server
/// cut it first: the first stays).
pub async fn record_checkpoint(
    db: &Database,
    checkpoint: &StoredCheckpoint,
) -> Result<bool, ProjectionError> {
    const SQL: &str =
        "INSERT INTO ledger_checkpoints (tree_size, root_hash, note, signed_at, sublogs)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tree_size) DO NOTHING";
    let size = to_i64(checkpoint.size);
    let root = simpul_ledger::to_hex(&checkpoint.root);
    macro_rules! bound {
        ($query:expr) => {
            $query
                .bind(size)
                .bind(&root)
                .bind(&checkpoint.note)
                .bind(&checkpoint.signed_at)
                .bind(&checkpoint.sublogs)
        };
    }
    let done = match db {
        Database::Postgres(pool) => bound!(sqlx::query(SQL))
            .execute(pool)
            .await?
            .rows_affected(),
        Database::Sqlite { writer, .. } => {
            let sql = sqlite_sql(SQL);
            bound!(sqlx::query(&sql))
                .execute(writer)
                .await?
                .rows_affected()
        }
    };
    Ok(done == 1)
}

type CheckpointRow = (i64, String, String, String, String);

const CHECKPOINT_COLUMNS: &str =
    "SELECT tree_size, root_hash, note, signed_at, sublogs FROM ledger_checkpoints";

fn checkpoint_from(
    (size, root, note, signed_at, sublogs): CheckpointRow,
) -> Result<StoredCheckpoint, ProjectionError> {
    Ok(StoredCheckpoint {
        size: to_u64(size),
        root: from_hex(&root).ok_or_else(|| {
            ProjectionError::Storage(format!("checkpoint {size}: its head is not 64 hex digits"))
        })?,
        note,
        signed_at,
        sublogs,
    })
}

/// The signed checkpoints with sizes in `[from, to]`, smallest first, at most `limit`.
pub async fn checkpoints(
    db: &Database,
    from: u64,
    to: u64,
    limit: u32,
) -> Result<Vec<StoredCheckpoint>, ProjectionError> {
    let sql = format!(
        "{CHECKPOINT_COLUMNS} WHERE tree_size >= $1 AND tree_size <= $2
          ORDER BY tree_size LIMIT $3"
    );
    let rows: Vec<CheckpointRow> = match db {
        Database::Postgres(pool) => {
            sqlx::query_as(&sql)
                .bind(to_i64(from))
                .bind(to_i64(to))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        }
        Database::Sqlite { readers, .. } => {
            sqlx::query_as(&sqlite_sql(&sql))
                .bind(to_i64(from))
                .bind(to_i64(to))
                .bind(i64::from(limit))
                .fetch_all(readers)
                .await?
        }
    };
    rows.into_iter().map(checkpoint_from).collect()
}

/// The latest signed checkpoint.
pub async fn latest_checkpoint(db: &Database) -> Result<Option<StoredCheckpoint>, ProjectionError> {
    let sql = format!("{CHECKPOINT_COLUMNS} ORDER BY tree_size DESC LIMIT 1");
    let row: Option<CheckpointRow> = match db {
        Database::Postgres(pool) => sqlx::query_as(&sql).fetch_optional(pool).await?,
        Database::Sqlite { readers, .. } => sqlx::query_as(&sql).fetch_optional(readers).await?,
    };
    row.map(checkpoint_from).transpose()
}

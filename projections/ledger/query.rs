//! Reading the ledger: its size, its leaves, its tree head, and each event's ledger index.

use simpul_ledger::{from_hex, Frontier, Hash};
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
}

/// The leaves with indexes in `[from, to)`, in index order.
pub async fn leaves(db: &Database, from: u64, to: u64) -> Result<Vec<Leaf>, ProjectionError> {
    const SQL: &str = "SELECT ledger_index, position, leaf_hash FROM ledger_leaves
        WHERE ledger_index >= $1 AND ledger_index < $2 ORDER BY ledger_index";
    let (from, to) = (
        i64::try_from(from).unwrap_or(i64::MAX),
        i64::try_from(to).unwrap_or(i64::MAX),
    );
    let rows: Vec<(i64, i64, String)> = match db {
        Database::Postgres(pool) => {
            sqlx::query_as(SQL)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        }
        Database::Sqlite { readers, .. } => {
            sqlx::query_as(&sqlite_sql(SQL))
                .bind(from)
                .bind(to)
                .fetch_all(readers)
                .await?
        }
    };
    rows.into_iter()
        .map(|(index, position, hash)| {
            Ok(Leaf {
                index: u64::try_from(index).unwrap_or(0),
                position: u64::try_from(position).unwrap_or(0),
                hash: from_hex(&hash).ok_or_else(|| {
                    ProjectionError::Storage(format!("leaf {index} is not 64 hex digits"))
                })?,
            })
        })
        .collect()
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

/// Pushes the leaves from `frontier.size()` up to `size` into `frontier`, read page by page
/// (memory O(log n), whatever the ledger's size).
pub async fn extend_frontier(
    db: &Database,
    frontier: &mut Frontier,
    size: u64,
) -> Result<(), ProjectionError> {
    const PAGE: u64 = 50_000;
    while frontier.size() < size {
        let from = frontier.size();
        let page = leaves(db, from, size.min(from + PAGE)).await?;
        if page.is_empty() {
            return Err(ProjectionError::Storage(format!(
                "the ledger holds {from} leaves, not {size}"
            )));
        }
        for leaf in page {
            frontier.push(leaf.hash);
        }
    }
    Ok(())
}

/// The tree head over the first `size` leaves.
pub async fn head(db: &Database, size: u64) -> Result<Hash, ProjectionError> {
    let mut frontier = Frontier::default();
    extend_frontier(db, &mut frontier, size).await?;
    Ok(frontier.root())
}

/// Records a signed checkpoint of the first `size` leaves; `false` when one of that size exists
/// already (another server cut it first: the first stays).
pub async fn record_checkpoint(
    db: &Database,
    size: u64,
    root: &Hash,
    note: &str,
    signed_at: &str,
) -> Result<bool, ProjectionError> {
    const SQL: &str = "INSERT INTO ledger_checkpoints (tree_size, root_hash, note, signed_at)
        VALUES ($1, $2, $3, $4) ON CONFLICT (tree_size) DO NOTHING";
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let root = simpul_ledger::to_hex(root);
    let done = match db {
        Database::Postgres(pool) => sqlx::query(SQL)
            .bind(size)
            .bind(&root)
            .bind(note)
            .bind(signed_at)
            .execute(pool)
            .await?
            .rows_affected(),
        Database::Sqlite { writer, .. } => sqlx::query(&sqlite_sql(SQL))
            .bind(size)
            .bind(&root)
            .bind(note)
            .bind(signed_at)
            .execute(writer)
            .await?
            .rows_affected(),
    };
    Ok(done == 1)
}

/// The latest signed checkpoint: its size and its note.
pub async fn latest_checkpoint(db: &Database) -> Result<Option<(u64, String)>, ProjectionError> {
    const SQL: &str =
        "SELECT tree_size, note FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1";
    let row: Option<(i64, String)> = match db {
        Database::Postgres(pool) => sqlx::query_as(SQL).fetch_optional(pool).await?,
        Database::Sqlite { readers, .. } => sqlx::query_as(SQL).fetch_optional(readers).await?,
    };
    Ok(row.map(|(size, note)| (u64::try_from(size).unwrap_or(0), note)))
}

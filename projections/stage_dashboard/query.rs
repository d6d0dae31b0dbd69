//! Reading `stage_dashboard`: the counts of some regions, as stored (a lookup, no aggregation
//! over communities).

use serde::Serialize;
use simpul_store::Database;

use crate::runtime::ProjectionError;

/// One stored count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The region.
    pub region_code: String,
    /// `kim1` … `kim4`.
    pub stage: String,
    /// `active`, `suspended`, `dissolved`.
    pub status: String,
    /// SK and nomor induk.
    pub legal: bool,
    /// How many KIM.
    pub count: i64,
}

impl Cell {
    /// A cell from a row with the columns `region_code`, `stage`, `status`, `legal`, `count`.
    pub(crate) fn read<R: sqlx::Row>(row: &R) -> Result<Self, ProjectionError>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Cell {
            region_code: row.try_get("region_code")?,
            stage: row.try_get("stage")?,
            status: row.try_get("status")?,
            legal: row.try_get("legal")?,
            count: row.try_get("count")?,
        })
    }
}

/// The cells of every region in `codes`.
pub async fn cells(db: &Database, codes: &[String]) -> Result<Vec<Cell>, ProjectionError> {
    let mut result = Vec::new();
    match db {
        Database::Postgres(pool) => {
            let rows = sqlx::query(
                "SELECT region_code, stage, status, legal, count FROM stage_dashboard
                  WHERE region_code = ANY($1) ORDER BY region_code, stage, status, legal",
            )
            .bind(codes)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                result.push(Cell::read(row)?);
            }
        }
        Database::Sqlite { readers, .. } => {
            // One lookup per region: SQLite has no array parameters, and each is a key range.
            for code in codes {
                let rows = sqlx::query(
                    "SELECT region_code, stage, status, legal, count FROM stage_dashboard
                      WHERE region_code = ?1 ORDER BY stage, status, legal",
                )
                .bind(code)
                .fetch_all(readers)
                .await?;
                for row in &rows {
                    result.push(Cell::read(row)?);
                }
            }
        }
    }
    Ok(result)
}

//! Month by month: KIM formed (`community_summary.formed_on`) and stage changes
//! (`stage_transitions.at`) in a region, by the events' own dates — what Beranda's small chart
//! shows for the last twelve months.

use std::collections::BTreeMap;

use serde::Serialize;
use simpul_store::Database;
use sqlx::Row as _;

use crate::runtime::{sqlite_sql, ProjectionError};

/// One month's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// KIM formed that month.
    pub formed: i64,
    /// Stage changes (advanced or lowered) assessed that month.
    pub stage_changes: i64,
}

/// Counts of `date_column` per month in `table`, from `from` (`YYYY-MM-DD`), in `region` (a
/// code prefix; empty: everywhere).
async fn per_month(
    db: &Database,
    table: &str,
    date_column: &str,
    region: &str,
    from: &str,
) -> Result<Vec<(String, i64)>, ProjectionError> {
    let sql = format!(
        "SELECT substr(CAST({date_column} AS text), 1, 7) AS month, count(*) AS n
           FROM {table}
          WHERE {date_column} >= CAST($1 AS date)
            AND ($2 = '' OR desa_code = $2 OR desa_code LIKE $2 || '.%')
          GROUP BY 1"
    );
    let mut counts = Vec::new();
    macro_rules! read {
        ($rows:expr) => {
            for row in $rows {
                counts.push((row.try_get("month")?, row.try_get("n")?));
            }
        };
    }
    match db {
        Database::Postgres(pool) => read!(
            sqlx::query(&sql)
                .bind(from)
                .bind(region)
                .fetch_all(pool)
                .await?
        ),
        Database::Sqlite { readers, .. } => read!(
            sqlx::query(&sqlite_sql(&sql))
                .bind(from)
                .bind(region)
                .fetch_all(readers)
                .await?
        ),
    }
    Ok(counts)
}

/// Every month of `months` (`YYYY-MM`, in order) with its counts in `region` (zero months kept).
pub async fn monthly(
    db: &Database,
    region: &str,
    months: &[String],
) -> Result<Vec<Month>, ProjectionError> {
    let Some(first) = months.first() else {
        return Ok(Vec::new());
    };
    let from = format!("{first}-01");
    let mut by_month: BTreeMap<&str, Month> = months
        .iter()
        .map(|month| {
            let counts = Month {
                month: month.clone(),
                ..Month::default()
            };
            (month.as_str(), counts)
        })
        .collect();
    for (month, n) in per_month(db, "community_summary", "formed_on", region, &from).await? {
        if let Some(counts) = by_month.get_mut(month.as_str()) {
            counts.formed = n;
        }
    }
    for (month, n) in per_month(db, "stage_transitions", "at", region, &from).await? {
        if let Some(counts) = by_month.get_mut(month.as_str()) {
            counts.stage_changes = n;
        }
    }
    Ok(by_month.into_values().collect())
}

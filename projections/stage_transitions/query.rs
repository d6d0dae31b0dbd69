//! Stage-progression analytics from `stage_transitions`: counts by (from, to) and the quartiles of
//! days spent in the previous stage, split by whether the KIM had attended a bimtek before.

use std::collections::BTreeMap;

use serde::Serialize;
use simpul_store::Database;
use sqlx::Row as _;

use crate::runtime::sqlite_sql;
use crate::runtime::ProjectionError;

/// Days in the previous stage, summarised.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Days {
    /// How many transitions.
    pub count: usize,
    /// 25th percentile.
    pub q1: Option<f64>,
    /// Median.
    pub median: Option<f64>,
    /// 75th percentile.
    pub q3: Option<f64>,
}

/// One (from, to) pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransitionStats {
    /// Stage before.
    #[cfg_attr(feature = "openapi", schema(value_type = simpul_domain::Stage))]
    pub from: String,
    /// Stage after.
    #[cfg_attr(feature = "openapi", schema(value_type = simpul_domain::Stage))]
    pub to: String,
    /// Days in the previous stage, all transitions.
    pub days: Days,
    /// Only those with at least one bimtek before the change.
    pub with_bimtek: Days,
    /// Only those without.
    pub without_bimtek: Days,
}

/// Transitions in `region` (prefix; empty: all) with `at` in [from, to).
pub async fn stats(
    db: &Database,
    region: &str,
    from: &str,
    to: &str,
) -> Result<Vec<TransitionStats>, ProjectionError> {
    const SQL: &str = "SELECT from_stage, to_stage, days_in_previous, bimtek_before
        FROM stage_transitions
       WHERE ($1 = '' OR desa_code = $1 OR desa_code LIKE $1 || '.%')
         AND ($2 = '' OR CAST(at AS text) >= $2)
         AND ($3 = '' OR CAST(at AS text) < $3)";
    let mut rows: Vec<(String, String, i64, i64)> = Vec::new();
    match db {
        Database::Postgres(pool) => {
            for row in sqlx::query(SQL)
                .bind(region)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
            {
                rows.push((
                    row.try_get("from_stage")?,
                    row.try_get("to_stage")?,
                    row.try_get("days_in_previous")?,
                    row.try_get("bimtek_before")?,
                ));
            }
        }
        Database::Sqlite { readers, .. } => {
            for row in sqlx::query(&sqlite_sql(SQL))
                .bind(region)
                .bind(from)
                .bind(to)
                .fetch_all(readers)
                .await?
            {
                rows.push((
                    row.try_get("from_stage")?,
                    row.try_get("to_stage")?,
                    row.try_get("days_in_previous")?,
                    row.try_get("bimtek_before")?,
                ));
            }
        }
    }
    let mut groups: BTreeMap<(String, String), Vec<(i64, bool)>> = BTreeMap::new();
    for (from, to, days, bimtek) in rows {
        groups
            .entry((from, to))
            .or_default()
            .push((days, bimtek > 0));
    }
    Ok(groups
        .into_iter()
        .map(|((from, to), values)| {
            let all: Vec<i64> = values.iter().map(|(d, _)| *d).collect();
            let with: Vec<i64> = values.iter().filter(|(_, b)| *b).map(|(d, _)| *d).collect();
            let without: Vec<i64> = values
                .iter()
                .filter(|(_, b)| !*b)
                .map(|(d, _)| *d)
                .collect();
            TransitionStats {
                from,
                to,
                days: summarise(all),
                with_bimtek: summarise(with),
                without_bimtek: summarise(without),
            }
        })
        .collect())
}

/// Quartiles by linear interpolation between closest ranks.
fn summarise(mut values: Vec<i64>) -> Days {
    values.sort_unstable();
    let quantile = |q: f64| -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let rank = q * (values.len() - 1) as f64;
        let low = rank.floor() as usize;
        let high = rank.ceil() as usize;
        let (a, b) = (values[low] as f64, values[high] as f64);
        Some(a + (b - a) * (rank - low as f64))
    };
    Days {
        count: values.len(),
        q1: quantile(0.25),
        median: quantile(0.5),
        q3: quantile(0.75),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_interpolate_between_ranks() {
        let days = summarise(vec![40, 10, 30, 20]);
        assert_eq!(days.count, 4);
        assert_eq!(days.median, Some(25.0));
        assert_eq!(days.q1, Some(17.5));
        assert_eq!(days.q3, Some(32.5));
        assert_eq!(summarise(vec![]).median, None);
        assert_eq!(summarise(vec![7]).q3, Some(7.0));
    }
}

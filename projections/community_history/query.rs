//! Reading `community_history`: the KIM and their counts as they stood at a time, and the
//! changes of stage, status or legal standing between two times.

use serde::Serialize;
use simpul_store::Database;
use sqlx::Row as _;

use crate::runtime::{sqlite_sql, ProjectionError};
use crate::stage_dashboard::query::Cell;

/// The column of a region code's level (a desa matches by prefix of nothing: it is exact).
fn column_of(code: &str) -> &'static str {
    match code.split('.').count() {
        1 => "province_code",
        2 => "regency_code",
        3 => "district_code",
        _ => "desa_code",
    }
}

/// The column one level below a region code's (the whole country: provinces).
fn child_column_of(code: Option<&str>) -> &'static str {
    match code.map(|code| code.split('.').count()) {
        None => "province_code",
        Some(1) => "regency_code",
        Some(2) => "district_code",
        Some(_) => "desa_code",
    }
}

/// The rows valid at `at` (RFC 3339, UTC, microseconds).
const VALID: &str = "valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)";

/// Dashboard cells as they stood at `at`, counted from the states valid then: one set per
/// child region of `region` (the whole country: per province) — the region's own totals are
/// their sum — or, for a kecamatan, which has no child rows on the dashboard, its own.
pub async fn cells_at(
    db: &Database,
    region: Option<&str>,
    at: &str,
) -> Result<Vec<Cell>, ProjectionError> {
    let (group, filter) = match region {
        None => (child_column_of(None), "$2 = ''".to_owned()),
        Some(code) if code.split('.').count() >= 3 => {
            (column_of(code), format!("{} = $2", column_of(code)))
        }
        Some(code) => (
            child_column_of(Some(code)),
            format!("{} = $2", column_of(code)),
        ),
    };
    let sql = format!(
        "SELECT {group} AS region_code, stage, status, legal, count(*) AS count
           FROM community_states WHERE {VALID} AND {filter}
          GROUP BY 1, 2, 3, 4"
    );
    let mut cells = Vec::new();
    macro_rules! read {
        ($rows:expr) => {
            for row in &$rows {
                cells.push(Cell::read(row)?);
            }
        };
    }
    let code = region.unwrap_or_default();
    match db {
        Database::Postgres(pool) => {
            read!(
                sqlx::query(&sql)
                    .bind(at)
                    .bind(code)
                    .fetch_all(pool)
                    .await?
            )
        }
        Database::Sqlite { readers, .. } => read!(
            sqlx::query(&sqlite_sql(&sql))
                .bind(at)
                .bind(code)
                .fetch_all(readers)
                .await?
        ),
    }
    Ok(cells)
}

/// A KIM as it stood at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateAt {
    /// The community.
    pub community_id: String,
    /// Its name then.
    pub name: String,
    /// Its desa/kelurahan.
    pub desa_code: String,
    /// Stage then.
    pub stage: String,
    /// Status then.
    pub status: String,
    /// SK and nomor induk then.
    pub legal: bool,
    /// Its SK then.
    pub sk_number: Option<String>,
    /// Its nomor induk then.
    pub nomor_induk: Option<String>,
    /// Members then.
    pub member_count: i32,
    /// Since when this state held (recorded_at of the event that began it).
    pub since: String,
    /// The sequence of that event.
    pub sequence: i64,
}

/// Which KIM a list "as of" holds; `None` is any.
#[derive(Clone, Debug, Default)]
pub struct AtFilter {
    /// A region code at any level.
    pub region: Option<String>,
    /// One KIM only.
    pub community: Option<String>,
    /// Stage then (`kim1` …).
    pub stage: Option<String>,
    /// Status then.
    pub status: Option<String>,
    /// Legal then.
    pub legal: Option<bool>,
    /// The last id of the previous page.
    pub after: String,
    /// Page size.
    pub limit: u32,
}

/// The KIM matching `filter` as they stood at `at`, by id.
pub async fn list_at(
    db: &Database,
    filter: &AtFilter,
    at: &str,
) -> Result<Vec<StateAt>, ProjectionError> {
    let region = match &filter.region {
        Some(code) => format!("{} = $2", column_of(code)),
        None => "$2 = ''".to_owned(),
    };
    let sql = format!(
        "SELECT community_id, name, desa_code, stage, status, legal, sk_number, nomor_induk,
                member_count, valid_from, sequence
           FROM community_states
          WHERE {VALID} AND {region} AND community_id > $3
            AND ($5 = '' OR community_id = $5) AND ($6 = '' OR stage = $6)
            AND ($7 = '' OR status = $7) AND ($8 = '' OR legal = ($8 = 'true'))
          ORDER BY community_id LIMIT $4"
    );
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let legal = filter
        .legal
        .map(|legal| legal.to_string())
        .unwrap_or_default();
    let mut found = Vec::new();
    macro_rules! read {
        ($rows:expr) => {
            for row in $rows {
                found.push(StateAt {
                    community_id: row.try_get("community_id")?,
                    name: row.try_get("name")?,
                    desa_code: row.try_get("desa_code")?,
                    stage: row.try_get("stage")?,
                    status: row.try_get("status")?,
                    legal: row.try_get("legal")?,
                    sk_number: row.try_get("sk_number")?,
                    nomor_induk: row.try_get("nomor_induk")?,
                    member_count: row.try_get("member_count")?,
                    since: row.try_get("valid_from")?,
                    sequence: row.try_get("sequence")?,
                });
            }
        };
    }
    macro_rules! bound {
        ($query:expr) => {
            $query
                .bind(at)
                .bind(text(&filter.region))
                .bind(&filter.after)
                .bind(i64::from(filter.limit))
                .bind(text(&filter.community))
                .bind(text(&filter.stage))
                .bind(text(&filter.status))
                .bind(&legal)
        };
    }
    match db {
        Database::Postgres(pool) => read!(bound!(sqlx::query(&sql)).fetch_all(pool).await?),
        Database::Sqlite { readers, .. } => {
            let sql = sqlite_sql(&sql);
            read!(bound!(sqlx::query(&sql)).fetch_all(readers).await?)
        }
    }
    Ok(found)
}

/// A change of stage, status or legal standing, and the event that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// The community.
    pub community_id: String,
    /// Its name then.
    pub name: String,
    /// Its desa/kelurahan.
    pub desa_code: String,
    /// The event's sequence.
    pub sequence: i64,
    /// Its global position.
    pub position: i64,
    /// Its ledger index, once the ledger has reached it.
    pub ledger_index: Option<i64>,
    /// Its type.
    pub event_type: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// What changed (`stage`, `status`, `legal`, and any of `sk`, `nomor_induk`, `name`,
    /// `member_count` with them), comma-separated; `formed` for a formation.
    pub changed: String,
    /// Stage after it.
    pub stage: String,
    /// Status after it.
    pub status: String,
    /// Legal standing after it.
    pub legal: bool,
}

/// The changes of stage, status or legal standing (formations included) recorded in
/// `[from, to)` in `region`, by community then sequence, after `(after_id, after_sequence)`.
pub async fn changes(
    db: &Database,
    region: Option<&str>,
    from: &str,
    to: &str,
    after: (&str, i64),
    limit: u32,
) -> Result<Vec<Change>, ProjectionError> {
    let filter = match region {
        Some(code) => format!("{} = $3", column_of(code)),
        None => "$3 = ''".to_owned(),
    };
    let sql = format!(
        "SELECT community_id, name, desa_code, sequence, position, event_type, valid_from,
                changed, stage, status, legal,
                (SELECT ledger_index FROM ledger_leaves
                  WHERE ledger_leaves.position = community_states.position) AS ledger_index
           FROM community_states
          WHERE valid_from >= $1 AND valid_from < $2 AND {filter}
            AND (changed LIKE '%stage%' OR changed LIKE '%status%' OR changed LIKE '%legal%'
                 OR changed = 'formed')
            AND (community_id > $4 OR (community_id = $4 AND sequence > $5))
          ORDER BY community_id, sequence LIMIT $6"
    );
    let code = region.unwrap_or_default();
    let mut found = Vec::new();
    macro_rules! read {
        ($rows:expr) => {
            for row in $rows {
                found.push(Change {
                    community_id: row.try_get("community_id")?,
                    name: row.try_get("name")?,
                    desa_code: row.try_get("desa_code")?,
                    sequence: row.try_get("sequence")?,
                    position: row.try_get("position")?,
                    ledger_index: row.try_get("ledger_index")?,
                    event_type: row.try_get("event_type")?,
                    recorded_at: row.try_get("valid_from")?,
                    changed: row.try_get("changed")?,
                    stage: row.try_get("stage")?,
                    status: row.try_get("status")?,
                    legal: row.try_get("legal")?,
                });
            }
        };
    }
    macro_rules! bound {
        ($query:expr) => {
            $query
                .bind(from)
                .bind(to)
                .bind(code)
                .bind(after.0)
                .bind(after.1)
                .bind(i64::from(limit))
        };
    }
    match db {
        Database::Postgres(pool) => read!(bound!(sqlx::query(&sql)).fetch_all(pool).await?),
        Database::Sqlite { readers, .. } => {
            let sql = sqlite_sql(&sql);
            read!(bound!(sqlx::query(&sql)).fetch_all(readers).await?)
        }
    }
    Ok(found)
}

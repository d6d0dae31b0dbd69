//! SQL helpers shared by the runtime and the queries: keyset pages ([`Page`]), PostgreSQL's
//! dialect turned into SQLite's (`simpul_store::sqlite_sql`, the one dialect strategy), and the
//! `search_path` that points a transaction at a shadow schema.

use super::ProjectionError;

pub(super) async fn set_search_path(
    tx: &mut sqlx::PgConnection,
    schema: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(&format!("SET LOCAL search_path TO {schema}, public"))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A keyset page's SQL, built from only the filters given (so each can use its index): every `?`
/// of a condition becomes that condition's `$n`; then `key > $n+1 ORDER BY key LIMIT $n+2`.
pub(crate) struct Page<V> {
    conditions: Vec<String>,
    /// The values of the conditions, in placeholder order.
    pub(crate) values: Vec<V>,
}

impl<V> Page<V> {
    pub(crate) fn new() -> Self {
        Self {
            conditions: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Adds `condition` (its `?` standing for `value`).
    pub(crate) fn filter(&mut self, condition: &str, value: V) {
        self.values.push(value);
        self.conditions
            .push(condition.replace('?', &format!("${}", self.values.len())));
    }

    /// Adds `condition`, which takes no value.
    pub(crate) fn filter_sql(&mut self, condition: &str) {
        self.conditions.push(condition.to_owned());
    }

    /// `select` (a `SELECT … FROM …` without `WHERE`) with the conditions and the keyset.
    pub(crate) fn sql(&self, select: &str, key: &str) -> String {
        let n = self.values.len();
        let mut conditions = self.conditions.clone();
        conditions.push(format!("{key} > ${}", n + 1));
        format!(
            "{} WHERE {} ORDER BY {key} LIMIT ${}",
            select.trim_end(),
            conditions.join(" AND "),
            n + 2
        )
    }
}

pub(crate) use simpul_store::sqlite_sql;

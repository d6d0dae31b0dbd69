//! The one strategy for the two SQL dialects, in the store and the read models alike: a statement
//! both databases run the same way is written once, in PostgreSQL's dialect, and turned into
//! SQLite's by [`sqlite_sql`]; only a statement that really differs (PostgreSQL's `UNNEST`
//! arrays, `COPY`, the feed's commit order, `FOR UPDATE`; SQLite's one row at a time) is written per
//! dialect — in `src/sql/{postgres,sqlite}/` here, and in each read model's
//! `Storage<PgConnection>` / `Storage<SqliteConnection>` impls in `simpul-projections`.

/// PostgreSQL's `$n` placeholders and date casts in SQLite's dialect (dates are ISO text there).
pub fn sqlite_sql(postgres: &str) -> String {
    let mut sql = postgres.to_owned();
    for n in (1..=40).rev() {
        sql = sql
            .replace(&format!("CAST(${n} AS date)"), &format!("?{n}"))
            .replace(&format!("${n}"), &format!("?{n}"));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_become_sqlite_ones() {
        assert_eq!(
            sqlite_sql("VALUES ($1, CAST($12 AS date), $2)"),
            "VALUES (?1, ?12, ?2)"
        );
        // `$1` inside `$12` is not touched first.
        assert_eq!(sqlite_sql("$12 $1"), "?12 ?1");
    }
}

//! Progression analytics (issue 15) from the `stage_transitions` read model: time from entering
//! one stage to first reaching a higher one (for Kaplan–Meier curves), cohort funnels, each KIM's
//! stage spells and bimtek, and month-end trends — all by the events' own dates (`formed_on`,
//! `assessed_on`, `held_on`, `dissolved_on`), never recording time, and nothing dated after the
//! `as_of` a caller gives.
//!
//! Every figure is aggregated in SQL over the per-KIM rows the projection keeps
//! (`stage_transition_members`: regions, formation, first dates at KIM 2/3/4, dissolution, the
//! KIM's stage changes and bimtek dates; the transitions), never by reading the log. A region is a code
//! prefix (empty: the whole country) matched on the column of its own level, so its index serves.
//! No id or name of a KIM leaves this module.
//!
//! "First reached KIM n" is the earliest `assessed_on` of an advance to KIM n or above (the
//! formation date for a KIM formed there or above): a KIM lowered and advanced again keeps its
//! first date, and the first dates never decrease from KIM 2 to KIM 4.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;
use simpul_domain::Stage;
use simpul_store::Database;
use sqlx::Row as _;

use super::{history, stage_of};
use crate::runtime::{sqlite_sql, ProjectionError};

/// Runs `sql` (PostgreSQL's dialect) with `binds` on either backend, reading each row with
/// `read` (a block that may use `?`).
macro_rules! fetch {
    ($db:expr, $sql:expr, $binds:expr, |$row:ident| $read:block) => {
        match $db {
            Database::Postgres(pool) => {
                for $row in bind_all(sqlx::query($sql), $binds).fetch_all(pool).await? {
                    $read
                }
            }
            Database::Sqlite { readers, .. } => {
                let sql = sqlite_sql($sql);
                for $row in bind_all(sqlx::query(&sql), $binds)
                    .fetch_all(readers)
                    .await?
                {
                    $read
                }
            }
        }
    };
}

/// How time-to-stage spells are grouped by formation date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cohort {
    /// One group: every KIM.
    None,
    /// By the year of formation (`2023`).
    Year,
    /// By the quarter of formation (`2023-Q2`).
    Quarter,
}

/// KIM of one cohort whose spell from the entry stage lasted `days` and ended as `reached` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpellGroup {
    /// The formation cohort (`None` when not grouped).
    pub cohort: Option<String>,
    /// Days from entering the stage to reaching the target, or to the censoring date.
    pub days: i64,
    /// Whether the target was reached (otherwise censored at `as_of` or at dissolution).
    pub reached: bool,
    /// How many KIM.
    pub count: i64,
}

/// One cohort year's funnel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelGroup {
    /// The year of formation.
    pub cohort: String,
    /// KIM formed that year, on or before `as_of`.
    pub formed: i64,
    /// Per target stage (KIM 2, 3, 4), per window (6, 12, 24 months).
    pub rows: Vec<FunnelRow>,
}

/// Of the cohort's KIM observed for a whole window, those that reached a stage within it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FunnelRow {
    /// The target stage.
    pub stage: Stage,
    /// The window, in months from formation.
    pub months: u32,
    /// KIM whose whole window lies on or before `as_of` (`formed_on` + window ≤ `as_of`).
    pub eligible: i64,
    /// Of those, the KIM that first reached `stage` within the window (one dissolved before
    /// reaching it did not).
    pub reached: i64,
}

/// One KIM's stage history and bimtek up to `as_of`, without its id or name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KimSpells {
    /// Its formation date.
    pub formed_on: NaiveDate,
    /// The stage it was formed at.
    pub formed_stage: Stage,
    /// Its dissolution date, if on or before `as_of`.
    pub dissolved_on: Option<NaiveDate>,
    /// Its stage changes dated on or before `as_of`, by date (then log order).
    pub changes: Vec<StageChange>,
    /// The dates of the bimtek it attended on or before `as_of`, in order.
    pub bimtek: Vec<NaiveDate>,
}

/// A stage change, by its assessment date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageChange {
    /// `assessed_on`.
    pub on: NaiveDate,
    /// The stage before.
    pub from: Stage,
    /// The stage after.
    pub to: Stage,
}

/// One month's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthRow {
    /// `YYYY-MM`.
    pub month: String,
    /// KIM at KIM 1 at the month's end (active or suspended; dissolved ones excluded).
    pub kim1: i64,
    /// KIM at KIM 2 at the month's end.
    pub kim2: i64,
    /// KIM at KIM 3 at the month's end.
    pub kim3: i64,
    /// KIM at KIM 4 at the month's end.
    pub kim4: i64,
    /// KIM formed in the month.
    pub formed: i64,
    /// Stage advances assessed in the month.
    pub advanced: i64,
    /// Stage lowerings assessed in the month.
    pub lowered: i64,
    /// KIM dissolved in the month.
    pub dissolved: i64,
}

/// The funnel's target stages and windows (months).
pub const FUNNEL_STAGES: [Stage; 3] = [Stage::Kim2, Stage::Kim3, Stage::Kim4];
/// The funnel's windows, in months from formation.
pub const FUNNEL_MONTHS: [u32; 3] = [6, 12, 24];

/// Time from first entering `from` (formation, for KIM 1) to first reaching `to`, per KIM in
/// `region`, grouped by (cohort, days, reached) and counted in SQL.
///
/// A KIM is left out when it was formed above `from` (it never entered it) or entered it after
/// `as_of`. A KIM that reached `to` on or before `as_of` ends its spell there; any other is
/// censored at its dissolution if that is on or before `as_of`, else at `as_of` (never before its
/// entry). `to` at or below `from` asks for no move up: nothing is returned.
pub async fn time_to_stage(
    db: &Database,
    region: &str,
    from: Stage,
    to: Stage,
    as_of: NaiveDate,
    cohort: Cohort,
) -> Result<Vec<SpellGroup>, ProjectionError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let d = Dialect::of(db);
    let entry = first_date_column(from);
    let exit = first_date_column(to);
    let formed_at_or_below: Vec<String> = Stage::ALL
        .into_iter()
        .filter(|stage| *stage <= from)
        .map(|stage| format!("'{}'", stage.as_str()))
        .collect();
    let as_of_date = "CAST($1 AS date)";
    let reached = format!("({exit} IS NOT NULL AND {exit} <= {as_of_date})");
    let censored = d.greatest(
        &format!(
            "CASE WHEN dissolved_on IS NOT NULL AND dissolved_on <= {as_of_date} \
             THEN dissolved_on ELSE {as_of_date} END"
        ),
        entry,
    );
    let mut binds = vec![Value::Date(as_of)];
    let region = region_condition("", region, &mut binds);
    let sql = format!(
        "SELECT {cohort} AS cohort,
                CASE WHEN {reached} THEN {reached_days} ELSE {censored_days} END AS days,
                CAST(CASE WHEN {reached} THEN 1 ELSE 0 END AS bigint) AS reached,
                count(*) AS count
           FROM stage_transition_members
          WHERE {entry} IS NOT NULL AND {entry} <= {as_of_date}
            AND formed_stage IN ({formed})
            {region}
          GROUP BY 1, 2, 3
          ORDER BY 1, 2, 3",
        cohort = cohort_label(cohort),
        reached_days = d.days(exit, entry),
        censored_days = d.days(&censored, entry),
        formed = formed_at_or_below.join(", "),
    );
    let mut groups = Vec::new();
    fetch!(db, &sql, &binds, |row| {
        let reached: i64 = row.try_get("reached")?;
        groups.push(SpellGroup {
            cohort: row.try_get("cohort")?,
            days: row.try_get("days")?,
            reached: reached != 0,
            count: row.try_get("count")?,
        });
    });
    Ok(groups)
}

/// Of the KIM in `region` formed in each year (on or before `as_of`), how many were observed for
/// a whole window of 6, 12 and 24 months and how many of those first reached KIM 2, 3 and 4
/// within it. A window of n months ends n calendar months after formation, on the same day of
/// the month or the month's last day if it is shorter (2023-08-31 + 6 months = 2024-02-29), as
/// PostgreSQL's and chrono's month arithmetic do; the read model keeps each KIM's months to each
/// stage (`kim2_months` …), so no date arithmetic runs per KIM here. A KIM formed at or above a
/// stage reached it at formation.
pub async fn funnel(
    db: &Database,
    region: &str,
    as_of: NaiveDate,
) -> Result<Vec<FunnelGroup>, ProjectionError> {
    let mut binds = vec![Value::Date(as_of)];
    let mut sums = Vec::new();
    for months in FUNNEL_MONTHS {
        // `formed_on` + window ≤ `as_of` holds exactly up to a last formation date.
        let eligible = match last_formation_observed(as_of, months) {
            Some(last) => {
                binds.push(Value::Date(last));
                format!("formed_on <= CAST(${} AS date)", binds.len())
            }
            None => "1 = 0".to_owned(),
        };
        sums.push(format!(
            "sum(CASE WHEN {eligible} THEN 1 ELSE 0 END) AS eligible_{months}"
        ));
        for stage in FUNNEL_STAGES {
            let stage = stage.as_str();
            sums.push(format!(
                "sum(CASE WHEN {eligible} AND {stage}_months <= {months} THEN 1 ELSE 0 END) \
                 AS {stage}_{months}"
            ));
        }
    }
    let region = region_condition("", region, &mut binds);
    let sql = format!(
        "SELECT {year} AS cohort, count(*) AS formed, {sums}
           FROM stage_transition_members
          WHERE formed_on <= CAST($1 AS date) {region}
          GROUP BY 1
          ORDER BY 1",
        year = cohort_label(Cohort::Year),
        sums = sums.join(",\n"),
    );
    let mut groups = Vec::new();
    fetch!(db, &sql, &binds, |row| {
        let mut rows = Vec::new();
        for stage in FUNNEL_STAGES {
            for months in FUNNEL_MONTHS {
                rows.push(FunnelRow {
                    stage,
                    months,
                    eligible: row.try_get(format!("eligible_{months}").as_str())?,
                    reached: row.try_get(format!("{}_{months}", stage.as_str()).as_str())?,
                });
            }
        }
        groups.push(FunnelGroup {
            cohort: row.try_get("cohort")?,
            formed: row.try_get("formed")?,
            rows,
        });
    });
    Ok(groups)
}

/// The last formation date whose `months`-month window ends on or before `as_of` (the window's
/// end never decreases with the formation date, so every earlier one's does too).
fn last_formation_observed(as_of: NaiveDate, months: u32) -> Option<NaiveDate> {
    let ends = |formed: NaiveDate| {
        formed
            .checked_add_months(Months::new(months))
            .is_some_and(|end| end <= as_of)
    };
    // `as_of` − window is observed; a few days after it may be too (a short month's last day).
    let mut last = as_of.checked_sub_months(Months::new(months))?;
    while let Some(next) = last.succ_opt().filter(|next| ends(*next)) {
        last = next;
    }
    ends(last).then_some(last)
}

/// Every KIM in `region` formed on or before `as_of`: its formation, dissolution, stage changes
/// and bimtek dated on or before `as_of` — the spells an analyst splits at bimtek dates. One
/// indexed scan of one row per KIM (its changes and bimtek are kept in its row, see
/// `history`). Ordered by formation date (KIM formed on the same day in no particular order); no
/// ids.
pub async fn spells(
    db: &Database,
    region: &str,
    as_of: NaiveDate,
) -> Result<Vec<KimSpells>, ProjectionError> {
    let mut binds = vec![Value::Date(as_of)];
    let region = region_condition("", region, &mut binds);
    let sql = format!(
        "SELECT formed_on, formed_stage, dissolved_on, stage_changes, bimtek_dates
           FROM stage_transition_members
          WHERE formed_on <= CAST($1 AS date) {region}"
    );
    let mut kim = Vec::new();
    fetch!(db, &sql, &binds, |row| {
        let dissolved_on: Option<NaiveDate> = row.try_get("dissolved_on")?;
        let mut changes = history::changes(row.try_get("stage_changes")?)?;
        changes.retain(|change| change.on <= as_of);
        // By date; a stable sort keeps the log's order between changes of the same day.
        changes.sort_by_key(|change| change.on);
        let mut bimtek = history::dates(row.try_get("bimtek_dates")?)?;
        bimtek.retain(|on| *on <= as_of);
        bimtek.sort_unstable();
        kim.push(KimSpells {
            formed_on: row.try_get("formed_on")?,
            formed_stage: stage("formed_stage", row.try_get("formed_stage")?)?,
            dissolved_on: dissolved_on.filter(|on| *on <= as_of),
            changes,
            bimtek,
        });
    });
    kim.sort_by_key(|spells| spells.formed_on);
    Ok(kim)
}

/// Every month from `from`'s to `to`'s (both included) in `region`: KIM per stage at the month's
/// end, KIM formed, stage advances and lowerings, and dissolutions in the month.
///
/// A KIM's stage at a month's end is the one after its last stage change dated on or before it
/// (the formation stage before any); a KIM counts from its formation month and leaves the counts
/// in its dissolution month. Computed as per-month deltas in SQL and a running sum here. A KIM
/// whose dates follow the log's order (`in_date_order`: nearly all) adds its formation stage,
/// moves from `from_stage` to `to_stage` at each change and takes away its current stage at its
/// dissolution — no ordering needed. For the others the deltas are corrected: their formation,
/// changes (up to the dissolution) and dissolution ordered by date, each adding its stage and
/// taking away the one before, minus what the simple deltas counted.
pub async fn monthly(
    db: &Database,
    region: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<MonthRow>, ProjectionError> {
    let first = month_start(from);
    let Some(end) = month_start(to).checked_add_months(Months::new(1)) else {
        return Ok(Vec::new());
    };
    if first >= end {
        return Ok(Vec::new());
    }
    let d = Dialect::of(db);
    let mut binds = vec![Value::Date(end)];
    let region = region_condition("", region, &mut binds);
    let of_region = if region.is_empty() {
        String::new()
    } else {
        format!(
            "AND community_id IN (SELECT community_id FROM stage_transition_members
                                   WHERE formed_on < CAST($1 AS date) {region})"
        )
    };
    // Counted per day first, then per month: the month of a few thousand days, not of every row.
    let sql = format!(
        "WITH odd AS (
             SELECT community_id, formed_on, formed_stage, stage, dissolved_on
               FROM stage_transition_members
              WHERE NOT in_date_order AND formed_on < CAST($1 AS date) {region}
         ),
         odd_changes AS (
             SELECT t.community_id, t.at, t.position, t.from_stage, t.to_stage, o.dissolved_on
               FROM stage_transitions t JOIN odd o ON o.community_id = t.community_id
              WHERE t.at < CAST($1 AS date)
         ),
         points AS (
             SELECT community_id, formed_on AS on_date, 0 AS step, 0 AS position,
                    formed_stage AS stage
               FROM odd
             UNION ALL
             SELECT community_id, at, 1, position, to_stage FROM odd_changes
              WHERE dissolved_on IS NULL OR at <= dissolved_on
             UNION ALL
             SELECT community_id, dissolved_on, 2, 0, NULL
               FROM odd WHERE dissolved_on < CAST($1 AS date)
         ),
         steps AS (
             SELECT on_date, step, stage,
                    LAG(stage) OVER (PARTITION BY community_id
                                     ORDER BY on_date, step, position) AS before
               FROM points
         ),
         days AS (
             SELECT formed_on AS on_date, 'f ' || formed_stage AS kind, count(*) AS n
               FROM stage_transition_members
              WHERE formed_on < CAST($1 AS date) {region}
              GROUP BY formed_on, formed_stage
             UNION ALL
             SELECT dissolved_on, 'd ' || stage, count(*)
               FROM stage_transition_members
              WHERE dissolved_on < CAST($1 AS date) {region}
              GROUP BY dissolved_on, stage
             UNION ALL
             SELECT at, 'c ' || from_stage || ' ' || to_stage, count(*)
               FROM stage_transitions
              WHERE at < CAST($1 AS date) {of_region}
              GROUP BY at, from_stage, to_stage
             UNION ALL
             SELECT on_date, 's ' || stage, 1 FROM steps WHERE step > 0 AND stage IS NOT NULL
             UNION ALL
             SELECT on_date, 's ' || before, -1 FROM steps WHERE before IS NOT NULL
             UNION ALL
             SELECT at, 's ' || to_stage, -1 FROM odd_changes
             UNION ALL
             SELECT at, 's ' || from_stage, 1 FROM odd_changes
             UNION ALL
             SELECT dissolved_on, 's ' || stage, 1
               FROM odd WHERE dissolved_on < CAST($1 AS date)
         )
         SELECT CAST({month} AS text) AS month, kind, CAST(sum(n) AS bigint) AS n
           FROM days
          GROUP BY 1, 2",
        month = d.month("on_date"),
    );
    // Per month (`YYYY-MM…`): the deltas of each kind.
    let mut deltas: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    fetch!(db, &sql, &binds, |row| {
        let month: String = row.try_get("month")?;
        deltas
            .entry(month.chars().take(7).collect())
            .or_default()
            .push((row.try_get("kind")?, row.try_get("n")?));
    });
    let first_month = month_label(first);
    let mut stages = [0i64; 4];
    // Adds `n` KIM to a stage's count, by its stored name.
    fn add(stages: &mut [i64; 4], text: &str, n: i64) -> Result<Stage, ProjectionError> {
        let stage = stage("stage", text)?;
        stages[usize::from(stage.number() - 1)] += n;
        Ok(stage)
    }
    let mut rows = Vec::new();
    let mut month = first;
    let mut pending = deltas.into_iter().peekable();
    while month < end {
        let label = month_label(month);
        let mut row = MonthRow {
            month: label.clone(),
            ..MonthRow::default()
        };
        while let Some((delta_month, kinds)) = pending.next_if(|(m, _)| *m <= label) {
            // Before the range only the stages add up; its flows are not shown.
            let mut flow = MonthRow::default();
            for (kind, n) in kinds {
                let parts: Vec<&str> = kind.split(' ').collect();
                match parts.as_slice() {
                    ["f", stage] => {
                        add(&mut stages, stage, n)?;
                        flow.formed += n;
                    }
                    ["d", stage] => {
                        add(&mut stages, stage, -n)?;
                        flow.dissolved += n;
                    }
                    ["c", from, to] => {
                        let from = add(&mut stages, from, -n)?;
                        if add(&mut stages, to, n)? > from {
                            flow.advanced += n;
                        } else {
                            flow.lowered += n;
                        }
                    }
                    ["s", stage] => {
                        add(&mut stages, stage, n)?;
                    }
                    _ => {
                        return Err(ProjectionError::Storage(format!(
                            "unexpected monthly delta `{kind}`"
                        )))
                    }
                }
            }
            if delta_month >= first_month {
                row.formed += flow.formed;
                row.dissolved += flow.dissolved;
                row.advanced += flow.advanced;
                row.lowered += flow.lowered;
            }
        }
        [row.kim1, row.kim2, row.kim3, row.kim4] = stages;
        rows.push(row);
        let Some(next) = month.checked_add_months(Months::new(1)) else {
            break;
        };
        month = next;
    }
    Ok(rows)
}

/// The log position the read model's figures are computed at: its checkpoint (0 before its
/// first batch).
pub async fn as_at(db: &Database) -> Result<i64, ProjectionError> {
    const SQL: &str = "SELECT position FROM projection_checkpoints WHERE name = $1";
    let position: Option<i64> = match db {
        Database::Postgres(pool) => {
            sqlx::query_scalar(SQL)
                .bind(super::NAME)
                .fetch_optional(pool)
                .await?
        }
        Database::Sqlite { readers, .. } => {
            sqlx::query_scalar(&sqlite_sql(SQL))
                .bind(super::NAME)
                .fetch_optional(readers)
                .await?
        }
    };
    Ok(position.unwrap_or(0))
}

/// A query's value: a region code, or a date — bound as a date, not as text, so that PostgreSQL
/// casts it once per statement rather than once per row (`CAST($1 AS date)` on a text parameter
/// runs for every row of a generic plan).
enum Value {
    Text(String),
    Date(NaiveDate),
}

/// Binds every value, in order.
fn bind_all<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    binds: &'q [Value],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for value in binds {
        query = match value {
            Value::Text(text) => query.bind(text.as_str()),
            Value::Date(date) => query.bind(*date),
        };
    }
    query
}

/// The SQL that differs between the dialects: date arithmetic.
#[derive(Clone, Copy)]
enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    fn of(db: &Database) -> Self {
        match db {
            Database::Postgres(_) => Dialect::Postgres,
            Database::Sqlite { .. } => Dialect::Sqlite,
        }
    }

    /// Whole days from `start` to `end` (two dates), as a 64-bit integer.
    fn days(self, end: &str, start: &str) -> String {
        match self {
            Dialect::Postgres => format!("CAST(({end}) - ({start}) AS bigint)"),
            Dialect::Sqlite => format!("CAST(julianday({end}) - julianday({start}) AS integer)"),
        }
    }

    /// The later of two dates, neither NULL.
    fn greatest(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Postgres => format!("GREATEST({a}, {b})"),
            Dialect::Sqlite => format!("max({a}, {b})"),
        }
    }

    /// The first day of `date`'s month, grouped on (read back as text: `YYYY-MM-01`).
    fn month(self, date: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!("CAST(date_trunc('month', CAST({date} AS timestamp)) AS date)")
            }
            Dialect::Sqlite => format!("substr({date}, 1, 7) || '-01'"),
        }
    }
}

/// The column of a stage's first date: the formation date for KIM 1.
fn first_date_column(stage: Stage) -> &'static str {
    match stage {
        Stage::Kim1 => "formed_on",
        Stage::Kim2 => "kim2_on",
        Stage::Kim3 => "kim3_on",
        Stage::Kim4 => "kim4_on",
    }
}

/// The SQL label of a KIM's formation cohort.
fn cohort_label(cohort: Cohort) -> &'static str {
    match cohort {
        Cohort::None => "CAST(NULL AS text)",
        Cohort::Year => "substr(CAST(formed_on AS text), 1, 4)",
        Cohort::Quarter => {
            "substr(CAST(formed_on AS text), 1, 4) || '-Q' ||
             CAST((CAST(substr(CAST(formed_on AS text), 6, 2) AS integer) + 2) / 3 AS text)"
        }
    }
}

/// The condition on `stage_transition_members`' region column of `region`'s own level (so its
/// index serves), its code bound as the next `$n`; nothing for the whole country. `keyword`
/// starts it (`AND`, or `WHERE` when it is the only condition).
fn region_condition(keyword: &str, region: &str, binds: &mut Vec<Value>) -> String {
    if region.is_empty() {
        return String::new();
    }
    let column = match region.split('.').count() {
        1 => "province_code",
        2 => "regency_code",
        3 => "district_code",
        _ => "desa_code",
    };
    binds.push(Value::Text(region.to_owned()));
    let keyword = if keyword.is_empty() { "AND" } else { keyword };
    format!("{keyword} {column} = ${}", binds.len())
}

fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

fn month_label(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

fn stage(column: &str, text: &str) -> Result<Stage, ProjectionError> {
    stage_of(text).ok_or_else(|| ProjectionError::Storage(format!("{column} `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_filters_on_the_column_of_its_level() {
        let mut binds = vec![Value::Text("2025-06-30".to_owned())];
        assert_eq!(region_condition("", "", &mut binds), "");
        assert_eq!(
            region_condition("", "34", &mut binds),
            "AND province_code = $2"
        );
        assert_eq!(
            region_condition("WHERE", "34.04", &mut binds),
            "WHERE regency_code = $3"
        );
        assert_eq!(
            region_condition("", "34.04.01", &mut binds),
            "AND district_code = $4"
        );
        assert_eq!(
            region_condition("", "34.04.01.2001", &mut binds),
            "AND desa_code = $5"
        );
        assert_eq!(binds.len(), 5);
    }

    #[test]
    fn months_are_labelled_by_year_and_month() {
        let on = NaiveDate::from_ymd_opt(2024, 2, 29).expect("a leap day");
        assert_eq!(month_label(month_start(on)), "2024-02");
        assert_eq!(month_start(on).day(), 1);
    }
}

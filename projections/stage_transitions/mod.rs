//! `stage_transitions`: every stage change — how long do KIM stay in a stage? Each row has the
//! days spent in the previous stage (from formation or the last change) and the bimtek attended
//! before the change, so analysts can ask whether bimtek speeds progression.
//!
//! For progression analytics (`progress`) it also keeps, per KIM, its region at every level, its
//! formation, the first date it stood at KIM 2, 3 and 4 and its dissolution date
//! (`stage_transition_members`), and in the same row every stage change and bimtek date in a
//! compact text form (`history`) — all by the events' own dates, never recording time.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "stage_transitions";

mod history;
pub mod progress;
pub mod query;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate};
use simpul_domain::events::CommunityEvent;
use simpul_domain::{RegionCode, RegionLevel, Stage};
use simpul_store::StoredEvent;
use sqlx::Row as _;

use crate::fold;
use crate::runtime::{
    load_any, load_each, sqlite_sql, Budget, Entries, Loaded, ProjectionError, ReadModel,
    Remembered, Storage,
};

/// The `stage_transitions` read model.
pub struct StageTransitions;

#[derive(Clone)]
pub struct Member {
    desa: String,
    stage: String,
    since: NaiveDate,
    bimtek_count: i64,
    formed_on: NaiveDate,
    formed_stage: Stage,
    /// The first date at KIM 2, 3 and 4 or above.
    reached: [Option<NaiveDate>; 3],
    dissolved_on: Option<NaiveDate>,
    /// Every stage change and the dissolution so far is dated on or after the formation or
    /// change before it in the log.
    in_date_order: bool,
    /// Its stage changes (`stage_changes`, see [`history`]).
    changes: String,
    /// Its bimtek dates (`bimtek_dates`).
    bimtek: String,
}

/// The stages whose first date a member keeps, in the order of [`Member::reached`].
const REACHED: [Stage; 3] = [Stage::Kim2, Stage::Kim3, Stage::Kim4];

impl Member {
    fn formed(desa: String, stage: Stage, formed_on: NaiveDate) -> Self {
        Member {
            desa,
            stage: stage.as_str().to_owned(),
            since: formed_on,
            bimtek_count: 0,
            formed_on,
            formed_stage: stage,
            reached: REACHED.map(|at| (stage >= at).then_some(formed_on)),
            dissolved_on: None,
            in_date_order: true,
            changes: String::new(),
            bimtek: String::new(),
        }
    }

    /// A stage change or the dissolution dated `on`, after the formation or change dated
    /// `since`: the dates stay in the log's order only if it is not earlier.
    fn dated(&mut self, on: NaiveDate) {
        if on < self.since {
            self.in_date_order = false;
        }
    }

    /// Whole months from formation to the first date at each of KIM 2, 3 and 4.
    fn months_to_reach(&self) -> [Option<i32>; 3] {
        self.reached
            .map(|on| on.and_then(|on| months_until(self.formed_on, on)))
    }

    /// An advance to `to` assessed `on`: the first date at `to` and at every stage below it is the
    /// earliest such date. The earliest, not the latest event's: an assessment may be dated
    /// before an earlier one (the domain only bounds it by the formation), and the first date at
    /// KIM 3 must never precede the first at KIM 2.
    fn advanced(&mut self, to: Stage, on: NaiveDate) {
        for (stage, first) in REACHED.iter().zip(self.reached.iter_mut()) {
            if *stage <= to && first.is_none_or(|first| on < first) {
                *first = Some(on);
            }
        }
    }

    /// The codes of its kecamatan, kabupaten/kota and province (empty for a code that is not a
    /// desa's, as the transitions' own columns).
    fn parents(&self) -> [String; 3] {
        let code = RegionCode::parse(&self.desa).ok();
        [
            RegionLevel::District,
            RegionLevel::Regency,
            RegionLevel::Province,
        ]
        .map(|level| {
            code.as_ref()
                .and_then(|c| c.ancestor_at(level))
                .map(|c| c.to_string())
                .unwrap_or_default()
        })
    }
}

/// The least `n` with `on` ≤ `from` + `n` months (chrono's month arithmetic, which lands on the
/// month's last day when the day does not exist there, as PostgreSQL's does): whole months from
/// `from` to `on`, rounded up; 0 for a date not after `from`.
pub(crate) fn months_until(from: NaiveDate, on: NaiveDate) -> Option<i32> {
    if on <= from {
        return Some(0);
    }
    let months = (on.year() - from.year()) * 12 + on.month() as i32 - from.month() as i32;
    // `from` + `months` lies in `on`'s month: on or after it, or a month short.
    [months, months + 1].into_iter().find(|&n| {
        u32::try_from(n)
            .ok()
            .and_then(|n| from.checked_add_months(chrono::Months::new(n)))
            .is_some_and(|end| end >= on)
    })
}

pub struct Transition {
    position: i64,
    community_id: String,
    desa: String,
    regency: String,
    province: String,
    from: Stage,
    to: Stage,
    at: NaiveDate,
    days: i64,
    bimtek_before: i64,
    policy_version: Option<String>,
}

fn fold_batch(pending: &mut Pending, events: &[StoredEvent]) -> Result<(), ProjectionError> {
    let Pending {
        members,
        transitions,
    } = pending;
    for stored in events {
        let event = fold::decode(stored)?;
        let position = i64::try_from(stored.position).unwrap_or(i64::MAX);
        let change = match &event {
            CommunityEvent::CommunityFormed(formed) => {
                let member =
                    Member::formed(formed.village.to_string(), formed.stage, formed.formed_on);
                let slot = members.change(&stored.aggregate_id, || member.clone());
                *slot = member;
                None
            }
            CommunityEvent::BimtekAttended(attended) => {
                if let Some(member) = members.change_existing(&stored.aggregate_id) {
                    member.bimtek_count += 1;
                    history::push_date(&mut member.bimtek, attended.held_on);
                }
                None
            }
            CommunityEvent::CommunityDissolved(dissolved) => {
                if let Some(member) = members.change_existing(&stored.aggregate_id) {
                    member.dated(dissolved.dissolved_on);
                    member.dissolved_on = Some(dissolved.dissolved_on);
                }
                None
            }
            CommunityEvent::StageAdvanced(e) => Some((
                e.from,
                e.to,
                e.assessed_on,
                Some(e.policy_version.clone()),
                true,
            )),
            CommunityEvent::StageLowered(e) => Some((e.from, e.to, e.assessed_on, None, false)),
            _ => None,
        };
        let Some((from, to, at, policy_version, advanced)) = change else {
            continue;
        };
        let Some(member) = members.change_existing(&stored.aggregate_id) else {
            return Err(ProjectionError::Event {
                position: stored.position,
                event: format!("{}#{}", stored.aggregate_id, stored.sequence),
                error: "a stage change of a KIM that was never formed".to_owned(),
            });
        };
        let code = RegionCode::parse(&member.desa).ok();
        let at_level = |level| {
            code.as_ref()
                .and_then(|c| c.ancestor_at(level))
                .map(|c| c.to_string())
                .unwrap_or_default()
        };
        transitions.push(Transition {
            position,
            community_id: stored.aggregate_id.clone(),
            desa: member.desa.clone(),
            regency: at_level(RegionLevel::Regency),
            province: at_level(RegionLevel::Province),
            from,
            to,
            at,
            days: (at - member.since).num_days(),
            bimtek_before: member.bimtek_count,
            policy_version,
        });
        member.dated(at);
        history::push_change(&mut member.changes, at, from, to);
        member.stage = to.as_str().to_owned();
        member.since = at;
        if advanced {
            member.advanced(to, at);
        }
    }
    Ok(())
}

/// What the read model keeps between batches: each KIM's current stage, and the transitions not
/// written yet (only while a rebuild defers its writes).
#[derive(Default)]
pub struct Pending {
    members: Entries<Member>,
    transitions: Vec<Transition>,
}

impl Remembered<Member> for Pending {
    fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String> {
        self.members.missing(events, budget)
    }

    fn loaded(&mut self, missing: Vec<String>, found: Vec<(String, Member)>) {
        Remembered::loaded(&mut self.members, missing, found);
    }
}

impl Pending {
    fn must_write(&self, budget: Budget) -> bool {
        self.members.must_write(budget) || self.transitions.len() > budget.capacity
    }

    /// The transitions and member rows to write now.
    fn take(&mut self, budget: Budget) -> Rows {
        let members = self
            .members
            .changed()
            .map(|(id, member)| (id.clone(), member.clone()))
            .collect();
        self.members.written(budget);
        Rows {
            transitions: std::mem::take(&mut self.transitions),
            members,
        }
    }
}

/// What one write stores.
pub struct Rows {
    transitions: Vec<Transition>,
    members: Vec<(String, Member)>,
}

/// Many transitions in one statement (PostgreSQL).
const INSERT_MANY: &str = "INSERT INTO stage_transitions (position, community_id, desa_code,
    regency_code, province_code, from_stage, to_stage, at, days_in_previous, bimtek_before,
    policy_version)
    SELECT position, id, desa, regency, province, from_stage, to_stage, CAST(at AS date), days,
           bimtek, policy
      FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                  $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[])
           AS u(position, id, desa, regency, province, from_stage, to_stage, at, days, bimtek,
                policy)";

const INSERT: &str = "INSERT INTO stage_transitions (position, community_id, desa_code,
    regency_code, province_code, from_stage, to_stage, at, days_in_previous, bimtek_before,
    policy_version) VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8 AS date), $9, $10, $11)";
const UPSERT_MEMBER: &str = "INSERT INTO stage_transition_members (community_id, desa_code, stage,
    stage_since, bimtek_count, district_code, regency_code, province_code, formed_on,
    formed_stage, kim2_on, kim3_on, kim4_on, dissolved_on, kim2_months, kim3_months, kim4_months,
    in_date_order, stage_changes, bimtek_dates)
    VALUES ($1, $2, $3, CAST($4 AS date), $5, $6, $7, $8, CAST($9 AS date), $10,
            CAST($11 AS date), CAST($12 AS date), CAST($13 AS date), CAST($14 AS date), $15, $16,
            $17, $18, $19, $20)
    ON CONFLICT (community_id) DO UPDATE SET desa_code = excluded.desa_code,
    stage = excluded.stage, stage_since = excluded.stage_since,
    bimtek_count = excluded.bimtek_count, district_code = excluded.district_code,
    regency_code = excluded.regency_code, province_code = excluded.province_code,
    formed_on = excluded.formed_on, formed_stage = excluded.formed_stage,
    kim2_on = excluded.kim2_on, kim3_on = excluded.kim3_on, kim4_on = excluded.kim4_on,
    dissolved_on = excluded.dissolved_on, kim2_months = excluded.kim2_months,
    kim3_months = excluded.kim3_months, kim4_months = excluded.kim4_months,
    in_date_order = excluded.in_date_order, stage_changes = excluded.stage_changes,
    bimtek_dates = excluded.bimtek_dates";

/// Every touched KIM's row in one statement (PostgreSQL).
const UPSERT_MEMBERS_MANY: &str = "INSERT INTO stage_transition_members (community_id, desa_code,
    stage, stage_since, bimtek_count, district_code, regency_code, province_code, formed_on,
    formed_stage, kim2_on, kim3_on, kim4_on, dissolved_on, kim2_months, kim3_months, kim4_months,
    in_date_order, stage_changes, bimtek_dates)
    SELECT id, desa, stage, CAST(since AS date), bimtek, district, regency, province,
           CAST(formed_on AS date), formed_stage, CAST(kim2_on AS date), CAST(kim3_on AS date),
           CAST(kim4_on AS date), CAST(dissolved_on AS date), kim2_months, kim3_months,
           kim4_months, in_date_order, stage_changes, bimtek_dates
      FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                  $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                  $13::text[], $14::text[], $15::integer[], $16::integer[], $17::integer[],
                  $18::boolean[], $19::text[], $20::text[])
           AS u(id, desa, stage, since, bimtek, district, regency, province, formed_on,
                formed_stage, kim2_on, kim3_on, kim4_on, dissolved_on, kim2_months, kim3_months,
                kim4_months, in_date_order, stage_changes, bimtek_dates)
    ON CONFLICT (community_id) DO UPDATE SET desa_code = excluded.desa_code,
    stage = excluded.stage, stage_since = excluded.stage_since,
    bimtek_count = excluded.bimtek_count, district_code = excluded.district_code,
    regency_code = excluded.regency_code, province_code = excluded.province_code,
    formed_on = excluded.formed_on, formed_stage = excluded.formed_stage,
    kim2_on = excluded.kim2_on, kim3_on = excluded.kim3_on, kim4_on = excluded.kim4_on,
    dissolved_on = excluded.dissolved_on, kim2_months = excluded.kim2_months,
    kim3_months = excluded.kim3_months, kim4_months = excluded.kim4_months,
    in_date_order = excluded.in_date_order, stage_changes = excluded.stage_changes,
    bimtek_dates = excluded.bimtek_dates";

macro_rules! bind_transition {
    ($query:expr, $t:expr) => {{
        let t = $t;
        $query
            .bind(t.position)
            .bind(&t.community_id)
            .bind(&t.desa)
            .bind(&t.regency)
            .bind(&t.province)
            .bind(t.from.as_str())
            .bind(t.to.as_str())
            .bind(t.at.to_string())
            .bind(t.days)
            .bind(t.bimtek_before)
            .bind(&t.policy_version)
    }};
}

/// The stage stored as `text` (`kim1` … `kim4`).
pub(crate) fn stage_of(text: &str) -> Option<Stage> {
    Stage::ALL.into_iter().find(|stage| stage.as_str() == text)
}

/// A date read back as text.
fn date_of(column: &str, text: &str) -> Result<NaiveDate, ProjectionError> {
    text.parse()
        .map_err(|e| ProjectionError::Storage(format!("{column} `{text}`: {e}")))
}

/// A nullable date read back as text.
fn optional_date_of(
    column: &str,
    text: Option<String>,
) -> Result<Option<NaiveDate>, ProjectionError> {
    text.map(|text| date_of(column, &text)).transpose()
}

/// A member row read back, its columns as text.
struct MemberRow {
    desa: String,
    stage: String,
    since: String,
    bimtek_count: i64,
    formed_on: String,
    formed_stage: String,
    reached: [Option<String>; 3],
    dissolved_on: Option<String>,
    in_date_order: bool,
    changes: String,
    bimtek: String,
}

impl MemberRow {
    fn member(self) -> Result<Member, ProjectionError> {
        let [kim2, kim3, kim4] = self.reached;
        Ok(Member {
            desa: self.desa,
            stage: self.stage,
            since: date_of("stage_since", &self.since)?,
            bimtek_count: self.bimtek_count,
            formed_on: date_of("formed_on", &self.formed_on)?,
            formed_stage: stage_of(&self.formed_stage).ok_or_else(|| {
                ProjectionError::Storage(format!("formed_stage `{}`", self.formed_stage))
            })?,
            reached: [
                optional_date_of("kim2_on", kim2)?,
                optional_date_of("kim3_on", kim3)?,
                optional_date_of("kim4_on", kim4)?,
            ],
            dissolved_on: optional_date_of("dissolved_on", self.dissolved_on)?,
            in_date_order: self.in_date_order,
            changes: self.changes,
            bimtek: self.bimtek,
        })
    }
}

/// The member's columns after `community_id` and `desa_code`, as the upserts take them: stage,
/// since, bimtek count, kecamatan, kabupaten/kota, province, formation date and stage, first
/// dates at KIM 2/3/4, dissolution date, months to KIM 2/3/4, date order, stage changes, bimtek
/// dates.
struct MemberColumns {
    stage: String,
    since: String,
    bimtek_count: i64,
    parents: [String; 3],
    formed_on: String,
    formed_stage: &'static str,
    reached: [Option<String>; 3],
    dissolved_on: Option<String>,
    months: [Option<i32>; 3],
    in_date_order: bool,
    changes: String,
    bimtek: String,
}

impl From<&Member> for MemberColumns {
    fn from(m: &Member) -> Self {
        MemberColumns {
            stage: m.stage.clone(),
            since: m.since.to_string(),
            bimtek_count: m.bimtek_count,
            parents: m.parents(),
            formed_on: m.formed_on.to_string(),
            formed_stage: m.formed_stage.as_str(),
            reached: m.reached.map(|on| on.map(|on| on.to_string())),
            dissolved_on: m.dissolved_on.map(|on| on.to_string()),
            months: m.months_to_reach(),
            in_date_order: m.in_date_order,
            changes: m.changes.clone(),
            bimtek: m.bimtek.clone(),
        }
    }
}

impl ReadModel for StageTransitions {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["stage_transitions", "stage_transition_members"];
    type State = Pending;
    type Loaded = Member;
    type Rows = Rows;

    fn fold(
        &self,
        pending: &mut Self::State,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        fold_batch(pending, events)
    }

    fn take(
        &self,
        pending: &mut Self::State,
        budget: Budget,
    ) -> Result<Option<Self::Rows>, ProjectionError> {
        Ok(pending.must_write(budget).then(|| pending.take(budget)))
    }
}

/// A member read back.
macro_rules! member_of {
    ($row:expr) => {{
        let row = $row;
        MemberRow {
            desa: row.try_get("desa_code")?,
            stage: row.try_get("stage")?,
            since: row.try_get("stage_since")?,
            bimtek_count: row.try_get("bimtek_count")?,
            formed_on: row.try_get("formed_on")?,
            formed_stage: row.try_get("formed_stage")?,
            reached: [
                row.try_get("kim2_on")?,
                row.try_get("kim3_on")?,
                row.try_get("kim4_on")?,
            ],
            dissolved_on: row.try_get("dissolved_on")?,
            in_date_order: row.try_get("in_date_order")?,
            changes: row.try_get("stage_changes")?,
            bimtek: row.try_get("bimtek_dates")?,
        }
        .member()?
    }};
}

#[async_trait]
impl Storage<sqlx::PgConnection> for StageTransitions {
    async fn load(
        &self,
        tx: &mut sqlx::PgConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str = "SELECT community_id, desa_code, stage, stage_since::text AS stage_since,
            bimtek_count, formed_on::text AS formed_on, formed_stage, kim2_on::text AS kim2_on,
            kim3_on::text AS kim3_on, kim4_on::text AS kim4_on,
            dissolved_on::text AS dissolved_on, in_date_order, stage_changes, bimtek_dates
            FROM stage_transition_members WHERE community_id = ANY($1)";
        load_any(tx, SQL, ids, |row| Ok(member_of!(row))).await
    }

    /// The transitions, then the members, each one statement over column arrays.
    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let Rows {
            transitions,
            members,
        } = rows;
        if !transitions.is_empty() {
            macro_rules! column {
                ($f:expr) => {
                    transitions.iter().map($f).collect::<Vec<_>>()
                };
            }
            sqlx::query(INSERT_MANY)
                .bind(column!(|t: &Transition| t.position))
                .bind(column!(|t: &Transition| t.community_id.clone()))
                .bind(column!(|t: &Transition| t.desa.clone()))
                .bind(column!(|t: &Transition| t.regency.clone()))
                .bind(column!(|t: &Transition| t.province.clone()))
                .bind(column!(|t: &Transition| t.from.as_str()))
                .bind(column!(|t: &Transition| t.to.as_str()))
                .bind(column!(|t: &Transition| t.at.to_string()))
                .bind(column!(|t: &Transition| t.days))
                .bind(column!(|t: &Transition| t.bimtek_before))
                .bind(column!(|t: &Transition| t.policy_version.clone()))
                .execute(&mut *tx)
                .await?;
        }
        if !members.is_empty() {
            let columns: Vec<MemberColumns> = members
                .iter()
                .map(|(_, m)| MemberColumns::from(m))
                .collect();
            macro_rules! column {
                ($f:expr) => {
                    columns.iter().map($f).collect::<Vec<_>>()
                };
            }
            sqlx::query(UPSERT_MEMBERS_MANY)
                .bind(members.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>())
                .bind(
                    members
                        .iter()
                        .map(|(_, m)| m.desa.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(column!(|c: &MemberColumns| c.stage.clone()))
                .bind(column!(|c: &MemberColumns| c.since.clone()))
                .bind(column!(|c: &MemberColumns| c.bimtek_count))
                .bind(column!(|c: &MemberColumns| c.parents[0].clone()))
                .bind(column!(|c: &MemberColumns| c.parents[1].clone()))
                .bind(column!(|c: &MemberColumns| c.parents[2].clone()))
                .bind(column!(|c: &MemberColumns| c.formed_on.clone()))
                .bind(column!(|c: &MemberColumns| c.formed_stage))
                .bind(column!(|c: &MemberColumns| c.reached[0].clone()))
                .bind(column!(|c: &MemberColumns| c.reached[1].clone()))
                .bind(column!(|c: &MemberColumns| c.reached[2].clone()))
                .bind(column!(|c: &MemberColumns| c.dissolved_on.clone()))
                .bind(column!(|c: &MemberColumns| c.months[0]))
                .bind(column!(|c: &MemberColumns| c.months[1]))
                .bind(column!(|c: &MemberColumns| c.months[2]))
                .bind(column!(|c: &MemberColumns| c.in_date_order))
                .bind(column!(|c: &MemberColumns| c.changes.clone()))
                .bind(column!(|c: &MemberColumns| c.bimtek.clone()))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Storage<sqlx::SqliteConnection> for StageTransitions {
    async fn load(
        &self,
        tx: &mut sqlx::SqliteConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str = "SELECT desa_code, stage, stage_since, bimtek_count, formed_on,
            formed_stage, kim2_on, kim3_on, kim4_on, dissolved_on, in_date_order, stage_changes,
            bimtek_dates
            FROM stage_transition_members WHERE community_id = ?1";
        load_each(tx, SQL, ids, |row| Ok(member_of!(row))).await
    }

    /// One prepared statement per transition and member.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rows: Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let Rows {
            transitions,
            members,
        } = rows;
        let insert = sqlite_sql(INSERT);
        for transition in &transitions {
            bind_transition!(sqlx::query(&insert), transition)
                .execute(&mut *tx)
                .await?;
        }
        let upsert = sqlite_sql(UPSERT_MEMBER);
        for (id, m) in &members {
            let c = MemberColumns::from(m);
            let [district, regency, province] = c.parents;
            let [kim2, kim3, kim4] = c.reached;
            let [kim2_months, kim3_months, kim4_months] = c.months;
            sqlx::query(&upsert)
                .bind(id)
                .bind(&m.desa)
                .bind(c.stage)
                .bind(c.since)
                .bind(c.bimtek_count)
                .bind(district)
                .bind(regency)
                .bind(province)
                .bind(c.formed_on)
                .bind(c.formed_stage)
                .bind(kim2)
                .bind(kim3)
                .bind(kim4)
                .bind(c.dissolved_on)
                .bind(kim2_months)
                .bind(kim3_months)
                .bind(kim4_months)
                .bind(c.in_date_order)
                .bind(c.changes)
                .bind(c.bimtek)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn months_until_rounds_up_and_lands_on_a_short_months_last_day() {
        assert_eq!(months_until(day("2023-02-10"), day("2023-02-10")), Some(0));
        assert_eq!(months_until(day("2023-02-10"), day("2023-02-11")), Some(1));
        assert_eq!(months_until(day("2023-02-10"), day("2023-08-10")), Some(6));
        assert_eq!(months_until(day("2023-02-10"), day("2023-08-11")), Some(7));
        // 2023-08-31 + 6 months is 2024-02-29.
        assert_eq!(months_until(day("2023-08-31"), day("2024-02-29")), Some(6));
        assert_eq!(months_until(day("2023-08-31"), day("2024-03-01")), Some(7));
        assert_eq!(months_until(day("2023-01-31"), day("2025-01-31")), Some(24));
        assert_eq!(months_until(day("2024-05-01"), day("2023-01-01")), Some(0));
    }
}

//! `stage_transitions`: every stage change — how long do KIM stay in a stage? Each row has the
//! days spent in the previous stage (from formation or the last change) and the bimtek attended
//! before the change, so analysts can ask whether bimtek speeds progression.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "stage_transitions";

pub mod query;

use async_trait::async_trait;
use chrono::NaiveDate;
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

fn fold_batch(
    members: &mut Entries<Member>,
    events: &[StoredEvent],
    transitions: &mut Vec<Transition>,
) -> Result<(), ProjectionError> {
    for stored in events {
        let event = fold::decode(stored)?;
        let change = match &event {
            CommunityEvent::CommunityFormed(formed) => {
                let member = Member {
                    desa: formed.village.to_string(),
                    stage: formed.stage.as_str().to_owned(),
                    since: formed.formed_on,
                    bimtek_count: 0,
                };
                let slot = members.change(&stored.aggregate_id, || member.clone());
                *slot = member;
                None
            }
            CommunityEvent::BimtekAttended(_) => {
                if let Some(member) = members.change_existing(&stored.aggregate_id) {
                    member.bimtek_count += 1;
                }
                None
            }
            CommunityEvent::StageAdvanced(e) => {
                Some((e.from, e.to, e.assessed_on, Some(e.policy_version.clone())))
            }
            CommunityEvent::StageLowered(e) => Some((e.from, e.to, e.assessed_on, None)),
            _ => None,
        };
        let Some((from, to, at, policy_version)) = change else {
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
            position: i64::try_from(stored.position).unwrap_or(i64::MAX),
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
        member.stage = to.as_str().to_owned();
        member.since = at;
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
    fn take(&mut self, budget: Budget) -> (Vec<Transition>, Vec<(String, Member)>) {
        let members = self
            .members
            .changed()
            .map(|(id, member)| (id.clone(), member.clone()))
            .collect();
        self.members.written(budget);
        (std::mem::take(&mut self.transitions), members)
    }
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
    stage_since, bimtek_count) VALUES ($1, $2, $3, CAST($4 AS date), $5)
    ON CONFLICT (community_id) DO UPDATE SET desa_code = excluded.desa_code,
    stage = excluded.stage, stage_since = excluded.stage_since,
    bimtek_count = excluded.bimtek_count";

/// Every touched KIM's stage in one statement (PostgreSQL).
const UPSERT_MEMBERS_MANY: &str = "INSERT INTO stage_transition_members (community_id, desa_code,
    stage, stage_since, bimtek_count)
    SELECT id, desa, stage, CAST(since AS date), bimtek
      FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
           AS u(id, desa, stage, since, bimtek)
    ON CONFLICT (community_id) DO UPDATE SET desa_code = excluded.desa_code,
    stage = excluded.stage, stage_since = excluded.stage_since,
    bimtek_count = excluded.bimtek_count";

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

fn member_from(
    desa: String,
    stage: String,
    since: String,
    bimtek_count: i64,
) -> Result<Member, ProjectionError> {
    Ok(Member {
        desa,
        stage,
        since: since
            .parse()
            .map_err(|e| ProjectionError::Storage(format!("stage_since `{since}`: {e}")))?,
        bimtek_count,
    })
}

impl ReadModel for StageTransitions {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["stage_transitions", "stage_transition_members"];
    type State = Pending;
    type Loaded = Member;
    type Rows = (Vec<Transition>, Vec<(String, Member)>);

    fn fold(
        &self,
        pending: &mut Self::State,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        fold_batch(&mut pending.members, events, &mut pending.transitions)
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
        member_from(
            row.try_get("desa_code")?,
            row.try_get("stage")?,
            row.try_get("stage_since")?,
            row.try_get("bimtek_count")?,
        )?
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
            bimtek_count FROM stage_transition_members WHERE community_id = ANY($1)";
        load_any(tx, SQL, ids, |row| Ok(member_of!(row))).await
    }

    /// The transitions, then the members, each one statement over column arrays.
    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        (transitions, members): Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
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
        if members.is_empty() {
            return Ok(());
        }
        macro_rules! column {
            ($f:expr) => {
                members.iter().map($f).collect::<Vec<_>>()
            };
        }
        sqlx::query(UPSERT_MEMBERS_MANY)
            .bind(column!(|(id, _): &(String, Member)| id.clone()))
            .bind(column!(|(_, m): &(String, Member)| m.desa.clone()))
            .bind(column!(|(_, m): &(String, Member)| m.stage.clone()))
            .bind(column!(|(_, m): &(String, Member)| m.since.to_string()))
            .bind(column!(|(_, m): &(String, Member)| m.bimtek_count))
            .execute(&mut *tx)
            .await?;
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
        const SQL: &str = "SELECT desa_code, stage, stage_since, bimtek_count
            FROM stage_transition_members WHERE community_id = ?1";
        load_each(tx, SQL, ids, |row| Ok(member_of!(row))).await
    }

    /// One prepared statement per transition and member.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        (transitions, members): Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let insert = sqlite_sql(INSERT);
        for transition in &transitions {
            bind_transition!(sqlx::query(&insert), transition)
                .execute(&mut *tx)
                .await?;
        }
        let upsert = sqlite_sql(UPSERT_MEMBER);
        for (id, m) in &members {
            sqlx::query(&upsert)
                .bind(id)
                .bind(&m.desa)
                .bind(&m.stage)
                .bind(m.since.to_string())
                .bind(m.bimtek_count)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

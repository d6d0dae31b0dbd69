//! `stage_dashboard`: how many KIM at each stage in this region? Counts per region at every level
//! (province, kabupaten/kota, kecamatan) × stage × status × legal, maintained by deltas: a KIM
//! that moves from one key to another decrements the old counts and increments the new ones, so a
//! dashboard read is a lookup, never a GROUP BY over all KIM.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "stage_dashboard";

pub mod query;

use std::collections::BTreeMap;

use async_trait::async_trait;
use simpul_domain::{Community, RegionCode, RegionLevel};
use simpul_store::StoredEvent;
use sqlx::Row as _;

use crate::fold;
use crate::runtime::{
    load_any, load_each, sqlite_sql, Budget, Entries, Loaded, ProjectionError, ReadModel, Storage,
};

/// The `stage_dashboard` read model.
pub struct StageDashboard;

/// Where a KIM counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    desa: RegionCode,
    stage: &'static str,
    status: &'static str,
    legal: bool,
}

/// (region code, level, stage, status, legal) → change in count.
pub type Deltas = BTreeMap<(String, &'static str, &'static str, &'static str, bool), i64>;

/// A member row to write: community id, where it counts, folded state.
pub type MemberRow = (String, Key, String);

pub struct Member {
    community: Community,
    before: Option<Key>,
}

fn key_of(community: &Community) -> Option<Key> {
    Some(Key {
        desa: community.village()?.clone(),
        stage: community.stage().as_str(),
        status: community.status().as_str(),
        legal: community.is_legal(),
    })
}

fn level_name(level: RegionLevel) -> &'static str {
    match level {
        RegionLevel::Province => "province",
        RegionLevel::Regency => "regency",
        RegionLevel::District => "district",
        RegionLevel::Village => "village",
    }
}

fn add(deltas: &mut Deltas, key: &Key, change: i64) {
    for level in [
        RegionLevel::Province,
        RegionLevel::Regency,
        RegionLevel::District,
    ] {
        if let Some(region) = key.desa.ancestor_at(level) {
            *deltas
                .entry((
                    region.to_string(),
                    level_name(level),
                    key.stage,
                    key.status,
                    key.legal,
                ))
                .or_default() += change;
        }
    }
}

fn stored_key(desa: &str, stage: &str, status: &str, legal: bool) -> Option<Key> {
    let stage = simpul_domain::Stage::ALL
        .into_iter()
        .map(|s| s.as_str())
        .find(|s| *s == stage)?;
    let status = simpul_domain::CommunityStatus::ALL
        .into_iter()
        .map(|s| s.as_str())
        .find(|s| *s == status)?;
    Some(Key {
        desa: RegionCode::parse(desa).ok()?,
        stage,
        status,
        legal,
    })
}

impl StageDashboard {
    fn fold_batch(
        members: &mut Entries<Member>,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        for stored in events {
            let event = fold::decode(stored)?;
            let member = members.change(&stored.aggregate_id, || Member {
                community: Community::default(),
                before: None,
            });
            fold::apply(&mut member.community, event);
        }
        Ok(())
    }

    /// The count changes of the members changed since they were last written.
    fn deltas(members: &Entries<Member>) -> Deltas {
        let mut deltas = Deltas::new();
        for (_, member) in members.changed() {
            let after = key_of(&member.community);
            if member.before == after {
                continue;
            }
            if let Some(before) = &member.before {
                add(&mut deltas, before, -1);
            }
            if let Some(after) = &after {
                add(&mut deltas, after, 1);
            }
        }
        deltas.retain(|_, change| *change != 0);
        deltas
    }

    /// The member rows to write, and the members marked as written.
    fn take_changed(
        members: &mut Entries<Member>,
        budget: Budget,
    ) -> Result<(Deltas, Vec<MemberRow>), ProjectionError> {
        let deltas = Self::deltas(members);
        let mut rows = Vec::new();
        for (id, member) in members.changed() {
            if let Some(key) = key_of(&member.community) {
                rows.push((id.clone(), key, fold::save_state(&member.community)?));
            }
        }
        for (id, key, _) in &rows {
            if let Some(member) = members.map_mut().get_mut(id) {
                member.before = Some(key.clone());
            }
        }
        members.written(budget);
        Ok((deltas, rows))
    }
}

const DELETE_EMPTY: &str = "DELETE FROM stage_dashboard
     WHERE region_code = $1 AND stage = $2 AND status = $3 AND legal = $4 AND count = 0";

impl ReadModel for StageDashboard {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["stage_dashboard", "stage_dashboard_members"];
    type State = Entries<Member>;
    type Loaded = Member;
    type Rows = (Deltas, Vec<MemberRow>);

    fn fold(
        &self,
        members: &mut Self::State,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        Self::fold_batch(members, events)
    }

    fn take(
        &self,
        members: &mut Self::State,
        budget: Budget,
    ) -> Result<Option<Self::Rows>, ProjectionError> {
        if !members.must_write(budget) {
            return Ok(None);
        }
        Self::take_changed(members, budget).map(Some)
    }
}

/// A member read back: where it counted when last written, and its folded state.
macro_rules! member_of {
    ($row:expr) => {{
        let row = $row;
        Member {
            before: stored_key(
                &row.try_get::<String, _>("desa_code")?,
                &row.try_get::<String, _>("stage")?,
                &row.try_get::<String, _>("status")?,
                row.try_get("legal")?,
            ),
            community: fold::load_state(&row.try_get::<String, _>("state")?)?,
        }
    }};
}

#[async_trait]
impl Storage<sqlx::PgConnection> for StageDashboard {
    async fn load(
        &self,
        tx: &mut sqlx::PgConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str = "SELECT community_id, desa_code, stage, status, legal, state
            FROM stage_dashboard_members WHERE community_id = ANY($1)";
        load_any(tx, SQL, ids, |row| Ok(member_of!(row))).await
    }

    /// The members, the deltas and the emptied cells, each one statement over column arrays.
    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        (deltas, rows): Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let (mut ids, mut desas, mut stages, mut statuses, mut legals, mut states) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (id, key, state) in rows {
            ids.push(id);
            desas.push(key.desa.to_string());
            stages.push(key.stage);
            statuses.push(key.status);
            legals.push(key.legal);
            states.push(state);
        }
        sqlx::query(include_str!("upsert_members_many.sql"))
            .bind(&ids)
            .bind(&desas)
            .bind(&stages)
            .bind(&statuses)
            .bind(&legals)
            .bind(&states)
            .execute(&mut *tx)
            .await?;
        if deltas.is_empty() {
            return Ok(());
        }
        let (mut regions, mut levels, mut stages, mut statuses, mut legals, mut changes) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for ((region, level, stage, status, legal), change) in deltas {
            regions.push(region);
            levels.push(level);
            stages.push(stage);
            statuses.push(status);
            legals.push(legal);
            changes.push(change);
        }
        sqlx::query(include_str!("apply_deltas_many.sql"))
            .bind(&regions)
            .bind(&levels)
            .bind(&stages)
            .bind(&statuses)
            .bind(&legals)
            .bind(&changes)
            .execute(&mut *tx)
            .await?;
        sqlx::query(include_str!("delete_empty_many.sql"))
            .bind(&regions)
            .bind(&stages)
            .bind(&statuses)
            .bind(&legals)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Storage<sqlx::SqliteConnection> for StageDashboard {
    async fn load(
        &self,
        tx: &mut sqlx::SqliteConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str = "SELECT desa_code, stage, status, legal, state
            FROM stage_dashboard_members WHERE community_id = ?1";
        load_each(tx, SQL, ids, |row| Ok(member_of!(row))).await
    }

    /// One prepared statement per member, delta and emptied cell.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        (deltas, rows): Self::Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let upsert = sqlite_sql(include_str!("upsert_member.sql"));
        for (id, key, state) in rows {
            sqlx::query(&upsert)
                .bind(id)
                .bind(key.desa.as_str())
                .bind(key.stage)
                .bind(key.status)
                .bind(key.legal)
                .bind(state)
                .execute(&mut *tx)
                .await?;
        }
        let delta = sqlite_sql(include_str!("apply_delta.sql"));
        let delete = sqlite_sql(DELETE_EMPTY);
        for ((region, level, stage, status, legal), change) in deltas {
            sqlx::query(&delta)
                .bind(&region)
                .bind(level)
                .bind(stage)
                .bind(status)
                .bind(legal)
                .bind(change)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&delete)
                .bind(&region)
                .bind(stage)
                .bind(status)
                .bind(legal)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

//! `community_history`: each KIM's successive states with their validity ranges in recording
//! time, so the dashboard and the list can be read "as of" a past date from rows — not by
//! replaying the log on every request — and the changes between two dates listed with the
//! events that made them (`docs/ledger.md`, "As of").
//!
//! A new state starts at every event that changes what the dashboard and the list show (name,
//! stage, status, legal standing, SK, nomor induk, member count); the previous one ends there.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "community_history";

pub mod query;

use async_trait::async_trait;
use cqrs_es::Aggregate as _;
use simpul_domain::{Community, RegionLevel};
use simpul_store::StoredEvent;
use sqlx::Row as _;

use crate::fold;
use crate::runtime::{
    load_any, load_each, sqlite_sql, Budget, Entries, Loaded, ProjectionError, ReadModel,
    Remembered, Storage,
};

/// The `community_history` read model.
pub struct CommunityHistory;

/// What a state shows, compared from one event to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shown {
    name: String,
    stage: String,
    status: String,
    legal: bool,
    sk_number: Option<String>,
    nomor_induk: Option<String>,
    member_count: i32,
}

impl Shown {
    fn of(community: &Community) -> Self {
        Self {
            name: community
                .name()
                .map(ToString::to_string)
                .unwrap_or_default(),
            stage: community.stage().as_str().to_owned(),
            status: community.status().as_str().to_owned(),
            legal: community.is_legal(),
            sk_number: community.active_sk().map(|(number, _)| number.to_string()),
            nomor_induk: community.registration_number().map(ToString::to_string),
            member_count: i32::try_from(community.member_count()).unwrap_or(i32::MAX),
        }
    }

    /// The names of what differs from `before` (`formed` for a first state).
    fn changed_from(&self, before: Option<&Shown>) -> Vec<&'static str> {
        let Some(before) = before else {
            return vec!["formed"];
        };
        let mut changed = Vec::new();
        for (name, differs) in [
            ("name", self.name != before.name),
            ("stage", self.stage != before.stage),
            ("status", self.status != before.status),
            ("legal", self.legal != before.legal),
            ("sk", self.sk_number != before.sk_number),
            ("nomor_induk", self.nomor_induk != before.nomor_induk),
            ("member_count", self.member_count != before.member_count),
        ] {
            if differs {
                changed.push(name);
            }
        }
        changed
    }
}

/// One state row.
#[derive(Clone, Debug)]
pub struct StateRow {
    community_id: String,
    sequence: i64,
    position: i64,
    event_type: String,
    valid_from: String,
    valid_to: Option<String>,
    desa: String,
    shown: Shown,
    changed: String,
}

/// A KIM as memory holds it.
#[derive(Clone)]
pub struct Head {
    community: Community,
    /// The open row's sequence, once the KIM has one.
    open: Option<i64>,
}

/// What the read model keeps between batches, and what it has not written yet.
#[derive(Default)]
pub struct Pending {
    heads: Entries<Head>,
    rows: Vec<StateRow>,
    /// Where in `rows` each KIM's open row is, while it is not written yet.
    open_rows: std::collections::HashMap<String, usize>,
    /// Rows written earlier that a later state ends: (community, sequence, valid_to).
    closes: Vec<(String, i64, String)>,
}

impl Remembered<Head> for Pending {
    fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String> {
        self.heads.missing(events, budget)
    }

    fn loaded(&mut self, missing: Vec<String>, found: Vec<(String, Head)>) {
        Remembered::loaded(&mut self.heads, missing, found);
    }
}

/// What one write stores.
pub struct Rows {
    rows: Vec<StateRow>,
    closes: Vec<(String, i64, String)>,
    heads: Vec<(String, i64, String)>,
}

impl ReadModel for CommunityHistory {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["community_states", "community_state_heads"];
    type State = Pending;
    type Loaded = Head;
    type Rows = Rows;

    fn fold(&self, pending: &mut Pending, events: &[StoredEvent]) -> Result<(), ProjectionError> {
        for stored in events {
            let event = fold::decode(stored)?;
            let head = pending.heads.change(&stored.aggregate_id, || Head {
                community: Community::default(),
                open: None,
            });
            let before = head
                .community
                .is_formed()
                .then(|| Shown::of(&head.community));
            head.community.apply(event);
            let now = Shown::of(&head.community);
            let changed = now.changed_from(before.as_ref());
            if changed.is_empty() {
                continue;
            }
            let valid_from = stored
                .metadata
                .get("recorded_at")
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .map(|at| {
                    at.with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                })
                .ok_or_else(|| ProjectionError::Event {
                    position: stored.position,
                    event: format!("{}#{}", stored.aggregate_id, stored.sequence),
                    error: "no recorded_at in its metadata".to_owned(),
                })?;
            let sequence = i64::try_from(stored.sequence).unwrap_or(i64::MAX);
            if let Some(open) = head.open {
                match pending.open_rows.get(&stored.aggregate_id) {
                    Some(&at) => pending.rows[at].valid_to = Some(valid_from.clone()),
                    None => {
                        pending
                            .closes
                            .push((stored.aggregate_id.clone(), open, valid_from.clone()))
                    }
                }
            }
            pending
                .open_rows
                .insert(stored.aggregate_id.clone(), pending.rows.len());
            head.open = Some(sequence);
            let desa = head
                .community
                .village()
                .map(ToString::to_string)
                .unwrap_or_default();
            pending.rows.push(StateRow {
                community_id: stored.aggregate_id.clone(),
                sequence,
                position: i64::try_from(stored.position).unwrap_or(i64::MAX),
                event_type: stored.event_type.clone(),
                valid_from,
                valid_to: None,
                desa,
                shown: now,
                changed: changed.join(","),
            });
        }
        Ok(())
    }

    fn take(&self, pending: &mut Pending, budget: Budget) -> Result<Option<Rows>, ProjectionError> {
        let due = pending.heads.must_write(budget) || pending.rows.len() > budget.capacity;
        if !due {
            return Ok(None);
        }
        let mut heads = Vec::new();
        for (id, head) in pending.heads.changed() {
            if let Some(open) = head.open {
                heads.push((id.clone(), open, fold::save_state(&head.community)?));
            }
        }
        pending.heads.written(budget);
        pending.open_rows.clear();
        Ok(Some(Rows {
            rows: std::mem::take(&mut pending.rows),
            closes: std::mem::take(&mut pending.closes),
            heads,
        }))
    }
}

/// The codes of a desa's kecamatan, kabupaten/kota and province.
fn parents(desa: &str) -> [String; 3] {
    let code = simpul_domain::RegionCode::parse(desa).ok();
    [
        RegionLevel::District,
        RegionLevel::Regency,
        RegionLevel::Province,
    ]
    .map(|level| {
        code.as_ref()
            .and_then(|code| code.ancestor_at(level))
            .map(|code| code.to_string())
            .unwrap_or_default()
    })
}

const LOAD: &str = "SELECT community_id, open_sequence, state FROM community_state_heads";
const INSERT: &str = "INSERT INTO community_states
    (community_id, sequence, position, event_type, valid_from, valid_to, name, desa_code,
     district_code, regency_code, province_code, stage, status, legal, sk_number, nomor_induk,
     member_count, changed)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
const CLOSE: &str =
    "UPDATE community_states SET valid_to = $3 WHERE community_id = $1 AND sequence = $2";
const HEAD: &str = "INSERT INTO community_state_heads (community_id, open_sequence, state)
    VALUES ($1, $2, $3)
    ON CONFLICT (community_id) DO UPDATE SET open_sequence = excluded.open_sequence,
                                             state = excluded.state";

fn head_of(open: i64, state: &str) -> Result<Head, ProjectionError> {
    Ok(Head {
        community: fold::load_state(state)?,
        open: Some(open),
    })
}

/// Writes `rows` one statement at a time (state changes are far fewer than events).
macro_rules! write_rows {
    ($tx:expr, $rows:expr, $sql:expr) => {{
        let rows = $rows;
        let (insert, close, head) = ($sql(INSERT), $sql(CLOSE), $sql(HEAD));
        for (id, sequence, valid_to) in &rows.closes {
            sqlx::query(&close)
                .bind(id)
                .bind(sequence)
                .bind(valid_to)
                .execute(&mut *$tx)
                .await?;
        }
        for row in &rows.rows {
            let [district, regency, province] = parents(&row.desa);
            sqlx::query(&insert)
                .bind(&row.community_id)
                .bind(row.sequence)
                .bind(row.position)
                .bind(&row.event_type)
                .bind(&row.valid_from)
                .bind(&row.valid_to)
                .bind(&row.shown.name)
                .bind(&row.desa)
                .bind(district)
                .bind(regency)
                .bind(province)
                .bind(&row.shown.stage)
                .bind(&row.shown.status)
                .bind(row.shown.legal)
                .bind(&row.shown.sk_number)
                .bind(&row.shown.nomor_induk)
                .bind(row.shown.member_count)
                .bind(&row.changed)
                .execute(&mut *$tx)
                .await?;
        }
        for (id, open, state) in &rows.heads {
            sqlx::query(&head)
                .bind(id)
                .bind(open)
                .bind(state)
                .execute(&mut *$tx)
                .await?;
        }
        Ok(())
    }};
}

fn same(sql: &str) -> String {
    sql.to_owned()
}

#[async_trait]
impl Storage<sqlx::PgConnection> for CommunityHistory {
    async fn load(
        &self,
        tx: &mut sqlx::PgConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        let sql = format!("{LOAD} WHERE community_id = ANY($1)");
        load_any(tx, &sql, ids, |row| {
            head_of(row.try_get("open_sequence")?, row.try_get("state")?)
        })
        .await
    }

    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        write_rows!(tx, rows, same)
    }
}

#[async_trait]
impl Storage<sqlx::SqliteConnection> for CommunityHistory {
    async fn load(
        &self,
        tx: &mut sqlx::SqliteConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        let sql = format!("{LOAD} WHERE community_id = ?1");
        load_each(tx, &sql, ids, |row| {
            head_of(row.try_get("open_sequence")?, row.try_get("state")?)
        })
        .await
    }

    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rows: Rows,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        write_rows!(tx, rows, sqlite_sql)
    }
}

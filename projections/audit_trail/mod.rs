//! `audit_trail`: every event flattened — who did what, when, why — with a one-line summary in
//! Bahasa Indonesia ("SK nomor 12/2025 diterbitkan oleh Lurah Pemping"). Officers appear by role,
//! never by name: the trail carries no personal data.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "audit_trail";

pub mod query;
mod summary;

use std::collections::HashMap;

use async_trait::async_trait;
use simpul_domain::events::CommunityEvent;
use simpul_domain::{RegionCode, RegionLevel};
use simpul_regions::Regions;
use simpul_store::StoredEvent;
use sqlx::Row as _;

use crate::fold;
use crate::runtime::{
    load_any, load_each, sqlite_sql, Budget, Entries, Loaded, ProjectionError, ReadModel,
    Remembered, Storage,
};

/// The `audit_trail` read model.
pub struct AuditTrail {
    regions: &'static Regions,
}

pub struct AuditRow {
    position: i64,
    recorded_at: String,
    community_id: String,
    sequence: i64,
    desa: String,
    regency: String,
    province: String,
    event_type: String,
    actor: String,
    role: String,
    request_id: String,
    reason: Option<String>,
    summary: String,
}

impl AuditTrail {
    /// The read model, naming regions from `regions`.
    pub fn new(regions: &'static Regions) -> Self {
        Self { regions }
    }

    /// Rows for a batch; `villages` holds what is known of each community's desa.
    fn rows(
        &self,
        events: &[StoredEvent],
        villages: &mut HashMap<String, Option<RegionCode>>,
    ) -> Result<Vec<AuditRow>, ProjectionError> {
        let mut rows = Vec::with_capacity(events.len());
        for stored in events {
            let event = fold::decode(stored)?;
            if let CommunityEvent::CommunityFormed(formed) = &event {
                villages.insert(stored.aggregate_id.clone(), Some(formed.village.clone()));
            }
            let village = villages.get(&stored.aggregate_id).cloned().flatten();
            let at = |level| {
                village
                    .as_ref()
                    .and_then(|v| v.ancestor_at(level))
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            };
            let meta = |key: &str| stored.metadata.get(key).cloned().unwrap_or_default();
            rows.push(AuditRow {
                position: i64::try_from(stored.position).unwrap_or(i64::MAX),
                recorded_at: meta("recorded_at"),
                community_id: stored.aggregate_id.clone(),
                sequence: i64::try_from(stored.sequence).unwrap_or(i64::MAX),
                desa: at(RegionLevel::Village),
                regency: at(RegionLevel::Regency),
                province: at(RegionLevel::Province),
                event_type: stored.event_type.clone(),
                actor: meta("actor_id"),
                role: meta("actor_role"),
                request_id: meta("request_id"),
                reason: stored.metadata.get("reason").cloned(),
                summary: summary::line(&event, self.regions),
            });
        }
        Ok(rows)
    }
}

macro_rules! bind_audit {
    ($query:expr, $row:expr) => {{
        let row = $row;
        $query
            .bind(row.position)
            .bind(&row.recorded_at)
            .bind(&row.community_id)
            .bind(row.sequence)
            .bind(&row.desa)
            .bind(&row.regency)
            .bind(&row.province)
            .bind(&row.event_type)
            .bind(&row.actor)
            .bind(&row.role)
            .bind(&row.request_id)
            .bind(&row.reason)
            .bind(&row.summary)
    }};
}

/// What the trail keeps between batches: each community's desa, and rows not written yet
/// (only while a rebuild defers its writes).
#[derive(Default)]
pub struct Pending {
    villages: Entries<Option<RegionCode>>,
    rows: Vec<AuditRow>,
}

impl Remembered<Option<RegionCode>> for Pending {
    fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String> {
        self.villages.missing(events, budget)
    }

    /// A community read back without a desa is remembered as such, so it is not asked again.
    fn loaded(&mut self, missing: Vec<String>, found: Vec<(String, Option<RegionCode>)>) {
        let villages = self.villages.map_mut();
        for id in missing {
            villages.insert(id, None);
        }
        villages.extend(found);
    }
}

impl Pending {
    fn must_write(&self, budget: Budget) -> bool {
        !budget.deferring || self.rows.len() > budget.capacity
    }

    /// The rows to write now; memory starts over when full.
    fn take(&mut self, budget: Budget) -> Vec<AuditRow> {
        self.villages.written(budget);
        std::mem::take(&mut self.rows)
    }
}

/// From this many rows (a rebuild's deferred writes), `COPY` instead of one `INSERT`.
const COPY_THRESHOLD: usize = 2_000;

/// Writes rows with `COPY … FROM STDIN` (PostgreSQL), into the table `search_path` names.
async fn copy_rows(tx: &mut sqlx::PgConnection, rows: &[AuditRow]) -> Result<(), ProjectionError> {
    let mut copy = simpul_store::CopyCsv::start(
        tx,
        "COPY audit_trail (position, recorded_at, community_id, sequence, desa_code, regency_code,
                           province_code, event_type, actor, role, request_id, reason, summary)
         FROM STDIN WITH (FORMAT csv)",
    )
    .await?;
    for row in rows {
        copy.number(row.position)
            .text(&row.recorded_at)
            .text(&row.community_id)
            .number(row.sequence)
            .text(&row.desa)
            .text(&row.regency)
            .text(&row.province)
            .text(&row.event_type)
            .text(&row.actor)
            .text(&row.role)
            .text(&row.request_id)
            .optional(row.reason.as_deref())
            .text(&row.summary);
        copy.end_row().await?;
    }
    copy.finish().await?;
    Ok(())
}

fn parse_village(code: Option<String>) -> Option<RegionCode> {
    code.and_then(|c| RegionCode::parse(&c).ok())
}

impl ReadModel for AuditTrail {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["audit_trail"];
    type State = Pending;
    type Loaded = Option<RegionCode>;
    type Rows = Vec<AuditRow>;

    fn fold(
        &self,
        pending: &mut Self::State,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut rows = self.rows(events, pending.villages.map_mut())?;
        pending.rows.append(&mut rows);
        Ok(())
    }

    fn take(
        &self,
        pending: &mut Self::State,
        budget: Budget,
    ) -> Result<Option<Self::Rows>, ProjectionError> {
        Ok(pending.must_write(budget).then(|| pending.take(budget)))
    }
}

#[async_trait]
impl Storage<sqlx::PgConnection> for AuditTrail {
    async fn load(
        &self,
        tx: &mut sqlx::PgConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str = "SELECT DISTINCT ON (community_id) community_id, desa_code
            FROM audit_trail WHERE community_id = ANY($1) AND desa_code <> ''
            ORDER BY community_id, position";
        load_any(tx, SQL, ids, |row| {
            Ok(parse_village(row.try_get("desa_code")?))
        })
        .await
    }

    /// Many rows (a rebuild's deferred writes, or its final write with no events of its own):
    /// `COPY`; otherwise one `INSERT` of column arrays.
    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: Vec<AuditRow>,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        if rows.is_empty() {
            return Ok(());
        }
        if rows.len() >= COPY_THRESHOLD || events.is_empty() {
            return copy_rows(tx, &rows).await;
        }
        macro_rules! column {
            ($f:expr) => {
                rows.iter().map($f).collect::<Vec<_>>()
            };
        }
        sqlx::query(include_str!("insert_many.sql"))
            .bind(column!(|r: &AuditRow| r.position))
            .bind(column!(|r: &AuditRow| r.recorded_at.clone()))
            .bind(column!(|r: &AuditRow| r.community_id.clone()))
            .bind(column!(|r: &AuditRow| r.sequence))
            .bind(column!(|r: &AuditRow| r.desa.clone()))
            .bind(column!(|r: &AuditRow| r.regency.clone()))
            .bind(column!(|r: &AuditRow| r.province.clone()))
            .bind(column!(|r: &AuditRow| r.event_type.clone()))
            .bind(column!(|r: &AuditRow| r.actor.clone()))
            .bind(column!(|r: &AuditRow| r.role.clone()))
            .bind(column!(|r: &AuditRow| r.request_id.clone()))
            .bind(column!(|r: &AuditRow| r.reason.clone()))
            .bind(column!(|r: &AuditRow| r.summary.clone()))
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Storage<sqlx::SqliteConnection> for AuditTrail {
    async fn load(
        &self,
        tx: &mut sqlx::SqliteConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str =
            "SELECT desa_code FROM audit_trail WHERE community_id = ?1 AND desa_code <> '' LIMIT 1";
        load_each(tx, SQL, ids, |row| {
            Ok(parse_village(row.try_get("desa_code")?))
        })
        .await
    }

    /// One prepared insert per row.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rows: Vec<AuditRow>,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let sql = sqlite_sql(include_str!("insert.sql"));
        for row in &rows {
            bind_audit!(sqlx::query(&sql), row)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

//! `community_summary`: one row per KIM — what is this KIM now?
//!
//! The row is derived from the domain's own folded `Community` state (kept in the `state`
//! column), so the read model cannot disagree with what the aggregate decides on.

/// The read model's name: its checkpoint, its lock and its scratch space are named by it.
pub const NAME: &str = "community_summary";

pub mod query;

use async_trait::async_trait;
use chrono::NaiveDate;
use simpul_domain::events::CommunityEvent;
use simpul_domain::{Community, OfficerRole, RegionLevel};
use simpul_regions::Regions;
use simpul_store::StoredEvent;
use sqlx::Row as _;

use crate::fold;
use crate::runtime::{
    load_any, load_each, sqlite_sql, Budget, Entries, Loaded, ProjectionError, ReadModel, Storage,
};

/// The `community_summary` read model.
pub struct CommunitySummary {
    regions: &'static Regions,
}

/// One KIM while a batch is folded.
pub struct Entry {
    community: Community,
    last_bimtek_on: Option<NaiveDate>,
    last_event_at: String,
    /// The formation date, then the `assessed_on` of the last stage change.
    stage_since: Option<NaiveDate>,
    /// The latest `held_on` of an activity or a bimtek.
    last_activity_on: Option<NaiveDate>,
}

/// The values of one row, in the order of `upsert.sql`.
pub struct SummaryRow {
    community_id: String,
    name: String,
    regions: [(String, String); 4],
    stage: &'static str,
    status: &'static str,
    legal: bool,
    sk_number: Option<String>,
    sk_date: Option<String>,
    nomor_induk: Option<String>,
    member_count: i64,
    active_officers: i64,
    bimtek_count: i64,
    last_bimtek_on: Option<String>,
    media_channels: i64,
    e_businesses: i64,
    formed_on: String,
    last_event_at: String,
    version: i64,
    state: String,
    stage_since: String,
    last_activity_on: Option<String>,
    vacant_posts: i64,
}

impl CommunitySummary {
    /// The read model, naming regions from `regions`.
    pub fn new(regions: &'static Regions) -> Self {
        Self { regions }
    }

    fn fold_batch(
        &self,
        entries: &mut Entries<Entry>,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        for stored in events {
            let event = fold::decode(stored)?;
            let entry = entries.change(&stored.aggregate_id, || Entry {
                community: Community::default(),
                last_bimtek_on: None,
                last_event_at: String::new(),
                stage_since: None,
                last_activity_on: None,
            });
            match &event {
                CommunityEvent::BimtekAttended(bimtek) => {
                    entry.last_bimtek_on = entry.last_bimtek_on.max(Some(bimtek.held_on));
                    entry.last_activity_on = entry.last_activity_on.max(Some(bimtek.held_on));
                }
                CommunityEvent::ActivityRecorded(activity) => {
                    entry.last_activity_on = entry.last_activity_on.max(Some(activity.held_on));
                }
                CommunityEvent::CommunityFormed(formed) => {
                    entry.stage_since = Some(formed.formed_on)
                }
                CommunityEvent::StageAdvanced(advanced) => {
                    entry.stage_since = Some(advanced.assessed_on);
                }
                CommunityEvent::StageLowered(lowered) => {
                    entry.stage_since = Some(lowered.assessed_on)
                }
                _ => {}
            }
            fold::apply(&mut entry.community, event);
            entry.last_event_at = stored
                .metadata
                .get("recorded_at")
                .cloned()
                .unwrap_or_default();
            if entry.community.version() != stored.sequence {
                return Err(ProjectionError::Event {
                    position: stored.position,
                    event: format!("{}#{}", stored.aggregate_id, stored.sequence),
                    error: format!(
                        "sequence {} does not follow version {} of the read model",
                        stored.sequence,
                        entry.community.version().saturating_sub(1)
                    ),
                });
            }
        }
        Ok(())
    }

    fn row(&self, id: &str, entry: &Entry) -> Option<Result<SummaryRow, ProjectionError>> {
        let community = &entry.community;
        let village = community.village()?;
        let formed_on = community.formed_on()?;
        let region = |level: RegionLevel| -> (String, String) {
            let code = village
                .ancestor_at(level)
                .unwrap_or_else(|| village.clone());
            let name = self.regions.display_name(&code).unwrap_or_default();
            (code.to_string(), name)
        };
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        Some(fold::save_state(community).map(|state| {
            SummaryRow {
                community_id: id.to_owned(),
                name: community
                    .name()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                regions: [
                    region(RegionLevel::Village),
                    region(RegionLevel::District),
                    region(RegionLevel::Regency),
                    region(RegionLevel::Province),
                ],
                stage: community.stage().as_str(),
                status: community.status().as_str(),
                legal: community.is_legal(),
                sk_number: community.active_sk().map(|(number, _)| number.to_string()),
                sk_date: community.active_sk().map(|(_, date)| date.to_string()),
                nomor_induk: community.registration_number().map(ToString::to_string),
                member_count: i64::from(community.member_count()),
                active_officers: count(community.active_officers().count()),
                bimtek_count: i64::from(community.bimtek_count()),
                last_bimtek_on: entry.last_bimtek_on.map(|d| d.to_string()),
                media_channels: count(community.active_media_channel_count()),
                e_businesses: count(community.active_e_business_count()),
                formed_on: formed_on.to_string(),
                last_event_at: entry.last_event_at.clone(),
                version: i64::try_from(community.version()).unwrap_or(i64::MAX),
                state,
                stage_since: entry.stage_since.unwrap_or(formed_on).to_string(),
                last_activity_on: entry.last_activity_on.map(|d| d.to_string()),
                vacant_posts: count(
                    OfficerRole::CORE
                        .iter()
                        .filter(|post| !community.active_officers().any(|(_, role)| role == **post))
                        .count(),
                ),
            }
        }))
    }
}

impl CommunitySummary {
    /// The rows of the entries changed since they were last written.
    fn changed_rows(&self, entries: &Entries<Entry>) -> Result<Vec<SummaryRow>, ProjectionError> {
        entries
            .changed()
            .filter_map(|(id, entry)| self.row(id, entry))
            .collect()
    }
}

fn loaded(
    state: &str,
    last_bimtek_on: Option<String>,
    last_event_at: String,
    stage_since: Option<String>,
    last_activity_on: Option<String>,
) -> Result<Entry, ProjectionError> {
    let date = |d: Option<String>| d.and_then(|d| d.parse().ok());
    Ok(Entry {
        community: fold::load_state(state)?,
        last_bimtek_on: date(last_bimtek_on),
        last_event_at,
        stage_since: date(stage_since),
        last_activity_on: date(last_activity_on),
    })
}

macro_rules! bind_row {
    ($query:expr, $row:expr) => {{
        let row = $row;
        let [desa, kecamatan, regency, province] = &row.regions;
        $query
            .bind(&row.community_id)
            .bind(&row.name)
            .bind(&desa.0)
            .bind(&desa.1)
            .bind(&kecamatan.0)
            .bind(&kecamatan.1)
            .bind(&regency.0)
            .bind(&regency.1)
            .bind(&province.0)
            .bind(&province.1)
            .bind(row.stage)
            .bind(row.status)
            .bind(row.legal)
            .bind(&row.sk_number)
            .bind(&row.sk_date)
            .bind(&row.nomor_induk)
            .bind(row.member_count)
            .bind(row.active_officers)
            .bind(row.bimtek_count)
            .bind(&row.last_bimtek_on)
            .bind(row.media_channels)
            .bind(row.e_businesses)
            .bind(&row.formed_on)
            .bind(&row.last_event_at)
            .bind(row.version)
            .bind(&row.state)
            .bind(&row.stage_since)
            .bind(&row.last_activity_on)
            .bind(row.vacant_posts)
    }};
}

impl ReadModel for CommunitySummary {
    const NAME: &'static str = NAME;
    const TABLES: &'static [&'static str] = &["community_summary"];
    type State = Entries<Entry>;
    type Loaded = Entry;
    type Rows = Vec<SummaryRow>;

    fn fold(
        &self,
        entries: &mut Self::State,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        self.fold_batch(entries, events)
    }

    fn take(
        &self,
        entries: &mut Self::State,
        budget: Budget,
    ) -> Result<Option<Self::Rows>, ProjectionError> {
        if !entries.must_write(budget) {
            return Ok(None);
        }
        let rows = self.changed_rows(entries)?;
        entries.written(budget);
        Ok(Some(rows))
    }
}

/// The columns an entry is read back from.
macro_rules! entry_of {
    ($row:expr) => {{
        let row = $row;
        loaded(
            &row.try_get::<String, _>("state")?,
            row.try_get("last_bimtek_on")?,
            row.try_get("last_event_at")?,
            row.try_get("stage_since")?,
            row.try_get("last_activity_on")?,
        )?
    }};
}

#[async_trait]
impl Storage<sqlx::PgConnection> for CommunitySummary {
    async fn load(
        &self,
        tx: &mut sqlx::PgConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str = "SELECT community_id, state, last_bimtek_on::text AS last_bimtek_on,
            last_event_at, stage_since::text AS stage_since,
            last_activity_on::text AS last_activity_on
            FROM community_summary WHERE community_id = ANY($1)";
        load_any(tx, SQL, ids, |row| Ok(entry_of!(row))).await
    }

    /// One multi-row upsert of column arrays.
    async fn write(
        &self,
        tx: &mut sqlx::PgConnection,
        rows: Vec<SummaryRow>,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        if rows.is_empty() {
            return Ok(());
        }
        macro_rules! column {
            ($f:expr) => {
                rows.iter().map($f).collect::<Vec<_>>()
            };
        }
        sqlx::query(include_str!("upsert_many.sql"))
            .bind(column!(|r: &SummaryRow| r.community_id.clone()))
            .bind(column!(|r: &SummaryRow| r.name.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[0].0.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[0].1.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[1].0.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[1].1.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[2].0.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[2].1.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[3].0.clone()))
            .bind(column!(|r: &SummaryRow| r.regions[3].1.clone()))
            .bind(column!(|r: &SummaryRow| r.stage.to_owned()))
            .bind(column!(|r: &SummaryRow| r.status.to_owned()))
            .bind(column!(|r: &SummaryRow| r.legal))
            .bind(column!(|r: &SummaryRow| r.sk_number.clone()))
            .bind(column!(|r: &SummaryRow| r.sk_date.clone()))
            .bind(column!(|r: &SummaryRow| r.nomor_induk.clone()))
            .bind(column!(|r: &SummaryRow| r.member_count))
            .bind(column!(|r: &SummaryRow| r.active_officers))
            .bind(column!(|r: &SummaryRow| r.bimtek_count))
            .bind(column!(|r: &SummaryRow| r.last_bimtek_on.clone()))
            .bind(column!(|r: &SummaryRow| r.media_channels))
            .bind(column!(|r: &SummaryRow| r.e_businesses))
            .bind(column!(|r: &SummaryRow| r.formed_on.clone()))
            .bind(column!(|r: &SummaryRow| r.last_event_at.clone()))
            .bind(column!(|r: &SummaryRow| r.version))
            .bind(column!(|r: &SummaryRow| r.state.clone()))
            .bind(column!(|r: &SummaryRow| r.stage_since.clone()))
            .bind(column!(|r: &SummaryRow| r.last_activity_on.clone()))
            .bind(column!(|r: &SummaryRow| r.vacant_posts))
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Storage<sqlx::SqliteConnection> for CommunitySummary {
    async fn load(
        &self,
        tx: &mut sqlx::SqliteConnection,
        ids: &[String],
    ) -> Result<Loaded<Self>, ProjectionError> {
        const SQL: &str = "SELECT state, last_bimtek_on, last_event_at, stage_since,
            last_activity_on FROM community_summary WHERE community_id = ?1";
        load_each(tx, SQL, ids, |row| Ok(entry_of!(row))).await
    }

    /// One prepared upsert per row.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rows: Vec<SummaryRow>,
        _events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let sql = sqlite_sql(include_str!("upsert.sql"));
        for row in &rows {
            bind_row!(sqlx::query(&sql), row).execute(&mut *tx).await?;
        }
        Ok(())
    }
}

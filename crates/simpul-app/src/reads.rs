//! The read path every principal's read takes, whoever asks (the HTTP API, the CLI, the web
//! pages): typed filters in, the scope decided once ([`Principal::read_scope`] or
//! [`Principal::authorize_community`]), the read model's query run, typed rows out — or the
//! documented refusal ([`ReadError`]). The callers parse text at their edge and format what comes
//! back; none of them decides who may see what.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike as _, NaiveDate, SecondsFormat, Utc};
use cqrs_es::Aggregate as _;
use serde::Serialize;
use simpul_domain::{Community, CommunityEvent, CommunityStatus, RegionCode, RegionLevel, Stage};
use simpul_projections::audit_trail::query::{self as audit, AuditFilter, AuditRow};
use simpul_projections::community_history::query as history;
use simpul_projections::community_summary::query::{self as summary, ListFilter, SummaryRow};
use simpul_projections::exports::communities::{Cell, CommunityPages};
use simpul_projections::exports::events::EventPages;
use simpul_projections::exports::{push_csv_record, ExportError};
use simpul_projections::stage_dashboard::query as dashboard;
use simpul_projections::stage_transitions::query::{self as transitions, TransitionStats};
use simpul_projections::{ProjectionError, ProjectionStatus, READ_MODELS};
use simpul_regions::Regions;
use simpul_store::{EventStore, StoreError, StoredEvent};
use uuid::Uuid;

use crate::auth::{Action, AuthError, Principal, Scope, WithoutRegion};
use crate::executor::CommandExecutor;

mod analytics;
mod as_of;
mod ledger;
pub mod progression;
pub use analytics::AnalyticsEvents;
pub use as_of::{AsOf, AsOfStamp, ChangesQuery};
pub use ledger::{ConsistencyProof, InclusionProof, Tree, MAX_CHECKPOINTS};

/// The largest page a list read returns.
pub const MAX_PAGE: u32 = 500;

/// Why a read was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Missing or out of scope (404), or refused inside the scope (403).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A filter the read cannot take (400), naming the field.
    #[error("{field}: {detail}")]
    Invalid {
        /// The filter.
        field: &'static str,
        /// What it must be.
        detail: String,
    },
    /// The read models did not reach the position asked for in time (503).
    #[error("the read models have not reached position {0} yet")]
    NotReached(u64),
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A read model's storage failed.
    #[error("read model: {0}")]
    ReadModel(String),
}

impl ReadError {
    fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        ReadError::Invalid {
            field,
            detail: detail.into(),
        }
    }
}

impl From<ProjectionError> for ReadError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::Store(store) => ReadError::Store(store),
            other => ReadError::ReadModel(other.to_string()),
        }
    }
}

impl From<crate::AppError> for ReadError {
    /// Reading a KIM's state through the executor: a store outage stays one (503).
    fn from(error: crate::AppError) -> Self {
        match error {
            crate::AppError::Store(store) => ReadError::Store(store),
            other => ReadError::ReadModel(other.to_string()),
        }
    }
}

impl From<ExportError> for ReadError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::Projection(error) => error.into(),
            ExportError::Store(error) => ReadError::Store(error),
            too_many @ ExportError::TooManyRows { .. } => {
                ReadError::invalid("region", too_many.to_string())
            }
            other => ReadError::ReadModel(other.to_string()),
        }
    }
}

/// A page of a keyset-paginated list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T, C> {
    /// The rows.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<C>,
}

impl<T, C> Page<T, C> {
    /// A page of at most `limit` of `rows` (read with one more than `limit`, so that a next page
    /// is known to exist), its cursor taken from the last row kept.
    fn of(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Self {
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(cursor)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// Filters of the community list; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct CommunityQuery {
    /// A region inside the token's scope (default: the scope).
    pub region: Option<RegionCode>,
    /// Only KIM at this stage.
    pub stage: Option<Stage>,
    /// Only KIM with this status.
    pub status: Option<CommunityStatus>,
    /// SK and nomor induk (`true`) or not yet (`false`).
    pub legal: Option<bool>,
    /// Part of the name, or an exact nomor induk (blank: any).
    pub q: Option<String>,
    /// The last community id of the previous page.
    pub after: Option<String>,
    /// Page size, 1–[`MAX_PAGE`].
    pub limit: u32,
    /// The filters that find the KIM needing attention.
    pub attention: Attention,
}

/// The list's filters for the KIM that need attention; `None` means "any". Months count back from
/// today; the dates they are compared with are the events' own (`stage_since`,
/// `last_activity_on`).
#[derive(Clone, Debug, Default)]
pub struct Attention {
    /// Without an active SK (`true`) or with one (`false`).
    pub missing_sk: Option<bool>,
    /// Without a nomor induk (`true`) or with one (`false`).
    pub missing_nomor_induk: Option<bool>,
    /// Never at a bimtek (`true`) or at one at least (`false`).
    pub no_bimtek: Option<bool>,
    /// In the same stage for more than this many months (KIM 4 is never stalled).
    pub stalled_months: Option<u32>,
    /// No activity or bimtek held for more than this many months (counted from the formation for
    /// a KIM with none yet).
    pub no_activity_months: Option<u32>,
    /// A core post (ketua, sekretaris, bendahara) vacant (`true`) or all filled (`false`).
    pub vacant_post: Option<bool>,
}

/// The longest look-back of `stalled_months` and `no_activity_months` (ten years).
pub const MAX_MONTHS: u32 = 120;

impl Attention {
    /// The first filter given, by its parameter name.
    pub fn first_given(&self) -> Option<&'static str> {
        [
            ("missing_sk", self.missing_sk.is_some()),
            ("missing_nomor_induk", self.missing_nomor_induk.is_some()),
            ("no_bimtek", self.no_bimtek.is_some()),
            ("stalled_months", self.stalled_months.is_some()),
            ("no_activity_months", self.no_activity_months.is_some()),
            ("vacant_post", self.vacant_post.is_some()),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name))
    }
}

/// The date `months` before `today`, as `YYYY-MM-DD`; a 400 naming `field` outside 1–[`MAX_MONTHS`].
fn months_before(
    field: &'static str,
    months: Option<u32>,
    today: NaiveDate,
) -> Result<Option<String>, ReadError> {
    let Some(months) = months else {
        return Ok(None);
    };
    if !(1..=MAX_MONTHS).contains(&months) {
        return Err(ReadError::invalid(
            field,
            format!("must be 1–{MAX_MONTHS} months"),
        ));
    }
    today
        .checked_sub_months(chrono::Months::new(months))
        .map(|date| Some(date.to_string()))
        .ok_or_else(|| ReadError::invalid(field, "reaches before the calendar's start"))
}

/// Filters of the audit trail; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// One KIM (it must be in scope: 404 otherwise, as its history).
    pub community: Option<Uuid>,
    /// One actor (`token:<id>`).
    pub actor: Option<String>,
    /// A region inside the token's scope (default: the scope).
    pub region: Option<RegionCode>,
    /// One event type, one of `CommunityEvent::NAMES`.
    pub event_type: Option<&'static str>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub to: Option<DateTime<Utc>>,
    /// The position the previous page ended at.
    pub after: u64,
    /// Page size, 1–[`MAX_PAGE`].
    pub limit: u32,
}

/// Filters of the stage-transition analytics.
#[derive(Clone, Debug, Default)]
pub struct TransitionQuery {
    /// A region inside the token's scope (default: the scope).
    pub region: Option<RegionCode>,
    /// Transitions assessed on or after.
    pub from: Option<NaiveDate>,
    /// Transitions assessed before.
    pub to: Option<NaiveDate>,
}

/// Totals of one region.
#[derive(Debug, Default, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    /// Region code (`null` for the whole country).
    pub code: Option<String>,
    /// Region name with its kind.
    pub name: String,
    /// Every KIM.
    pub total: i64,
    /// By stage (`kim1` … `kim4`).
    pub by_stage: BTreeMap<String, i64>,
    /// By status.
    pub by_status: BTreeMap<String, i64>,
    /// `legal` / `not_legal`.
    pub by_legal: BTreeMap<String, i64>,
}

impl Totals {
    /// Zero totals of a region, every stage, status and legal key present.
    fn zero(code: Option<String>, name: String) -> Self {
        let zeros = |keys: &[&str]| keys.iter().map(|k| ((*k).to_owned(), 0)).collect();
        let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        let statuses: Vec<&str> = CommunityStatus::ALL.iter().map(|s| s.as_str()).collect();
        Totals {
            code,
            name,
            total: 0,
            by_stage: zeros(&stages),
            by_status: zeros(&statuses),
            by_legal: zeros(&["legal", "not_legal"]),
        }
    }

    fn add(&mut self, other: &Totals) {
        self.total += other.total;
        for (map, other) in [
            (&mut self.by_stage, &other.by_stage),
            (&mut self.by_status, &other.by_status),
            (&mut self.by_legal, &other.by_legal),
        ] {
            for (key, value) in other {
                *map.entry(key.clone()).or_default() += value;
            }
        }
    }
}

/// The dashboard of a region and its children one level down.
#[derive(Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StageDashboard {
    /// The region's totals.
    pub region: Totals,
    /// Each child region's totals (zero rows included), by code.
    pub children: Vec<Totals>,
}

impl StageDashboard {
    /// The dashboard as CSV (Indonesian column names), written by the exports' own
    /// [`push_csv_record`]: region names are text, guarded like every text cell.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        push_csv_record(
            &mut out,
            &[
                "kode_wilayah",
                "wilayah",
                "total",
                "kim1",
                "kim2",
                "kim3",
                "kim4",
                "aktif",
                "dibekukan",
                "dibubarkan",
                "legal",
                "belum_legal",
            ]
            .map(Cell::Text),
        );
        for totals in std::iter::once(&self.region).chain(&self.children) {
            let get = |map: &BTreeMap<String, i64>, key: &str| {
                Cell::Integer(map.get(key).copied().unwrap_or(0))
            };
            push_csv_record(
                &mut out,
                &[
                    totals.code.as_deref().map_or(Cell::Empty, Cell::Text),
                    Cell::Text(&totals.name),
                    Cell::Integer(totals.total),
                    get(&totals.by_stage, "kim1"),
                    get(&totals.by_stage, "kim2"),
                    get(&totals.by_stage, "kim3"),
                    get(&totals.by_stage, "kim4"),
                    get(&totals.by_status, "active"),
                    get(&totals.by_status, "suspended"),
                    get(&totals.by_status, "dissolved"),
                    get(&totals.by_legal, "legal"),
                    get(&totals.by_legal, "not_legal"),
                ],
            );
        }
        out
    }
}

/// One KIM as read for a principal: its stream, each event decoded, and the state they fold to.
#[derive(Debug)]
pub struct CommunityRead {
    /// The stored events, oldest first.
    pub events: Vec<StoredEvent>,
    /// The same events, decoded.
    pub decoded: Vec<CommunityEvent>,
    /// The state they fold to.
    pub community: Community,
}

/// Every read a principal makes, scoped.
#[derive(Clone)]
pub struct Reads {
    executor: Arc<CommandExecutor>,
    regions: &'static Regions,
    /// Read-your-writes: the position every read model must have applied before a read over
    /// them runs, and how long to wait for it.
    wait: Option<(u64, Duration)>,
    /// The bimtek effects computed since the read model last moved (see
    /// `progression::EffectCache`).
    effects: progression::EffectCache,
}

impl Reads {
    /// Reads over the executor's store (its cache answers a KIM's current state).
    pub fn new(executor: Arc<CommandExecutor>, regions: &'static Regions) -> Self {
        Self {
            executor,
            regions,
            wait: None,
            effects: progression::EffectCache::default(),
        }
    }

    /// The same reads, each of which — once authorised — first waits (at most `within`) until
    /// every read model has applied the event at `position`, as a write answered it
    /// (read-your-writes). `None` or 0 waits for nothing. A position past the log's end was
    /// never answered by a write, so waiting cannot help: [`ReadError::Invalid`] at once;
    /// still not reached after `within`: [`ReadError::NotReached`].
    pub fn waiting_for(&self, position: Option<u64>, within: Duration) -> Reads {
        Reads {
            wait: position.filter(|p| *p > 0).map(|p| (p, within)),
            ..self.clone()
        }
    }

    fn store(&self) -> &EventStore {
        self.executor.store()
    }

    /// A KIM's events, read once, decoded and folded, if the principal may do `action` on it
    /// (404 when missing or outside the scope): the state that is authorised is the state that
    /// is shown.
    pub async fn community(
        &self,
        principal: &Principal,
        action: Action,
        id: &str,
    ) -> Result<CommunityRead, ReadError> {
        let id = known_id(id)?;
        let events = self.store().stream(&id).await?;
        let mut decoded = Vec::with_capacity(events.len());
        let mut community = Community::default();
        for event in &events {
            let parsed: CommunityEvent =
                serde_json::from_value(event.payload.clone()).map_err(|e| {
                    ReadError::ReadModel(format!("event {} does not read: {e}", event.position))
                })?;
            community.apply(parsed.clone());
            decoded.push(parsed);
        }
        principal.authorize_community(action, &id, community.village())?;
        Ok(CommunityRead {
            events,
            decoded,
            community,
        })
    }

    /// A page of the KIM in scope, oldest first.
    pub async fn communities(
        &self,
        principal: &Principal,
        query: CommunityQuery,
    ) -> Result<Page<SummaryRow, String>, ReadError> {
        let limit = page_size(query.limit)?;
        let today = Utc::now().date_naive();
        let attention = &query.attention;
        let mut filter = ListFilter {
            stage: query.stage,
            status: query.status,
            legal: query.legal,
            q: query.q.filter(|q| !q.trim().is_empty()),
            after: query.after,
            limit: limit + 1,
            missing_sk: attention.missing_sk,
            missing_nomor_induk: attention.missing_nomor_induk,
            no_bimtek: attention.no_bimtek,
            stalled_before: months_before("stalled_months", attention.stalled_months, today)?,
            inactive_before: months_before(
                "no_activity_months",
                attention.no_activity_months,
                today,
            )?,
            vacant_post: attention.vacant_post,
            ..ListFilter::default()
        };
        (filter.region, filter.community) = list_scope(principal, query.region.as_ref())?;
        self.settle().await?;
        let rows = summary::list(self.store().database(), &filter).await?;
        Ok(Page::of(rows, limit, |row| row.community_id.clone()))
    }

    /// Counts by stage, status and legal of `region` (`None`: the country, national scopes
    /// only) and of each child region one level down, zero rows included. A desa has none.
    pub async fn dashboard(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
    ) -> Result<StageDashboard, ReadError> {
        self.dashboard_at(principal, region, None).await
    }

    /// [`Reads::dashboard`] as it stood at `at` (from `community_history`'s states valid then),
    /// or now when `at` is `None`.
    pub async fn dashboard_at(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
        at: Option<DateTime<Utc>>,
    ) -> Result<StageDashboard, ReadError> {
        principal.read_scope(Action::ReadAnalytics, region, WithoutRegion::Country)?;
        let children: Vec<(String, String)> = match region {
            Some(region) if region.level() == RegionLevel::Village => {
                return Err(ReadError::invalid(
                    "region",
                    "a desa has no dashboard; ask for its kecamatan",
                ))
            }
            Some(region) if region.level() == RegionLevel::District => Vec::new(),
            Some(region) => self
                .regions
                .children(region)
                .into_iter()
                .map(|r| (r.code.to_string(), r.display_name()))
                .collect(),
            None => self
                .regions
                .provinces()
                .into_iter()
                .map(|r| (r.code.to_string(), r.display_name()))
                .collect(),
        };
        self.settle().await?;
        let mut codes: Vec<String> = children.iter().map(|(code, _)| code.clone()).collect();
        codes.extend(region.map(ToString::to_string));
        let cells = match at {
            None => dashboard::cells(self.store().database(), &codes).await?,
            Some(at) => {
                history::cells_at(
                    self.store().database(),
                    region.map(RegionCode::as_str),
                    &as_of::stamp(at),
                )
                .await?
            }
        };
        let totals_of = |code: &str, name: String| {
            let mut totals = Totals::zero(Some(code.to_owned()), name);
            for cell in cells.iter().filter(|c| c.region_code == code) {
                totals.total += cell.count;
                *totals.by_stage.entry(cell.stage.clone()).or_default() += cell.count;
                *totals.by_status.entry(cell.status.clone()).or_default() += cell.count;
                let legal = if cell.legal { "legal" } else { "not_legal" };
                *totals.by_legal.entry(legal.to_owned()).or_default() += cell.count;
            }
            totals
        };
        let children: Vec<Totals> = children
            .into_iter()
            .map(|(code, name)| totals_of(&code, name))
            .collect();
        let region = match region {
            // As of a date, a province's or kabupaten's own totals are its children's sum (one
            // scan of the states valid then, not two).
            Some(region) if at.is_some() && region.level() != RegionLevel::District => {
                let mut totals = Totals::zero(
                    Some(region.to_string()),
                    self.regions.display_name(region).unwrap_or_default(),
                );
                children.iter().for_each(|child| totals.add(child));
                totals
            }
            Some(region) => totals_of(
                region.as_str(),
                self.regions.display_name(region).unwrap_or_default(),
            ),
            None => {
                let mut national = Totals {
                    name: "Indonesia".to_owned(),
                    ..Totals::default()
                };
                children.iter().for_each(|child| national.add(child));
                national
            }
        };
        Ok(StageDashboard { region, children })
    }

    /// KIM formed and stage changes per month in the region (default: the token's scope), for
    /// the `months` months up to and including the current one (by the events' own dates).
    pub async fn monthly(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
        months: u32,
    ) -> Result<Vec<simpul_projections::monthly::Month>, ReadError> {
        let region = principal
            .read_scope(Action::ReadAnalytics, region, WithoutRegion::OwnScope)?
            .regions_only()?
            .map(|region| region.to_string())
            .unwrap_or_default();
        let today = Utc::now().date_naive();
        let first = today
            .with_day(1)
            .and_then(|start| {
                start.checked_sub_months(chrono::Months::new(months.saturating_sub(1)))
            })
            .ok_or_else(|| ReadError::invalid("months", "reaches before the calendar's start"))?;
        let names: Vec<String> = (0..months)
            .filter_map(|n| first.checked_add_months(chrono::Months::new(n)))
            .map(|month| month.format("%Y-%m").to_string())
            .collect();
        self.settle().await?;
        Ok(simpul_projections::monthly::monthly(self.store().database(), &region, &names).await?)
    }

    /// A page of the audit trail in scope, in position order (admin, auditor).
    pub async fn audit(
        &self,
        principal: &Principal,
        query: AuditQuery,
    ) -> Result<Page<AuditRow, u64>, ReadError> {
        let limit = page_size(query.limit)?;
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut filter = AuditFilter {
            community: query.community.map(|id| id.to_string()),
            actor: query.actor,
            event_type: query.event_type.map(str::to_owned),
            from: query.from.map(time),
            to: query.to.map(time),
            after: query.after,
            limit: limit + 1,
            ..AuditFilter::default()
        };
        if let Some(community) = query.community {
            // Only its desa matters here: the executor's cached state, not a read of the stream.
            let id = community.to_string();
            let (state, _) = self.executor.current_state(&id).await?;
            principal.authorize_community(Action::ReadHistory, &id, state.village())?;
        }
        match principal.read_scope(
            Action::ReadHistory,
            query.region.as_ref(),
            WithoutRegion::OwnScope,
        )? {
            Scope::National => {}
            Scope::Region(region) => filter.region = Some(region.to_string()),
            Scope::Community(id) => filter.community = Some(id.to_string()),
        }
        self.settle().await?;
        let rows = audit::list(self.store().database(), &filter).await?;
        Ok(Page::of(rows, limit, |row| {
            u64::try_from(row.position).unwrap_or(0)
        }))
    }

    /// Stage-transition statistics of the regions in scope (a one-KIM scope is refused).
    pub async fn stage_transitions(
        &self,
        principal: &Principal,
        query: TransitionQuery,
    ) -> Result<Vec<TransitionStats>, ReadError> {
        let region = principal
            .read_scope(
                Action::ReadAnalytics,
                query.region.as_ref(),
                WithoutRegion::OwnScope,
            )?
            .regions_only()?
            .map(|region| region.to_string())
            .unwrap_or_default();
        self.settle().await?;
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        Ok(transitions::stats(
            self.store().database(),
            &region,
            &date(query.from),
            &date(query.to),
        )
        .await?)
    }

    /// The latest signed checkpoint of the ledger, as its note (admin, auditor); `None` before
    /// the first is cut.
    pub async fn ledger_checkpoint(
        &self,
        principal: &Principal,
    ) -> Result<Option<String>, ReadError> {
        permitted(principal, Action::ReadLedger)?;
        self.settle().await?;
        Ok(
            simpul_projections::ledger::query::latest_checkpoint(self.store().database())
                .await?
                .map(|checkpoint| checkpoint.note),
        )
    }

    /// Every read model's position, lag, state and last error (admin, auditor).
    pub async fn projections(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ProjectionStatus>, ReadError> {
        permitted(principal, Action::ReadStatus)?;
        Ok(simpul_projections::status(self.store(), &READ_MODELS).await?)
    }

    /// Waits as [`Reads::waiting_for`] asked.
    async fn settle(&self) -> Result<(), ReadError> {
        let Some((position, within)) = self.wait else {
            return Ok(());
        };
        let head = self.store().head().await?;
        if position > head {
            return Err(ReadError::invalid(
                "min_position",
                format!("no write has reached this position; the log ends at {head}"),
            ));
        }
        let deadline = Instant::now() + within;
        loop {
            let mut reached = true;
            for name in READ_MODELS {
                reached &= simpul_projections::has_reached(self.store(), name, position).await?;
            }
            if reached {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ReadError::NotReached(position));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The KIM in scope, page by page from `community_summary`, for the communities export;
    /// with the region the file is named after.
    pub fn community_export(
        &self,
        principal: &Principal,
        region: Option<&RegionCode>,
    ) -> Result<(CommunityPages, Option<String>), ReadError> {
        let (region, community) =
            match principal.read_scope(Action::ReadCommunity, region, WithoutRegion::OwnScope)? {
                Scope::National => (None, None),
                Scope::Region(region) => (Some(region.to_string()), None),
                Scope::Community(id) => (None, Some(id.to_string())),
            };
        let pages = CommunityPages::new(self.store().database().clone(), region.clone(), community);
        Ok((pages, region))
    }

    /// The events of the KIM in scope after `after`, in feed order, for the events export (the
    /// roles that read histories).
    pub fn event_export(
        &self,
        principal: &Principal,
        after: u64,
    ) -> Result<ScopedEvents, ReadError> {
        let scope = principal.read_scope(Action::ReadHistory, None, WithoutRegion::OwnScope)?;
        Ok(ScopedEvents {
            pages: EventPages::new(self.store().clone(), after),
            executor: self.executor.clone(),
            scope,
            villages: HashMap::new(),
        })
    }
}

/// The event feed filtered to a principal's scope, batch by batch.
pub struct ScopedEvents {
    pages: EventPages,
    executor: Arc<CommandExecutor>,
    scope: Scope,
    /// Community id → within the scope (regional scopes only).
    villages: HashMap<String, bool>,
}

impl ScopedEvents {
    /// The in-scope events of the next batch of at most `max` read (possibly none of them in
    /// scope), or `None` at the end of the feed. A national scope reads at most `max`; a regional
    /// one reads a full batch and filters it.
    pub async fn next_batch(&mut self, max: u64) -> Result<Option<Vec<StoredEvent>>, ReadError> {
        let read = match self.scope {
            Scope::National => max,
            _ => u64::from(simpul_projections::exports::events::BATCH_SIZE),
        };
        let Some(batch) = self.pages.next_batch(read).await? else {
            return Ok(None);
        };
        let mut kept = Vec::with_capacity(batch.len());
        for event in batch {
            if self.in_scope(&event).await? {
                kept.push(event);
            }
        }
        Ok(Some(kept))
    }

    /// Is the event's community within the scope? Its desa comes from its `CommunityFormed`, or
    /// from its current state when the export starts later in the feed.
    async fn in_scope(&mut self, event: &StoredEvent) -> Result<bool, ReadError> {
        if self.scope == Scope::National {
            return Ok(true);
        }
        let id = &event.aggregate_id;
        if let Some(known) = self.villages.get(id) {
            return Ok(*known);
        }
        let formed = event
            .payload
            .get("CommunityFormed")
            .and_then(|formed| formed.get("village"))
            .and_then(|village| village.as_str())
            .and_then(|village| RegionCode::parse(village).ok());
        let village = match formed {
            Some(village) => Some(village),
            None => {
                let (community, _) = self.executor.current_state(id).await?;
                community.village().cloned()
            }
        };
        let covered = village.is_some_and(|village| self.scope.covers_community(id, &village));
        self.villages.insert(id.clone(), covered);
        Ok(covered)
    }
}

/// Every community id is a UUID: anything else names no KIM (404), and never reaches the store,
/// where a NUL byte would be a database error rather than a 404.
pub fn known_id(id: &str) -> Result<String, ReadError> {
    match Uuid::parse_str(id) {
        Ok(_) => Ok(id.to_owned()),
        Err(_) => Err(ReadError::Auth(AuthError::NotFound)),
    }
}

/// A read that is not over regions: only the role decides.
fn permitted(principal: &Principal, action: Action) -> Result<(), ReadError> {
    if principal.can(action) {
        return Ok(());
    }
    Err(ReadError::Auth(AuthError::Forbidden {
        reason: format!("role `{}` may not {}", principal.role, action.describe()),
    }))
}

/// What a list of KIM covers for `principal` (`requested`, or its own scope): a region code or
/// one KIM's id, as the list filters take them (both `None`: the whole country).
fn list_scope(
    principal: &Principal,
    requested: Option<&RegionCode>,
) -> Result<(Option<String>, Option<String>), ReadError> {
    Ok(
        match principal.read_scope(Action::ReadCommunity, requested, WithoutRegion::OwnScope)? {
            Scope::National => (None, None),
            Scope::Region(region) => (Some(region.to_string()), None),
            Scope::Community(id) => (None, Some(id.to_string())),
        },
    )
}

fn page_size(limit: u32) -> Result<u32, ReadError> {
    match limit {
        1..=MAX_PAGE => Ok(limit),
        _ => Err(ReadError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

//! One KIM "as of" a past moment (`docs/ledger.md`, "As of"): its events up to a time (what the
//! registry had recorded by then) or up to a ledger index, folded again — the state an auditor
//! would have read then, stamped with the ledger index it is as of.

use chrono::{DateTime, SecondsFormat, Utc};
use cqrs_es::Aggregate as _;
use simpul_domain::Community;
use simpul_projections::community_history::query::{self as history, AtFilter, Change, StateAt};

use super::{list_scope, page_size, CommunityQuery, CommunityRead, Page, ReadError, Reads};
use crate::auth::{Action, AuthError, Principal, Scope, WithoutRegion};

/// A time as `community_history` stores it (RFC 3339, UTC, microseconds), so that text order is
/// time order.
pub(super) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Filters of `GET /audit/changes`.
#[derive(Clone, Debug)]
pub struct ChangesQuery {
    /// A region inside the token's scope (default: the scope).
    pub region: Option<simpul_domain::RegionCode>,
    /// From this time (inclusive).
    pub from: DateTime<Utc>,
    /// To this time (exclusive).
    pub to: DateTime<Utc>,
    /// The (community, sequence) the previous page ended at.
    pub after: Option<(String, i64)>,
    /// Page size, 1–[`super::MAX_PAGE`].
    pub limit: u32,
}

/// The past moment asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    /// Everything recorded at or before this time (each event's `recorded_at`).
    Time(DateTime<Utc>),
    /// Everything up to and including this ledger index.
    Index(u64),
}

impl AsOf {
    /// Reads a date (`2024-12-31`: to the end of that day, UTC) or an RFC 3339 time.
    pub fn time(text: &str) -> Result<DateTime<Utc>, String> {
        let text = text.trim();
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(time.with_timezone(&Utc));
        }
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|date| date.succ_opt())
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map(|midnight| midnight.and_utc() - chrono::Duration::microseconds(1))
            .ok_or_else(|| "a date (2024-12-31) or an RFC 3339 time".to_owned())
    }
}

/// What a read "as of" is as of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsOfStamp {
    /// The ledger index of the last event included (`None` when the ledger has not reached it).
    pub ledger_index: Option<u64>,
    /// When the last event included was recorded.
    pub recorded_at: Option<String>,
}

impl Reads {
    /// The KIM in scope as they stood at `at` (from `community_history`), by id; the list's
    /// region, stage, status and legal filters apply (its `q` does not: 400).
    pub async fn communities_at(
        &self,
        principal: &Principal,
        query: CommunityQuery,
        at: DateTime<Utc>,
    ) -> Result<Page<StateAt, String>, ReadError> {
        let limit = page_size(query.limit)?;
        if query.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
            return Err(ReadError::invalid(
                "q",
                "a name search is not available as of a date",
            ));
        }
        if let Some(field) = query.attention.first_given() {
            return Err(ReadError::invalid(
                field,
                "the attention filters are not available as of a date",
            ));
        }
        let mut filter = AtFilter {
            stage: query.stage.map(|stage| stage.as_str().to_owned()),
            status: query.status.map(|status| status.as_str().to_owned()),
            legal: query.legal,
            after: query.after.unwrap_or_default(),
            limit: limit + 1,
            ..AtFilter::default()
        };
        (filter.region, filter.community) = list_scope(principal, query.region.as_ref())?;
        self.settle().await?;
        let rows = history::list_at(self.store().database(), &filter, &stamp(at)).await?;
        Ok(Page::of(rows, limit, |row| row.community_id.clone()))
    }

    /// The KIM in scope whose stage, status or legal standing changed (or that were formed)
    /// between two times, each change with the event that made it (admin, auditor).
    pub async fn changes(
        &self,
        principal: &Principal,
        query: ChangesQuery,
    ) -> Result<Page<Change, (String, i64)>, ReadError> {
        let limit = page_size(query.limit)?;
        if query.from >= query.to {
            return Err(ReadError::invalid("from", "must be before `to`"));
        }
        let region = match principal.read_scope(
            Action::ReadHistory,
            query.region.as_ref(),
            WithoutRegion::OwnScope,
        )? {
            Scope::National => None,
            Scope::Region(region) => Some(region.to_string()),
            Scope::Community(_) => {
                return Err(ReadError::invalid(
                    "region",
                    "changes are listed for a region; read one KIM's history instead",
                ))
            }
        };
        self.settle().await?;
        let after = query.after.unwrap_or_default();
        let rows = history::changes(
            self.store().database(),
            region.as_deref(),
            &stamp(query.from),
            &stamp(query.to),
            (&after.0, after.1),
            limit + 1,
        )
        .await?;
        Ok(Page::of(rows, limit, |row| {
            (row.community_id.clone(), row.sequence)
        }))
    }

    /// A KIM's events and state as of `as_of`; 404 when it had no event by then (or is outside
    /// the principal's scope).
    pub async fn community_as_of(
        &self,
        principal: &Principal,
        action: Action,
        id: &str,
        as_of: AsOf,
    ) -> Result<(CommunityRead, AsOfStamp), ReadError> {
        let read = self.community(principal, action, id).await?;
        let indexes = self.ledger_indexes(&read.events).await?;
        // Sequence order is recording order and ledger order for one KIM: a prefix is kept.
        let kept = read
            .events
            .iter()
            .take_while(|event| match as_of {
                AsOf::Time(time) => event
                    .metadata
                    .get("recorded_at")
                    .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                    .is_some_and(|at| at <= time),
                AsOf::Index(last) => indexes
                    .get(&event.position)
                    .is_some_and(|index| *index <= last),
            })
            .count();
        if kept == 0 {
            return Err(AuthError::NotFound.into());
        }
        let mut events = read.events;
        let mut decoded = read.decoded;
        events.truncate(kept);
        decoded.truncate(kept);
        let mut community = Community::default();
        for event in &decoded {
            community.apply(event.clone());
        }
        let last = events.last();
        let stamp = AsOfStamp {
            ledger_index: last.and_then(|event| indexes.get(&event.position).copied()),
            recorded_at: last.and_then(|event| event.metadata.get("recorded_at").cloned()),
        };
        Ok((
            CommunityRead {
                events,
                decoded,
                community,
            },
            stamp,
        ))
    }
}

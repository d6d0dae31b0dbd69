//! One KIM "as of" a past moment (`docs/ledger.md`, "As of"): its events up to a time (what the
//! registry had recorded by then) or up to a ledger index, folded again — the state an auditor
//! would have read then, stamped with the ledger index it is as of.

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use simpul_domain::Community;

use super::{CommunityRead, ReadError, Reads};
use crate::auth::{Action, AuthError, Principal};

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

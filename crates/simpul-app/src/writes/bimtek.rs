//! One bimtek session for many KIM at once (`POST /bimtek-sessions`): a province or
//! kabupaten/kota Dinas records the session once, and every KIM that attended gets its own
//! `BimtekAttended`, all sharing one `session_id`.
//!
//! All or nothing. Every KIM is authorised as the single-KIM route authorises it
//! ([`Action::RecordBimtek`], the KIM inside the token's scope — missing and outside are alike
//! "not found") and its `RecordBimtek` decided by [`Community::decide`] on its current state;
//! when any KIM fails, the answer lists every failing one and nothing is written. Otherwise the
//! events go in one transaction through [`EventStore::append_bulk_completing`] (the registry
//! import's bulk path), each KIM's events after the version it was decided on: a writer that
//! appended to one of them meanwhile makes the whole write fail, and it is decided again on
//! the new states (a bounded number of times, then [`AppError::Conflict`]). Within this process
//! the session holds the turn of every KIM it names (taken in id order), so commands of this
//! process on those KIM wait for it instead of racing it.
//!
//! [`EventStore::append_bulk_completing`]: simpul_store::EventStore::append_bulk_completing

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use simpul_domain::commands::RecordBimtek;
use simpul_domain::events::BimtekKind;
use simpul_domain::text::Title;
use simpul_domain::{Community, CommunityCommand, DomainError, RegionCode};
use simpul_store::{BulkAppended, BulkCompletion, Claim, Recorded, StoreError};
use uuid::Uuid;

use super::{WriteError, WriteOptions, Writes};
use crate::auth::{Action, AuthError, Principal};
use crate::error::AppError;
use crate::executor::{append_request, MAX_ATTEMPTS};

/// The most KIM one session records.
pub const MAX_SESSION_COMMUNITIES: usize = 500;

/// The request field that lists the KIM.
const COMMUNITIES: &str = "communities";

/// One bimtek (or workshop, sarasehan, forum diskusi) attended by many KIM.
#[derive(Clone, Debug)]
pub struct BimtekSession {
    /// The kind of session.
    pub kind: BimtekKind,
    /// Its title.
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// The organising province or kabupaten/kota.
    pub organizer_region: RegionCode,
    /// Every KIM that attended, with its participants; 1–[`MAX_SESSION_COMMUNITIES`], each KIM
    /// once.
    pub attendees: Vec<Attendance>,
}

/// One KIM at a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attendance {
    /// The community.
    pub community_id: Uuid,
    /// Its participants (1–10,000, checked by the domain).
    pub participants: u32,
}

/// Why one KIM of a session cannot record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttendanceError {
    /// No such KIM, or one outside the token's scope (the single-KIM route's 404).
    NotFound,
    /// The domain refused its `RecordBimtek` (a rule, an invalid field, a dissolved or
    /// suspended KIM). A field of the KIM's own entry is named by its path in the request
    /// (`communities[2].participants`); the session's fields by their names.
    Refused(DomainError),
}

/// One KIM of a session that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttendanceFailure {
    /// Its place in the request's list, from 0.
    pub index: usize,
    /// The community id, as the request gave it.
    pub community_id: String,
    /// Why.
    pub error: AttendanceError,
}

impl AttendanceFailure {
    /// The request field at fault.
    pub fn field(&self) -> String {
        match &self.error {
            AttendanceError::NotFound => format!("{COMMUNITIES}[{}].id", self.index),
            AttendanceError::Refused(error) => error.field.clone(),
        }
    }
}

/// Where one KIM's `BimtekAttended` landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionEvent {
    /// The community.
    #[cfg_attr(feature = "openapi", schema(format = Uuid))]
    pub community_id: String,
    /// The event's sequence in the KIM's stream: the KIM's version after it.
    pub sequence: u64,
    /// The event's global position.
    pub position: u64,
}

/// A recorded session: what `POST /bimtek-sessions` answers (and what an Idempotency-Key
/// replays, byte for byte).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionRecorded {
    /// The session's id, in every KIM's `BimtekAttended`.
    pub session_id: Uuid,
    /// One event per KIM, in the order of the request.
    pub events: Vec<SessionEvent>,
    /// The global position of the last event written (for `min_position`).
    pub position: u64,
}

/// What a session write did.
#[derive(Debug)]
pub enum SessionWritten {
    /// Recorded now.
    Recorded(SessionRecorded),
    /// The key's first request was answered before: its response again.
    Replayed(Recorded),
}

/// Why a session recorded nothing.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The request itself is wrong: no KIM, too many, a KIM twice, or a header the session
    /// does not take (400).
    #[error("{field}: {detail}")]
    Invalid {
        /// The request field (`communities`, `If-Match`).
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Some KIM cannot record the session: every one of them, nothing written.
    #[error(
        "{} of {total} KIM cannot record this bimtek session; nothing was recorded",
        failures.len()
    )]
    Rejected {
        /// KIM in the request.
        total: usize,
        /// Every failing KIM, by index.
        failures: Vec<AttendanceFailure>,
    },
    /// The role may not record bimtek, an Idempotency-Key problem, a conflict that outlasted
    /// the retries, or a store failure.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<AppError> for SessionError {
    fn from(error: AppError) -> Self {
        SessionError::Write(WriteError::App(error))
    }
}

impl From<StoreError> for SessionError {
    fn from(error: StoreError) -> Self {
        SessionError::Write(error.into())
    }
}

impl From<AuthError> for SessionError {
    fn from(error: AuthError) -> Self {
        SessionError::Write(WriteError::Auth(error))
    }
}

/// The session's KIM ids (canonical text), or why the list is not acceptable.
fn check_list(attendees: &[Attendance]) -> Result<Vec<String>, SessionError> {
    let invalid = |detail: String| SessionError::Invalid {
        field: COMMUNITIES,
        detail,
    };
    if attendees.is_empty() {
        return Err(invalid(
            "name at least one KIM that attended the session".to_owned(),
        ));
    }
    if attendees.len() > MAX_SESSION_COMMUNITIES {
        return Err(invalid(format!(
            "a session records at most {MAX_SESSION_COMMUNITIES} KIM, not {}; split it",
            attendees.len()
        )));
    }
    let mut seen: HashMap<Uuid, usize> = HashMap::with_capacity(attendees.len());
    for (index, attendance) in attendees.iter().enumerate() {
        if let Some(first) = seen.insert(attendance.community_id, index) {
            return Err(invalid(format!(
                "KIM {} is listed twice (at {first} and {index}); list each KIM once",
                attendance.community_id
            )));
        }
    }
    Ok(attendees
        .iter()
        .map(|a| a.community_id.to_string())
        .collect())
}

/// A domain error about one KIM's entry, with a field of the entry named by its request path.
fn entry_error(mut error: DomainError, index: usize) -> DomainError {
    if error.field == "participants" {
        error.field = format!("{COMMUNITIES}[{index}].participants");
    }
    error
}

/// The KIM decided on one attempt: their appends, or every failure.
struct Decided {
    appends: Vec<simpul_store::Append>,
    /// Per KIM: its state before and the events decided, for the cache.
    states: Vec<(Community, Vec<simpul_domain::CommunityEvent>)>,
}

impl Writes {
    /// Records `session` for every KIM it lists, for `principal`, all or nothing (see the
    /// module). The role is checked first (403 before any id is looked at), then the list
    /// (1–500 KIM, each once), then the Idempotency-Key (a replay answers the first response);
    /// `If-Match` is refused, a session spanning many versions.
    pub async fn record_bimtek_session(
        &self,
        principal: &Principal,
        session: BimtekSession,
        options: WriteOptions,
    ) -> Result<SessionWritten, SessionError> {
        principal.permitted(Action::RecordBimtek)?;
        if options.if_match.is_some() {
            return Err(SessionError::Invalid {
                field: "If-Match",
                detail: "a session is recorded for many KIM, each at its own version; send it \
                         without If-Match"
                    .to_owned(),
            });
        }
        let ids = check_list(&session.attendees)?;
        let completion = match &options.idempotency {
            None => None,
            Some(key) => match self
                .idempotency
                .claim(&principal.actor_id(), &key.key, &key.digest, key.status)
                .await?
            {
                Claim::New(completion) => Some(completion),
                Claim::Replay(recorded) => return Ok(SessionWritten::Replayed(recorded)),
                Claim::Mismatch => return Err(WriteError::IdempotencyMismatch.into()),
                Claim::InProgress { retry_after } => {
                    return Err(WriteError::InProgress { retry_after }.into())
                }
            },
        };
        let written = self
            .write_session(principal, &session, &ids, &options, completion.as_ref())
            .await;
        if written.is_err() {
            if let Some(completion) = &completion {
                self.idempotency.release(completion).await?;
            }
        }
        written.map(SessionWritten::Recorded)
    }

    /// Decides every KIM and writes them in one transaction, again on fresh states after a
    /// conflict.
    async fn write_session(
        &self,
        principal: &Principal,
        session: &BimtekSession,
        ids: &[String],
        options: &WriteOptions,
        completion: Option<&simpul_store::Completion>,
    ) -> Result<SessionRecorded, SessionError> {
        let session_id = Uuid::new_v4();
        let context = principal.command_context(options.request_id.clone(), None);
        let _turns = self.executor.take_turns(ids).await;
        let mut trust_cache = true;
        for _attempt in 0..MAX_ATTEMPTS {
            let current = self.executor.states(ids, trust_cache).await?;
            let mut decided =
                self.decide_all(principal, session, session_id, ids, current, &context)?;
            // Rows in id order: two sessions written by two processes at once lock their KIM's
            // keys in the same order, so they never deadlock (one waits, then conflicts).
            let mut appends = std::mem::take(&mut decided.appends);
            appends.sort_by(|a, b| a.community_id.cmp(&b.community_id));
            let render = |placed: &[BulkAppended]| {
                serde_json::to_string(&recorded(session_id, ids, placed))
                    .map_err(|e| StoreError::Corrupt(format!("a session's response: {e}")))
            };
            let completes = completion.map(|completion| BulkCompletion {
                completion,
                body: &render,
            });
            match self
                .executor
                .store()
                .append_bulk_completing(&appends, completes)
                .await
            {
                Ok(placed) => {
                    let mut versions: HashMap<&str, u64> = HashMap::with_capacity(placed.len());
                    for event in &placed {
                        let version = versions.entry(event.community_id.as_str()).or_default();
                        *version = (*version).max(event.sequence);
                    }
                    for (id, (community, events)) in ids.iter().zip(decided.states) {
                        if let Some(version) = versions.get(id.as_str()) {
                            self.executor.remember(id, community, events, *version);
                        }
                    }
                    tracing::info!(
                        session.id = %session_id,
                        communities = ids.len(),
                        "bimtek session recorded"
                    );
                    return Ok(recorded(session_id, ids, &placed));
                }
                Err(StoreError::BulkConflict(detail)) => {
                    tracing::debug!(%detail, "a session lost a race; deciding again on fresh loads");
                    trust_cache = false;
                }
                Err(error) => return Err(error.into()),
            }
        }
        let first = ids.first().map(String::as_str).unwrap_or_default();
        Err(AppError::Conflict {
            community_id: match ids.len() {
                0 | 1 => first.to_owned(),
                n => format!("{first} (one of the session's {n} KIM)"),
            },
            attempts: MAX_ATTEMPTS,
        }
        .into())
    }

    /// Every KIM authorised and decided on `current`; every failure, or every append.
    fn decide_all(
        &self,
        principal: &Principal,
        session: &BimtekSession,
        session_id: Uuid,
        ids: &[String],
        current: Vec<(Community, u64)>,
        context: &crate::executor::CommandContext,
    ) -> Result<Decided, SessionError> {
        let services = self.executor.services();
        let recorded_at = Utc::now();
        let mut failures = Vec::new();
        let mut decided = Decided {
            appends: Vec::with_capacity(ids.len()),
            states: Vec::with_capacity(ids.len()),
        };
        for (index, ((id, attendance), (community, version))) in
            ids.iter().zip(&session.attendees).zip(current).enumerate()
        {
            let failure = |error| AttendanceFailure {
                index,
                community_id: id.clone(),
                error,
            };
            if principal
                .authorize_community(Action::RecordBimtek, id, community.village())
                .is_err()
            {
                // The role may record bimtek (checked first): only the scope or a missing KIM
                // refuses here, and both say "not found".
                failures.push(failure(AttendanceError::NotFound));
                continue;
            }
            let command = CommunityCommand::RecordBimtek(RecordBimtek {
                session_id,
                kind: session.kind,
                title: session.title.clone(),
                held_on: session.held_on,
                organizer_region: session.organizer_region.clone(),
                participants: attendance.participants,
            });
            match community.decide(command, services) {
                Ok(events) => {
                    if failures.is_empty() {
                        decided.appends.push(append_request(
                            services,
                            id,
                            version,
                            &events,
                            context,
                            recorded_at,
                        )?);
                        decided.states.push((community, events));
                    }
                }
                Err(error) => {
                    failures.push(failure(AttendanceError::Refused(entry_error(error, index))))
                }
            }
        }
        if failures.is_empty() {
            Ok(decided)
        } else {
            Err(SessionError::Rejected {
                total: ids.len(),
                failures,
            })
        }
    }
}

/// The answer for a session whose events landed at `placed` (one per KIM): the events in the
/// order of the request's `ids`.
fn recorded(session_id: Uuid, ids: &[String], placed: &[BulkAppended]) -> SessionRecorded {
    let by_id: HashMap<&str, &BulkAppended> = placed
        .iter()
        .map(|p| (p.community_id.as_str(), p))
        .collect();
    SessionRecorded {
        session_id,
        events: ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()))
            .map(|p| SessionEvent {
                community_id: p.community_id.clone(),
                sequence: p.sequence,
                position: p.position,
            })
            .collect(),
        position: placed.iter().map(|p| p.position).max().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn attendance(id: Uuid) -> Attendance {
        Attendance {
            community_id: id,
            participants: 3,
        }
    }

    fn field_of(error: SessionError) -> &'static str {
        match error {
            SessionError::Invalid { field, .. } => field,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn the_list_has_one_to_five_hundred_kim_each_once() {
        assert_eq!(field_of(check_list(&[]).unwrap_err()), "communities");
        let one = Uuid::new_v4();
        assert_eq!(
            field_of(check_list(&[attendance(one), attendance(one)]).unwrap_err()),
            "communities"
        );
        let many: Vec<Attendance> = (0..=MAX_SESSION_COMMUNITIES)
            .map(|_| attendance(Uuid::new_v4()))
            .collect();
        assert_eq!(field_of(check_list(&many).unwrap_err()), "communities");
        let ids = check_list(&many[..MAX_SESSION_COMMUNITIES]).unwrap();
        assert_eq!(ids.len(), MAX_SESSION_COMMUNITIES);
        assert_eq!(ids[0], many[0].community_id.to_string());
    }

    #[test]
    fn an_entry_s_own_field_is_named_by_its_path() {
        let error = entry_error(DomainError::invalid("participants", "at least one"), 4);
        assert_eq!(error.field, "communities[4].participants");
        let error = entry_error(DomainError::invalid("organizer_region", "outside"), 4);
        assert_eq!(error.field, "organizer_region");
        let failure = AttendanceFailure {
            index: 2,
            community_id: "x".to_owned(),
            error: AttendanceError::NotFound,
        };
        assert_eq!(failure.field(), "communities[2].id");
    }
}

//! The application layer: turns a (context, command) pair into appended events.
//!
//! Invariant: knows nothing of HTTP or the CLI. A principal's write goes through
//! [`Writes::write`] (authorise, Idempotency-Key, sealing, [`CommandExecutor`]); a read over many
//! KIM goes through [`Reads`] (scoped by [`Principal::read_scope`], then the read model's query).

pub mod auth;
pub mod demo;
mod error;
mod executor;
pub mod import;
pub mod ledger;
mod reads;
mod writes;

pub use auth::{
    bootstrap_admin_token, parse_token_role, Action, AuthError, Principal, Scope, ScopeError,
    WithoutRegion,
};
pub use error::AppError;
pub use executor::{append_request, CommandContext, CommandExecutor, Outcome};
pub use reads::progression;
pub use reads::{
    known_id, AnalyticsEvents, AsOf, AsOfStamp, Attention, AuditQuery, ChangesQuery,
    CommunityQuery, CommunityRead, ConsistencyProof, InclusionProof, Page, ReadError, Reads,
    ScopedEvents, StageDashboard, Totals, TransitionQuery, Tree, MAX_CHECKPOINTS, MAX_MONTHS,
    MAX_PAGE,
};
pub use writes::{
    Appointment, Attendance, AttendanceError, AttendanceFailure, BimtekSession, IdempotencyKey,
    Request, SessionError, SessionEvent, SessionRecorded, SessionWritten, WriteError, WriteOptions,
    Writes, Written, MAX_SESSION_COMMUNITIES,
};

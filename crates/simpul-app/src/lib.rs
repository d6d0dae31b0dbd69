//! The application layer: turns a (context, command) pair into appended events.
//!
//! Invariant: knows nothing of HTTP or the CLI; both call [`CommandExecutor::execute`], after
//! [`auth`] has said whether the token's principal may.

pub mod auth;
pub mod demo;
mod error;
mod executor;
pub mod import;

pub use auth::{
    bootstrap_admin_token, parse_token_role, Action, AuthError, Principal, Scope, ScopeError,
    WithoutRegion,
};
pub use error::AppError;
pub use executor::{append_request, CommandContext, CommandExecutor, Outcome};

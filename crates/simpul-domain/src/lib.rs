//! The KIM domain: the `Community` aggregate, its commands and events, value types and rules.
//!
//! Invariant: this crate does no I/O. Time, ids and region lookups arrive in commands or through
//! [`CommunityServices`]; sealing is pure computation and keys are stored elsewhere.

pub mod aggregate;
pub mod commands;
pub mod error;
pub mod events;
pub mod next_steps;
pub mod region;
pub mod roles;
pub mod rules;
pub mod sealed;
pub mod services;
pub mod stage;
pub mod text;

pub use aggregate::{Community, CommunityStatus};
pub use commands::CommunityCommand;
pub use error::{DomainError, ErrorKind, Rule};
pub use events::CommunityEvent;
pub use next_steps::{next_steps, Blocker, NextSteps, StageSteps, Step};
pub use region::{RegionCode, RegionDirectory, RegionInfo, RegionLevel};
pub use roles::{ActorRole, OfficerRole};
pub use services::CommunityServices;
pub use stage::{Stage, StagePolicy};

#[cfg(test)]
mod tests;

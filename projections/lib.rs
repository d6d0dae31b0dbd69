//! Read models projected from the global event feed (`EventStore::read_all`), each with its own
//! checkpoint written in the same transaction as its rows.
//!
//! Invariant: a read model is a pure function of the log. Any of them can be dropped and rebuilt
//! from position 0 and must then be identical (`tests/it/projections.rs` checks it).

pub mod audit_trail;
pub mod community_history;
pub mod community_summary;
pub mod exports;
mod fold;
pub mod ledger;
pub mod monthly;
pub mod runtime;
pub mod stage_dashboard;
pub mod stage_transitions;

use std::sync::Arc;

pub use runtime::{
    has_reached, status, Budget, Driver, Entries, Memory, Projection, ProjectionError,
    ProjectionStatus, Runner, Scratch,
};

/// Every read model's name, in the order [`all`] runs them.
pub const READ_MODELS: [&str; 6] = [
    community_summary::NAME,
    stage_dashboard::NAME,
    audit_trail::NAME,
    stage_transitions::NAME,
    ledger::NAME,
    community_history::NAME,
];

/// Every read model, in the order they are run.
pub fn all(regions: &'static simpul_regions::Regions) -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(Driver(community_summary::CommunitySummary::new(regions))),
        Arc::new(Driver(stage_dashboard::StageDashboard)),
        Arc::new(Driver(audit_trail::AuditTrail::new(regions))),
        Arc::new(Driver(stage_transitions::StageTransitions)),
        Arc::new(Driver(ledger::Ledger)),
        Arc::new(Driver(community_history::CommunityHistory)),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn read_models_names_every_projection_in_order() {
        let regions = simpul_regions::bundled().expect("bundled regions");
        let names: Vec<&str> = super::all(regions).iter().map(|p| p.name()).collect();
        assert_eq!(names, super::READ_MODELS);
    }
}

//! Folding stored events into the domain's own `Community` state, so every read model agrees
//! with what the aggregate decides on.

use cqrs_es::Aggregate as _;
use simpul_domain::events::CommunityEvent;
use simpul_domain::Community;
use simpul_store::StoredEvent;

use crate::runtime::ProjectionError;

/// Decodes a stored event's payload.
pub fn decode(event: &StoredEvent) -> Result<CommunityEvent, ProjectionError> {
    serde_json::from_value(event.payload.clone()).map_err(|error| ProjectionError::Event {
        position: event.position,
        event: format!("{}#{}", event.aggregate_id, event.sequence),
        error: format!("payload does not decode: {error}"),
    })
}

/// Reads a community state saved by a read model.
pub fn load_state(json: &str) -> Result<Community, ProjectionError> {
    serde_json::from_str(json).map_err(|e| ProjectionError::Storage(format!("saved state: {e}")))
}

/// Saves a community state.
pub fn save_state(community: &Community) -> Result<String, ProjectionError> {
    serde_json::to_string(community).map_err(|e| ProjectionError::Storage(e.to_string()))
}

/// Applies one event to a state.
pub fn apply(community: &mut Community, event: CommunityEvent) {
    community.apply(event);
}

//! The metadata every event carries (R11): who, in which role, from which request, why, when,
//! and the edition of the region codes in its payload.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::StoreError;

/// Metadata stamped on every event of one command. Stored as cqrs-es' flat string map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventMetadata {
    /// The principal's id (token principal, `cli:<user>`, `import:<file>`).
    pub actor_id: String,
    /// The principal's role (`regency`, `pegiat`, …).
    pub actor_role: String,
    /// The request the command came from (`X-Request-Id`, or generated).
    pub request_id: String,
    /// Why, where given.
    pub reason: Option<String>,
    /// Server time of the append, UTC.
    pub recorded_at: DateTime<Utc>,
    /// The region-code edition the payload's codes belong to.
    pub region_edition: String,
}

impl EventMetadata {
    /// The flat map stored in the `metadata` column, after checking R11.
    pub fn to_map(&self) -> Result<HashMap<String, String>, StoreError> {
        for (name, value) in [
            ("actor_id", &self.actor_id),
            ("actor_role", &self.actor_role),
            ("request_id", &self.request_id),
            ("region_edition", &self.region_edition),
        ] {
            if value.trim().is_empty() {
                return Err(StoreError::MissingMetadata(name));
            }
        }
        let mut map = HashMap::from([
            ("actor_id".to_owned(), self.actor_id.clone()),
            ("actor_role".to_owned(), self.actor_role.clone()),
            ("request_id".to_owned(), self.request_id.clone()),
            (
                "recorded_at".to_owned(),
                self.recorded_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
            ),
            ("region_edition".to_owned(), self.region_edition.clone()),
        ]);
        if let Some(reason) = &self.reason {
            map.insert("reason".to_owned(), reason.clone());
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> EventMetadata {
        EventMetadata {
            actor_id: "token:7".to_owned(),
            actor_role: "regency".to_owned(),
            request_id: "req-1".to_owned(),
            reason: None,
            recorded_at: Utc::now(),
            region_edition: "e".to_owned(),
        }
    }

    #[test]
    fn r11_metadata_without_an_actor_is_refused() {
        let mut blank = metadata();
        blank.actor_id = " ".to_owned();
        assert!(matches!(
            blank.to_map(),
            Err(StoreError::MissingMetadata("actor_id"))
        ));
        let map = metadata().to_map().unwrap();
        assert_eq!(map["actor_role"], "regency");
        assert!(map["recorded_at"].ends_with('Z'));
    }
}

//! The metadata every event carries (R11): who, in which role, from which request, why, when,
//! and the edition of the region codes in its payload.

use std::collections::BTreeMap;

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
    /// For events written by a registry import: the imported file's name (`import_file`).
    pub import_file: Option<String>,
    /// For events written by a registry import: the SHA-256 (hex) of the imported file's bytes
    /// (`import_sha256`).
    pub import_sha256: Option<String>,
}

impl EventMetadata {
    /// The flat map stored in the `metadata` column, after checking R11 (sorted by key, so the
    /// stored JSON is the same byte for byte for the same metadata).
    pub fn to_map(&self) -> Result<BTreeMap<String, String>, StoreError> {
        // (Reasons are bounded by the domain's `Reason`; file names by the import.)
        for (name, value) in [
            ("actor_id", &self.actor_id),
            ("actor_role", &self.actor_role),
            ("request_id", &self.request_id),
            ("region_edition", &self.region_edition),
        ] {
            if value.trim().is_empty() {
                return Err(StoreError::MissingMetadata(name));
            }
            if value.chars().count() > MAX_METADATA_VALUE {
                return Err(StoreError::OversizedMetadata(name));
            }
        }
        let mut map = BTreeMap::from([
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
        // An import names its file and the file's digest together, or neither.
        match (&self.import_file, &self.import_sha256) {
            (None, None) => {}
            (Some(file), Some(sha256)) => {
                if file.trim().is_empty() {
                    return Err(StoreError::MissingMetadata("import_file"));
                }
                if sha256.trim().is_empty() {
                    return Err(StoreError::MissingMetadata("import_sha256"));
                }
                map.insert("import_file".to_owned(), file.clone());
                map.insert("import_sha256".to_owned(), sha256.clone());
            }
            (None, Some(_)) => return Err(StoreError::MissingMetadata("import_file")),
            (Some(_), None) => return Err(StoreError::MissingMetadata("import_sha256")),
        }
        Ok(map)
    }
}

/// The longest actor id, role, request id or region edition an event may carry: every event of a
/// command repeats them, and a read model indexes the actor (a B-tree entry is at most ~2.7 KB).
pub const MAX_METADATA_VALUE: usize = 256;

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
            import_file: None,
            import_sha256: None,
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
        assert!(!map.contains_key("import_file"));
    }

    #[test]
    fn oversized_metadata_is_refused() {
        // A 3 KB actor id stalled the audit trail's index on PostgreSQL.
        let mut long = metadata();
        long.actor_id = "a".repeat(MAX_METADATA_VALUE + 1);
        assert!(matches!(
            long.to_map(),
            Err(StoreError::OversizedMetadata("actor_id"))
        ));
        long.actor_id = "a".repeat(MAX_METADATA_VALUE);
        assert!(long.to_map().is_ok());
    }

    #[test]
    fn an_import_names_its_file_and_digest_together() {
        let mut imported = metadata();
        imported.import_file = Some("registri.csv".to_owned());
        assert!(matches!(
            imported.to_map(),
            Err(StoreError::MissingMetadata("import_sha256"))
        ));
        imported.import_sha256 = Some("ab12".to_owned());
        let map = imported.to_map().unwrap();
        assert_eq!(map["import_file"], "registri.csv");
        assert_eq!(map["import_sha256"], "ab12");
        imported.import_file = Some(" ".to_owned());
        assert!(matches!(
            imported.to_map(),
            Err(StoreError::MissingMetadata("import_file"))
        ));
    }
}

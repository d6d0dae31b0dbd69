//! The events export: the global feed (`EventStore::read_all`) as JSON lines, one event per
//! line, in feed order. Officers' sealed names and contacts stay sealed (the envelope exactly as
//! stored) unless the caller may see personal data, in which case they are opened; an erased
//! person reads `[dihapus]`.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use simpul_domain::sealed::SealedText;
use simpul_store::{EventStore, KeyStore, StoredEvent, Unsealed};

use super::ExportError;

/// Events read from the feed per round trip.
pub const BATCH_SIZE: u32 = 500;
/// The media type of JSON lines.
pub const MEDIA_TYPE: &str = "application/x-ndjson";
/// Shown instead of a name whose person was erased.
pub const ERASED: &str = "[dihapus]";

/// One line of the export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    /// Global position (pass the last one as `after` to continue).
    pub position: u64,
    /// The community.
    pub community_id: String,
    /// Sequence within the community, from 1.
    pub sequence: u64,
    /// Event type, e.g. `SkIssued`.
    pub event_type: String,
    /// Payload version.
    pub event_version: String,
    /// The payload as stored (`{"<EventType>": {…}}`), sealed values opened when allowed.
    pub payload: Value,
    /// The metadata (R11): actor, role, request id, reason, time.
    pub metadata: BTreeMap<String, String>,
}

/// What happens to sealed personal data.
#[derive(Clone, Copy)]
pub enum PersonalData<'a> {
    /// Left sealed, as stored.
    Sealed,
    /// Opened with these keys (`[dihapus]` for an erased person).
    Opened(&'a KeyStore),
}

impl EventLine {
    /// The line of one stored event.
    pub async fn from_stored(
        event: StoredEvent,
        personal: PersonalData<'_>,
    ) -> Result<EventLine, ExportError> {
        let mut payload = event.payload;
        if let PersonalData::Opened(keys) = personal {
            open_sealed(&mut payload, &event.event_type, keys).await?;
        }
        Ok(EventLine {
            position: event.position,
            community_id: event.aggregate_id,
            sequence: event.sequence,
            event_type: event.event_type,
            event_version: event.event_version,
            payload,
            metadata: event.metadata.into_iter().collect(),
        })
    }

    /// Writes the line as JSON and a newline.
    pub fn write_to(&self, out: &mut impl Write) -> Result<(), ExportError> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

async fn open_sealed(
    payload: &mut Value,
    event_type: &str,
    keys: &KeyStore,
) -> Result<(), ExportError> {
    for (sealed_type, fields) in simpul_domain::CommunityEvent::SEALED_FIELDS {
        if sealed_type != event_type {
            continue;
        }
        let Some(object) = payload.get_mut(sealed_type).and_then(Value::as_object_mut) else {
            continue;
        };
        for field in fields {
            let sealed = object
                .get(*field)
                .and_then(|value| serde_json::from_value::<SealedText>(value.clone()).ok());
            if let Some(sealed) = sealed {
                let text = match keys.open(&sealed).await? {
                    Unsealed::Plain(text) => text,
                    Unsealed::Erased => ERASED.to_owned(),
                };
                object.insert((*field).to_owned(), Value::String(text));
            }
        }
    }
    Ok(())
}

/// Reads the feed in bounded batches from a position, as `read_all` orders it.
pub struct EventPages {
    store: EventStore,
    cursor: u64,
    done: bool,
}

impl EventPages {
    /// The feed after global position `after` (0: from the beginning).
    pub fn new(store: EventStore, after: u64) -> Self {
        Self {
            store,
            cursor: after,
            done: false,
        }
    }

    /// Up to `max` (at most [`BATCH_SIZE`]) further events, or `None` at the end of what is
    /// committed now.
    pub async fn next_batch(&mut self, max: u64) -> Result<Option<Vec<StoredEvent>>, ExportError> {
        if self.done || max == 0 {
            return Ok(None);
        }
        let limit = u32::try_from(max.min(u64::from(BATCH_SIZE))).unwrap_or(BATCH_SIZE);
        let batch = self.store.read_all(self.cursor, limit).await?;
        if batch.len() < limit as usize {
            self.done = true;
        }
        match batch.last() {
            Some(last) => self.cursor = last.position,
            None => return Ok(None),
        }
        Ok(Some(batch))
    }

    /// The position of the last event returned (where a later export would resume).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }
}

//! A province's ledger export (`simpul audit export`) and its offline verification
//! (`simpul audit verify --from-export`): one JSON line of [`ExportHeader`] — the signed
//! checkpoint and the sub-log table it commits to — then one JSON line of [`ExportEvent`] per event
//! of the province's sub-log up to that checkpoint, in province-index order.
//!
//! [`ExportCheck`] proves such a file **complete and unaltered** with the verifier key alone: the
//! checkpoint is signed by the key, the table is the one its extension line commits to, the
//! province indexes run densely from 0 to the province's size in the table, every event's leaf
//! is recomputed from its fields, the sub-log's head over those leaves is the table's, and every
//! community of the file starts with its formation in this province and runs on without a gap.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::{canonical_event, EventFields};
use crate::checkpoint::{Checkpoint, Verifier};
use crate::merkle::{leaf_hash, Frontier, Hash};
use crate::sublog::SubLogs;

/// The `format` of an export's header line.
pub const EXPORT_FORMAT: &str = "simpul-ledger-export-v1";

/// The first line of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The province code whose sub-log follows.
    pub province: String,
    /// The signed checkpoint (a C2SP signed note) the export is complete up to.
    pub checkpoint: String,
    /// The sub-log table the checkpoint commits to ([`SubLogs::table`]).
    pub sublogs: String,
}

/// One event of an export, with its place in the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportEvent {
    /// Its ledger index (in the global tree).
    pub ledger_index: u64,
    /// Its index in the province's sub-log.
    pub province_index: u64,
    /// Its global position in the log.
    pub position: u64,
    /// The community (aggregate) id.
    pub community_id: String,
    /// The sequence within the community, from 1.
    pub sequence: u64,
    /// The event type.
    pub event_type: String,
    /// The event version.
    pub event_version: String,
    /// The payload as stored (personal data sealed).
    pub payload: Value,
    /// The metadata as stored.
    pub metadata: Value,
}

impl ExportEvent {
    /// The event's leaf hash, recomputed from its fields.
    pub fn leaf(&self) -> Result<Hash, String> {
        let bytes = canonical_event(&EventFields {
            community_id: &self.community_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            event_version: &self.event_version,
            payload: &self.payload,
            metadata: &self.metadata,
        })
        .map_err(|error| error.to_string())?;
        Ok(leaf_hash(&bytes))
    }

    fn place(&self) -> String {
        format!(
            "ledger index {} (province index {}, community {}, sequence {})",
            self.ledger_index, self.province_index, self.community_id, self.sequence
        )
    }
}

/// The province of a `CommunityFormed` event: the first segment of its desa code
/// (`payload.CommunityFormed.village`); `None` for any other event type.
pub fn formed_province<'p>(
    event_type: &str,
    payload: &'p Value,
) -> Option<Result<&'p str, String>> {
    if event_type != "CommunityFormed" {
        return None;
    }
    Some(
        payload
            .get("CommunityFormed")
            .and_then(|formed| formed.get("village"))
            .and_then(Value::as_str)
            .and_then(|village| village.split('.').next())
            .filter(|province| province.len() == 2 && province.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| "a CommunityFormed payload without a desa code".to_owned()),
    )
}

/// Why an export is not a complete, unaltered copy of its province's sub-log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExportMismatch(pub String);

/// What a verified export proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// The province.
    pub province: String,
    /// The checkpoint it is complete up to.
    pub checkpoint: Checkpoint,
    /// The events checked (the sub-log's size at that checkpoint).
    pub events: u64,
    /// The communities among them.
    pub communities: usize,
}

/// Checks an export line by line, in constant memory per community.
pub struct ExportCheck {
    province: String,
    checkpoint: Checkpoint,
    size: u64,
    head: Option<Hash>,
    frontier: Frontier,
    /// Each community's last sequence seen.
    communities: HashMap<String, u64>,
}

impl ExportCheck {
    /// Checks the header: a checkpoint signed by `verifier`, and the sub-log table it commits to.
    pub fn open(header: &ExportHeader, verifier: &Verifier) -> Result<Self, ExportMismatch> {
        let fail = |what: String| Err(ExportMismatch(what));
        if header.format != EXPORT_FORMAT {
            return fail(format!(
                "not a Simpul ledger export: format `{}`, expected `{EXPORT_FORMAT}`",
                header.format
            ));
        }
        let checkpoint = verifier
            .open(&header.checkpoint)
            .map_err(|error| ExportMismatch(format!("the checkpoint: {error}")))?;
        let table = SubLogs::parse(&header.sublogs)
            .map_err(|error| ExportMismatch(format!("the sub-log table: {error}")))?;
        if !table.is_committed_by(&checkpoint.extensions) {
            return fail(format!(
                "the sub-log table is not the one the checkpoint of size {} commits to",
                checkpoint.size
            ));
        }
        if table.total() != checkpoint.size {
            return fail(format!(
                "the sub-logs hold {} events, the checkpoint {}",
                table.total(),
                checkpoint.size
            ));
        }
        let (size, head) = match table.get(&header.province) {
            Some((size, head)) => (size, Some(head)),
            None => (0, None),
        };
        Ok(Self {
            province: header.province.clone(),
            checkpoint,
            size,
            head,
            frontier: Frontier::default(),
            communities: HashMap::new(),
        })
    }

    /// Checks the next event.
    pub fn push(&mut self, event: &ExportEvent) -> Result<(), ExportMismatch> {
        let fail = |what: String| Err(ExportMismatch(format!("{}: {what}", event.place())));
        let expected = self.frontier.size();
        if event.province_index != expected {
            return fail(format!(
                "expected province index {expected}: an event is missing, added or out of order"
            ));
        }
        if expected >= self.size {
            return fail(format!(
                "the checkpoint's sub-log of province {} holds only {} events",
                self.province, self.size
            ));
        }
        match formed_province(&event.event_type, &event.payload) {
            Some(province) => {
                let province = province.map_err(|error| ExportMismatch(error.to_string()))?;
                if province != self.province {
                    return fail(format!(
                        "formed in province {province}, not {}",
                        self.province
                    ));
                }
                if event.sequence != 1 || self.communities.contains_key(&event.community_id) {
                    return fail("a community is formed once, at sequence 1".to_owned());
                }
            }
            None => {
                let Some(last) = self.communities.get(&event.community_id) else {
                    return fail("its community's formation is not in this export".to_owned());
                };
                if event.sequence != last + 1 {
                    return fail(format!("follows sequence {last}: an event is missing"));
                }
            }
        }
        self.communities
            .insert(event.community_id.clone(), event.sequence);
        let leaf = event
            .leaf()
            .map_err(|error| ExportMismatch(format!("{}: {error}", event.place())))?;
        self.frontier.push(leaf);
        Ok(())
    }

    /// Checks that every event of the sub-log was there and that their head is the signed one.
    pub fn finish(self) -> Result<ExportSummary, ExportMismatch> {
        let events = self.frontier.size();
        if events != self.size {
            return Err(ExportMismatch(format!(
                "the export holds {events} events of province {}, the checkpoint's sub-log {}",
                self.province, self.size
            )));
        }
        if let Some(head) = self.head {
            if self.frontier.root() != head {
                return Err(ExportMismatch(format!(
                    "the head of province {}'s sub-log recomputed from the export differs from \
                     the one the checkpoint of size {} commits to: an event was altered",
                    self.province, self.checkpoint.size
                )));
            }
        }
        Ok(ExportSummary {
            province: self.province,
            checkpoint: self.checkpoint,
            events,
            communities: self.communities.len(),
        })
    }
}

//! `simpul audit export --region`: one province's events with their ledger and province
//! indexes, up to the latest signed checkpoint, with that checkpoint and the sub-log table it
//! commits to — everything `simpul audit verify --from-export` needs on a machine with only the
//! binary and the verifier key (`simpul_ledger::export`).

use std::io::Write;

use simpul_domain::{RegionCode, RegionLevel};
use simpul_ledger::{ExportEvent, ExportHeader, SubLogs, EXPORT_FORMAT};
use simpul_projections::ledger::query;
use simpul_projections::ProjectionError;
use simpul_store::{EventStore, StoreError};

/// Events written per page.
const PAGE: u64 = 2_000;

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Not a province code.
    #[error("--region: completeness is proved per province sub-log: give a province code such as 32, not {0}")]
    NotAProvince(RegionCode),
    /// No checkpoint with sub-logs to be complete up to.
    #[error("no checkpoint with province sub-logs has been cut yet: `simpul serve` cuts one every SIMPUL_CHECKPOINT_EVENTS events or SIMPUL_CHECKPOINT_SECONDS seconds")]
    NoCheckpoint,
    /// The ledger does not hold what its checkpoint says (run `simpul audit verify`).
    #[error("the ledger does not hold the {0} events its latest checkpoint commits to: run `simpul audit verify`")]
    Incomplete(u64),
    /// Writing failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A read model's storage failed.
    #[error(transparent)]
    ReadModel(#[from] ProjectionError),
}

/// What was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The checkpoint's tree size.
    pub checkpoint: u64,
    /// The province's events written.
    pub events: u64,
}

/// Writes `province`'s export to `out`.
pub async fn export(
    store: &EventStore,
    province: &RegionCode,
    mut out: impl Write,
) -> Result<Exported, ExportError> {
    if province.level() != RegionLevel::Province {
        return Err(ExportError::NotAProvince(province.clone()));
    }
    let db = store.database();
    let checkpoint = query::latest_checkpoint(db)
        .await?
        .filter(|checkpoint| !checkpoint.sublogs.is_empty())
        .ok_or(ExportError::NoCheckpoint)?;
    let table = SubLogs::parse(&checkpoint.sublogs)
        .map_err(|error| ProjectionError::Storage(error.to_string()))?;
    let size = table.get(province.as_str()).map_or(0, |(size, _)| size);
    let header = ExportHeader {
        format: EXPORT_FORMAT.to_owned(),
        province: province.as_str().to_owned(),
        checkpoint: checkpoint.note,
        sublogs: checkpoint.sublogs,
    };
    write_line(&mut out, &header)?;
    let mut written = 0u64;
    while written < size {
        let leaves =
            query::province_leaves(db, province.as_str(), written, size.min(written + PAGE))
                .await?;
        let positions: Vec<u64> = leaves.iter().map(|leaf| leaf.position).collect();
        let events = store.at_positions(&positions).await?;
        if leaves.is_empty() || events.len() != leaves.len() {
            return Err(ExportError::Incomplete(checkpoint.size));
        }
        for (leaf, event) in leaves.iter().zip(events) {
            let line = ExportEvent {
                ledger_index: leaf.index,
                province_index: leaf.province_index,
                position: event.position,
                community_id: event.aggregate_id,
                sequence: event.sequence,
                event_type: event.event_type,
                event_version: event.event_version,
                payload: event.payload,
                metadata: serde_json::Value::Object(
                    event
                        .metadata
                        .into_iter()
                        .map(|(key, value)| (key, serde_json::Value::String(value)))
                        .collect(),
                ),
            };
            write_line(&mut out, &line)?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(Exported {
        checkpoint: checkpoint.size,
        events: written,
    })
}

fn write_line(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

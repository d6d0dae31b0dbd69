//! Cutting the ledger's signed checkpoints (`docs/ledger.md`): the tree head of the `ledger`
//! read model at its current size, with an extension line committing to every province's
//! sub-log, signed as a C2SP signed note and recorded, whenever `every` new leaves have come or
//! `interval` has passed since the last cut with any new leaf. [`verify`] checks the whole ledger
//! against the log; [`export`] writes one province's events for checking offline.

pub mod export;
pub mod verify;

use std::time::{Duration, Instant};

use simpul_ledger::{Checkpoint, LedgerKey};
use simpul_projections::ledger::query::{self, Heads, StoredCheckpoint};
use simpul_projections::ProjectionError;
use simpul_store::Database;

/// When to cut.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointPolicy {
    /// After this many new leaves.
    pub every: u64,
    /// Or after this long, if any leaf is new.
    pub interval: Duration,
}

/// Cuts checkpoints as the ledger grows, keeping only the trees' right edges in memory.
pub struct Checkpointer {
    db: Database,
    key: LedgerKey,
    origin: String,
    policy: CheckpointPolicy,
    heads: Heads,
    last_cut: (u64, Instant),
}

impl Checkpointer {
    /// A checkpointer signing with `key` for the log named `origin`.
    pub async fn new(
        db: Database,
        key: LedgerKey,
        origin: &str,
        policy: CheckpointPolicy,
    ) -> Result<Self, ProjectionError> {
        let last = query::latest_checkpoint(&db)
            .await?
            .map_or(0, |checkpoint| checkpoint.size);
        Ok(Self {
            db,
            key,
            origin: origin.to_owned(),
            policy,
            heads: Heads::default(),
            last_cut: (last, Instant::now()),
        })
    }

    /// Cuts a checkpoint if the policy says one is due; its size when one was recorded.
    pub async fn tick(&mut self) -> Result<Option<u64>, ProjectionError> {
        let size = query::size(&self.db).await?;
        let (last, at) = self.last_cut;
        let due = size >= last + self.policy.every.max(1)
            || (size > last && at.elapsed() >= self.policy.interval);
        if !due {
            return Ok(None);
        }
        self.cut().await
    }

    /// Cuts a checkpoint of the whole ledger now, unless it has no leaf beyond the last one;
    /// its size when one was recorded.
    pub async fn cut(&mut self) -> Result<Option<u64>, ProjectionError> {
        let size = query::size(&self.db).await?;
        if size == 0 || size <= self.last_cut.0 {
            return Ok(None);
        }
        self.heads.extend(&self.db, size).await?;
        let sublogs = self.heads.sublogs();
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root: self.heads.root(),
            extensions: vec![sublogs.extension_line()],
        };
        let note = self.key.sign(&checkpoint);
        let signed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let stored = StoredCheckpoint {
            size,
            root: checkpoint.root,
            note,
            signed_at,
            sublogs: sublogs.table(),
        };
        query::record_checkpoint(&self.db, &stored).await?;
        self.last_cut = (size, Instant::now());
        Ok(Some(size))
    }
}

//! `simpul demo seed`: writes the deterministic histories planned by `simpul-demo` to the store.
//!
//! Every event was decided by the aggregate while planning (`Community::decide`, the same rules
//! as the API); here each step becomes the same store request the executor would make
//! ([`append_request`]), and the requests go in bulk — many communities per transaction, `COPY`
//! on PostgreSQL — in bounded chunks so no write transaction stays open long.

use std::collections::HashMap;

use simpul_demo::{DemoConfig, RegencyPlan};
use simpul_domain::sealed::DataKey;
use simpul_domain::{CommunityServices, RegionCode};
use simpul_store::{Append, BulkBatch, BulkOutcome, EventStore, KeyStore};

use crate::error::AppError;
use crate::executor::{append_request, CommandContext};

/// Events per transaction of a seed.
pub const CHUNK_EVENTS: usize = 20_000;

/// Why a seed stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The planner refused (bad configuration, or a command the aggregate rejected).
    #[error("demo plan: {0}")]
    Plan(#[from] simpul_demo::DemoError),
    /// Writing failed; the chunks before were written.
    #[error(transparent)]
    Write(#[from] AppError),
    /// The planning thread stopped.
    #[error("planning stopped: {0}")]
    Planner(String),
}

/// What a seed wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedOutcome {
    /// Communities formed.
    pub communities: u64,
    /// Events, claims and keys stored.
    pub written: BulkOutcome,
}

/// The request id of a planned step: deterministic, so a seed replays byte for byte.
fn request_id(config: &DemoConfig, community: &uuid::Uuid, sequence: u64) -> String {
    format!(
        "demo-{}-{}-{community}-{sequence}",
        config.seed, config.scale
    )
}

/// One transaction of a seed, rendered for the store ahead of the write.
pub struct SeedBatch {
    bulk: BulkBatch,
    communities: u64,
}

/// The first batch of a seed: a sixteenth of a full one.
fn first_limit(chunk_events: usize) -> u64 {
    (chunk_events as u64 / 16).max(1)
}

/// Turns planned kabupaten/kota into batches of about `chunk_events` events. CPU only
/// (serialising payloads, wrapping keys, rendering rows), so it runs on the planning thread while
/// the writer streams the previous batch.
pub struct Batcher {
    store: EventStore,
    keys: KeyStore,
    services: CommunityServices,
    config: DemoConfig,
    chunk_events: usize,
    /// The size of the batch being filled: small at first, so the database starts storing
    /// while the rest is planned, then doubling up to `chunk_events`.
    limit: u64,
    current: SeedBatch,
}

impl Batcher {
    fn new(
        store: EventStore,
        keys: KeyStore,
        services: CommunityServices,
        config: DemoConfig,
    ) -> Self {
        let current = SeedBatch {
            bulk: store.bulk_batch(),
            communities: 0,
        };
        Self {
            store,
            keys,
            services,
            config,
            chunk_events: CHUNK_EVENTS,
            limit: first_limit(CHUNK_EVENTS),
            current,
        }
    }

    /// An empty batcher with the same store, keys and settings.
    fn fresh(&self) -> Self {
        Self::new(
            self.store.clone(),
            self.keys.clone(),
            self.services.clone(),
            self.config,
        )
        .with_chunk_events(self.chunk_events)
    }

    fn with_chunk_events(mut self, chunk_events: usize) -> Self {
        self.chunk_events = chunk_events.max(1);
        self.limit = first_limit(self.chunk_events);
        self
    }

    /// The store requests of one planned kabupaten/kota, in plan order.
    pub fn appends_of(&self, plan: &RegencyPlan) -> Result<Vec<Append>, AppError> {
        let mut versions: HashMap<uuid::Uuid, u64> = HashMap::new();
        let mut appends = Vec::with_capacity(plan.steps.len());
        for step in &plan.steps {
            let version = versions.entry(step.community_id).or_insert(0);
            let context = CommandContext {
                actor_id: step.actor_id.clone(),
                actor_role: step.actor_role,
                request_id: request_id(&self.config, &step.community_id, *version + 1),
                expected_version: Some(*version),
            };
            let append = append_request(
                &self.services,
                &step.community_id.to_string(),
                *version,
                &step.events,
                &context,
                step.at,
            )?;
            *version += step.events.len() as u64;
            appends.push(append);
        }
        Ok(appends)
    }

    /// Adds one planned kabupaten/kota; returns the batches it filled. Its persons' keys go into
    /// the batch that holds its first events, so no event is stored before the key of a name it
    /// seals.
    pub fn add(&mut self, plan: &RegencyPlan) -> Result<Vec<SeedBatch>, AppError> {
        let wrapped = plan
            .persons
            .iter()
            .map(|person| {
                self.keys
                    .wrap(person.person_id, &DataKey::from_bytes(person.key))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.current.bulk.push_keys(wrapped);
        let mut full = Vec::new();
        for (step, append) in plan.steps.iter().zip(self.appends_of(plan)?) {
            self.current.bulk.push(&append)?;
            if step.events.iter().any(|e| e.name() == "CommunityFormed") {
                self.current.communities += 1;
            }
            if self.current.bulk.events() >= self.limit {
                full.extend(self.take());
                self.limit = (self.limit * 2).min(self.chunk_events as u64);
            }
        }
        Ok(full)
    }

    /// The batch being filled, if it holds anything; a new one is started.
    pub fn take(&mut self) -> Option<SeedBatch> {
        let empty = SeedBatch {
            bulk: self.store.bulk_batch(),
            communities: 0,
        };
        let batch = std::mem::replace(&mut self.current, empty);
        (!batch.bulk.is_empty()).then_some(batch)
    }

    /// Events in the batch being filled.
    pub fn pending_events(&self) -> u64 {
        self.current.bulk.events()
    }
}

/// Turns planned regencies into store requests and writes them in chunks.
pub struct BulkSeeder {
    store: EventStore,
    batcher: Batcher,
    outcome: SeedOutcome,
}

impl BulkSeeder {
    /// A seeder writing to `store`, wrapping persons' keys with `keys`' master key.
    pub fn new(
        store: EventStore,
        keys: KeyStore,
        services: CommunityServices,
        config: DemoConfig,
    ) -> Self {
        Self {
            batcher: Batcher::new(store.clone(), keys, services, config),
            store,
            outcome: SeedOutcome::default(),
        }
    }

    /// The same seeder with another chunk size (tests use small ones).
    pub fn with_chunk_events(mut self, chunk_events: usize) -> Self {
        self.batcher = self.batcher.with_chunk_events(chunk_events);
        self
    }

    /// The store requests of one planned kabupaten/kota, in plan order.
    pub fn appends_of(&self, plan: &RegencyPlan) -> Result<Vec<Append>, AppError> {
        self.batcher.appends_of(plan)
    }

    /// Adds one planned kabupaten/kota; writes every batch it fills.
    pub async fn push(&mut self, plan: &RegencyPlan) -> Result<(), AppError> {
        for batch in self.batcher.add(plan)? {
            self.write(batch).await?;
        }
        Ok(())
    }

    /// Writes one batch, in one transaction.
    pub async fn write(&mut self, batch: SeedBatch) -> Result<(), AppError> {
        let written = self.store.write_bulk(&batch.bulk).await?;
        self.outcome.communities += batch.communities;
        self.outcome.written.events += written.events;
        self.outcome.written.claims += written.claims;
        self.outcome.written.keys += written.keys;
        Ok(())
    }

    /// Writes what is pending, in one transaction.
    pub async fn flush(&mut self) -> Result<(), AppError> {
        match self.batcher.take() {
            Some(batch) => self.write(batch).await,
            None => Ok(()),
        }
    }

    /// Events planned so far: written, or pending in the next batch.
    pub fn processed(&self) -> u64 {
        self.outcome.written.events + self.batcher.pending_events()
    }

    /// What was written so far.
    pub fn outcome(&self) -> SeedOutcome {
        self.outcome
    }
}

/// Plans and writes a whole seed: the kabupaten/kota of `within` (a province or kabupaten/kota
/// code; all of Indonesia when `None`), planned on a blocking thread while the previous ones are
/// written. `progress(events written, events expected)` is called after every kabupaten/kota.
pub async fn seed(
    seeder: &mut BulkSeeder,
    regions: &'static simpul_regions::Regions,
    within: Option<&RegionCode>,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<SeedOutcome, SeedError> {
    let config = seeder.batcher.config;
    let counts: Vec<(RegionCode, u32)> = simpul_demo::regency_counts(&config, regions)
        .into_iter()
        .filter(|(code, _)| within.is_none_or(|w| code.is_within(w)))
        .collect();
    let summary = simpul_demo::describe(&config, regions);
    let expected = if within.is_none() {
        summary.expected_events
    } else {
        let total_kim: u64 = summary.total_kim.max(1);
        let kim: u64 = counts.iter().map(|(_, n)| u64::from(*n)).sum();
        summary.expected_events * kim / total_kim
    };
    // Plans are made and rendered into batches on a blocking thread while the writer streams
    // the previous batch to the store: the two cores of a small server are both kept busy, one
    // planning and rendering, the other (the database) storing.
    let mut batcher = seeder.batcher.fresh();
    let (sender, mut batches) = tokio::sync::mpsc::channel::<Result<SeedBatch, SeedError>>(2);
    let planner = tokio::task::spawn_blocking(move || {
        for (regency, count) in counts {
            if count == 0 {
                continue;
            }
            let filled =
                simpul_demo::plan_regency(&config, &batcher.services, regions, &regency, count)
                    .map_err(SeedError::from)
                    .and_then(|plan| batcher.add(&plan).map_err(SeedError::from));
            match filled {
                Ok(filled) => {
                    for batch in filled {
                        if sender.blocking_send(Ok(batch)).is_err() {
                            return;
                        }
                    }
                }
                Err(error) => {
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            }
        }
        if let Some(batch) = batcher.take() {
            let _ = sender.blocking_send(Ok(batch));
        }
    });
    while let Some(batch) = batches.recv().await {
        seeder.write(batch?).await?;
        progress(seeder.processed(), expected);
    }
    planner
        .await
        .map_err(|e| SeedError::Planner(e.to_string()))?;
    seeder.flush().await?;
    progress(seeder.outcome().written.events, expected);
    Ok(seeder.outcome())
}

/// The regions a seed may be limited to: a province or a kabupaten/kota.
pub fn seed_scope(code: &RegionCode) -> bool {
    matches!(
        code.level(),
        simpul_domain::RegionLevel::Province | simpul_domain::RegionLevel::Regency
    )
}

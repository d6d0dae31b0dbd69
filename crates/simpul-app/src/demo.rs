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
use simpul_store::{Append, BulkOutcome, EventStore, KeyStore, WrappedKey};

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

/// One planned kabupaten/kota as store requests: the appends, the wrapped keys of its persons and
/// the communities it forms.
pub struct Prepared {
    appends: Vec<Append>,
    wrapped: Vec<WrappedKey>,
    communities: u64,
}

/// Turns planned regencies into store requests and writes them in chunks.
pub struct BulkSeeder {
    store: EventStore,
    keys: KeyStore,
    services: CommunityServices,
    config: DemoConfig,
    chunk_events: usize,
    appends: Vec<Append>,
    wrapped: Vec<WrappedKey>,
    pending_events: usize,
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
            store,
            keys,
            services,
            config,
            chunk_events: CHUNK_EVENTS,
            appends: Vec::new(),
            wrapped: Vec::new(),
            pending_events: 0,
            outcome: SeedOutcome::default(),
        }
    }

    /// The same seeder with another chunk size (tests use small ones).
    pub fn with_chunk_events(mut self, chunk_events: usize) -> Self {
        self.chunk_events = chunk_events.max(1);
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

    /// The store requests of one planned kabupaten/kota (CPU only: serialising payloads,
    /// wrapping keys), so it can run on the planning thread.
    pub fn prepare(&self, plan: &RegencyPlan) -> Result<Prepared, AppError> {
        let wrapped = plan
            .persons
            .iter()
            .map(|person| {
                self.keys
                    .wrap(person.person_id, &DataKey::from_bytes(person.key))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let communities = plan
            .steps
            .iter()
            .filter(|s| s.events.iter().any(|e| e.name() == "CommunityFormed"))
            .count() as u64;
        Ok(Prepared {
            appends: self.appends_of(plan)?,
            wrapped,
            communities,
        })
    }

    /// Adds one planned kabupaten/kota; writes a chunk whenever enough events are pending.
    pub async fn push(&mut self, plan: &RegencyPlan) -> Result<(), AppError> {
        let prepared = self.prepare(plan)?;
        self.push_prepared(prepared).await
    }

    /// Adds one prepared kabupaten/kota; writes a chunk whenever enough events are pending.
    pub async fn push_prepared(&mut self, prepared: Prepared) -> Result<(), AppError> {
        self.wrapped.extend(prepared.wrapped);
        self.outcome.communities += prepared.communities;
        for append in prepared.appends {
            self.pending_events += append.events.len();
            self.appends.push(append);
            if self.pending_events >= self.chunk_events {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Writes what is pending, in one transaction.
    pub async fn flush(&mut self) -> Result<(), AppError> {
        if self.appends.is_empty() && self.wrapped.is_empty() {
            return Ok(());
        }
        let written = self.store.append_bulk(&self.appends, &self.wrapped).await?;
        self.outcome.written.events += written.events;
        self.outcome.written.claims += written.claims;
        self.outcome.written.keys += written.keys;
        self.appends.clear();
        self.wrapped.clear();
        self.pending_events = 0;
        Ok(())
    }

    /// Events planned so far: written, or pending in the next chunk.
    pub fn processed(&self) -> u64 {
        self.outcome.written.events + self.pending_events as u64
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
    let config = seeder.config;
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
    // Plans are made and turned into store requests on a blocking thread while the previous ones
    // are written.
    let preparer = BulkSeeder::new(
        seeder.store.clone(),
        seeder.keys.clone(),
        seeder.services.clone(),
        config,
    );
    let (sender, mut plans) = tokio::sync::mpsc::channel::<Result<Prepared, SeedError>>(2);
    let planner = tokio::task::spawn_blocking(move || {
        for (regency, count) in counts {
            if count == 0 {
                continue;
            }
            let prepared =
                simpul_demo::plan_regency(&config, &preparer.services, regions, &regency, count)
                    .map_err(SeedError::from)
                    .and_then(|plan| preparer.prepare(&plan).map_err(SeedError::from));
            let failed = prepared.is_err();
            if sender.blocking_send(prepared).is_err() || failed {
                return;
            }
        }
    });
    while let Some(prepared) = plans.recv().await {
        seeder.push_prepared(prepared?).await?;
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

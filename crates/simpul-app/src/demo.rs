//! `simpul demo seed`: writes the deterministic histories planned by `simpul-demo` to the store.
//!
//! Every event was decided by the aggregate while planning (`Community::decide`, the same rules
//! as the API); here each step becomes the same store request the executor would make
//! ([`append_request`]), and the requests go in bulk — many communities per transaction, `COPY`
//! on PostgreSQL — in bounded chunks so no write transaction stays open long.
//!
//! **Resuming.** A seed is deterministic and every transaction of it lands whole or not at all,
//! so a run that was stopped part-way (killed, a lost connection) leaves, for every KIM, either
//! nothing or the first events of its planned stream, and the persons' keys of every
//! kabupaten/kota with stored events (they go in the transaction of its first events). [`seed`]
//! first asks whether the store holds any stream of the seed's KIM (one cheap lookup of ids
//! derived without planning; nothing more on an empty store). If it does, it *surveys* before
//! writing anything: each kabupaten/kota with stored streams is planned and every stored event
//! compared with the planned one (type, version, payload, metadata), every stored key must open
//! its person's sealed name. Anything else under the seed's ids — another `--seed`, `--scale`,
//! a later `--until`, other data, another master key — is refused ([`SeedError::NotThisSeed`])
//! with nothing written. Then only the rest is written: complete streams are skipped, a stream
//! cut part-way gets its missing sequences (and their nomor induk claims), keys are written for
//! persons no stored event names yet. A seed already complete writes nothing
//! ([`SeedOutcome::already_stored`] > 0, nothing written).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use simpul_demo::{DemoConfig, RegencyPlan};
use simpul_domain::sealed::{DataKey, SealedText};
use simpul_domain::{CommunityEvent, CommunityServices, RegionCode};
use simpul_store::{
    Append, BulkBatch, BulkOutcome, EventStore, KeyStore, StoreError, StoredEvent, Unsealed,
    SQLITE_IN_LIST,
};
use uuid::Uuid;

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
    /// The store holds data under this seed's ids that this seed would not write: another
    /// `--seed`, `--scale` or `--until`, other data, or keys wrapped by another master key.
    /// Found before anything was written.
    #[error("the store holds data under this seed's ids that this seed would not write: {0}")]
    NotThisSeed(String),
}

/// What a seed wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedOutcome {
    /// Communities formed.
    pub communities: u64,
    /// Events, claims and keys stored by this run.
    pub written: BulkOutcome,
    /// Events of this seed the store held before this run (an interrupted run's), checked
    /// against the plan and not written again. With nothing written: the seed was complete.
    pub already_stored: u64,
}

/// The request id of a planned step: deterministic, so a seed replays byte for byte.
fn request_id(config: &DemoConfig, community: &Uuid, sequence: u64) -> String {
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
    /// What the store held of the seed before this run (resuming), or `None` on the fast path:
    /// nothing of the seed is stored, everything planned is written.
    stored: Option<Arc<Stored>>,
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
            stored: None,
        }
    }

    /// An empty batcher with the same store, keys and settings.
    fn fresh(&self) -> Self {
        let mut fresh = Self::new(
            self.store.clone(),
            self.keys.clone(),
            self.services.clone(),
            self.config,
        )
        .with_chunk_events(self.chunk_events);
        fresh.stored = self.stored.clone();
        fresh
    }

    fn with_chunk_events(mut self, chunk_events: usize) -> Self {
        self.chunk_events = chunk_events.max(1);
        self.limit = first_limit(self.chunk_events);
        self
    }

    /// The store requests of one planned kabupaten/kota, in plan order.
    pub fn appends_of(&self, plan: &RegencyPlan) -> Result<Vec<Append>, AppError> {
        let mut versions: HashMap<Uuid, u64> = HashMap::new();
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
    /// seals. When resuming, only what the store does not hold yet is added.
    pub fn add(&mut self, plan: &RegencyPlan) -> Result<Vec<SeedBatch>, AppError> {
        let stored = self.stored.clone();
        let wrapped = plan
            .persons
            .iter()
            .filter(|person| {
                stored
                    .as_ref()
                    .is_none_or(|stored| !stored.keyed.contains(&person.person_id))
            })
            .map(|person| {
                self.keys
                    .wrap(person.person_id, &DataKey::from_bytes(person.key))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.current.bulk.push_keys(wrapped);
        let mut full = Vec::new();
        for (step, append) in plan.steps.iter().zip(self.appends_of(plan)?) {
            let (skipped, append) = match &stored {
                None => (0, append),
                Some(stored) => match stored.rest(append) {
                    Some(rest) => rest,
                    None => continue,
                },
            };
            self.current.bulk.push(&append)?;
            if step
                .events
                .iter()
                .skip(skipped)
                .any(|e| e.name() == "CommunityFormed")
            {
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

    /// Events planned so far by this run: written, or pending in the next batch.
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
    // The one check on the fast path: does the store hold any stream of this seed's KIM? (Ids
    // are derived without planning; on an empty store every lookup finds nothing.) If so, find
    // and check everything it holds before writing anything, and write only the rest.
    let ids: Vec<String> = counts
        .iter()
        .flat_map(|(regency, count)| simpul_demo::community_ids(&config, regency, *count))
        .map(|id| id.to_string())
        .collect();
    if holds_any(&seeder.store, &ids).await? {
        let surveyor = seeder.batcher.fresh();
        let runtime = tokio::runtime::Handle::current();
        let scope = counts.clone();
        let found =
            tokio::task::spawn_blocking(move || survey(&surveyor, &runtime, regions, &scope))
                .await
                .map_err(|e| SeedError::Planner(e.to_string()))??;
        seeder.outcome.already_stored += found.already;
        if !found.remaining {
            return Ok(seeder.outcome());
        }
        seeder.batcher.stored = Some(Arc::new(found.stored));
    }
    let expected = expected.saturating_sub(seeder.outcome.already_stored);
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

/// Whether the store holds events of any of the KIM `ids`: one query per [`SQLITE_IN_LIST`] ids
/// (by the events' primary key), nothing read when none has any.
async fn holds_any(store: &EventStore, ids: &[String]) -> Result<bool, AppError> {
    for chunk in ids.chunks(SQLITE_IN_LIST) {
        if !store.streams(chunk).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What the store held of a seed before the run, found and checked by [`survey`] before anything
/// is written: the run writes only the rest.
#[derive(Debug, Default)]
struct Stored {
    /// Per KIM of the seed with events stored: how many. They are its first planned events,
    /// checked one by one.
    events: HashMap<String, u64>,
    /// Persons whose key is not to be written: stored already (opening the person's sealed name),
    /// named by no event of the plan, or gone although stored events name them (erased since:
    /// never re-created).
    keyed: HashSet<Uuid>,
}

impl Stored {
    /// The part of `append` the store does not hold yet, with how many of its events were left
    /// out; `None` when all of it is stored. A nomor induk claim goes with its event.
    fn rest(&self, mut append: Append) -> Option<(usize, Append)> {
        let stored = self.events.get(&append.community_id).copied().unwrap_or(0);
        if append.after_sequence >= stored {
            return Some((0, append));
        }
        let skipped = usize::try_from(stored - append.after_sequence).unwrap_or(usize::MAX);
        if skipped >= append.events.len() {
            return None;
        }
        append.events.drain(..skipped);
        append.claims.retain(|claim| claim.sequence > stored);
        append.after_sequence = stored;
        Some((skipped, append))
    }
}

/// What [`survey`] found.
struct Survey {
    stored: Stored,
    /// Events of the seed already stored.
    already: u64,
    /// Whether any event of the seed is still to be written.
    remaining: bool,
}

/// Finds, kabupaten/kota by kabupaten/kota, what the store holds of the seed and checks it
/// against the plan. Only the kabupaten/kota with stored streams are planned. Blocking: runs
/// off the async workers, reading through `runtime`.
fn survey(
    batcher: &Batcher,
    runtime: &tokio::runtime::Handle,
    regions: &'static simpul_regions::Regions,
    counts: &[(RegionCode, u32)],
) -> Result<Survey, SeedError> {
    let mut survey = Survey {
        stored: Stored::default(),
        already: 0,
        remaining: false,
    };
    for (regency, count) in counts {
        let ids: Vec<String> = simpul_demo::community_ids(&batcher.config, regency, *count)
            .iter()
            .map(Uuid::to_string)
            .collect();
        let mut planned: Option<Planned> = None;
        let mut found = 0;
        for chunk in ids.chunks(SQLITE_IN_LIST) {
            let streams = runtime
                .block_on(batcher.store.streams(chunk))
                .map_err(AppError::from)?;
            if streams.is_empty() {
                continue;
            }
            if planned.is_none() {
                planned = Some(Planned::new(batcher, regions, regency, *count)?);
            }
            let Some(planned) = planned.as_ref() else {
                continue;
            };
            for (id, events) in &streams {
                let stored = planned.check(id, events)?;
                if stored < planned.length(id) {
                    survey.remaining = true;
                }
                survey.already += stored;
                survey.stored.events.insert(id.clone(), stored);
                found += 1;
            }
        }
        if found < ids.len() {
            survey.remaining = true;
        }
        if let Some(planned) = planned {
            planned.check_keys(batcher, runtime, &mut survey.stored)?;
        }
    }
    Ok(survey)
}

/// One kabupaten/kota's plan as store requests, indexed by KIM, to check what is stored.
struct Planned {
    plan: RegencyPlan,
    appends: Vec<Append>,
    /// Per KIM: its appends, in order.
    streams: HashMap<String, Vec<usize>>,
}

impl Planned {
    fn new(
        batcher: &Batcher,
        regions: &'static simpul_regions::Regions,
        regency: &RegionCode,
        count: u32,
    ) -> Result<Self, SeedError> {
        let plan =
            simpul_demo::plan_regency(&batcher.config, &batcher.services, regions, regency, count)?;
        let appends = batcher.appends_of(&plan)?;
        let mut streams: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, append) in appends.iter().enumerate() {
            streams
                .entry(append.community_id.clone())
                .or_default()
                .push(index);
        }
        Ok(Self {
            plan,
            appends,
            streams,
        })
    }

    /// The appends of KIM `id`, in order.
    fn appends_of<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a Append> + 'a {
        self.streams
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|index| self.appends.get(*index))
    }

    /// The number of events planned for KIM `id`.
    fn length(&self, id: &str) -> u64 {
        self.appends_of(id).map(|a| a.events.len() as u64).sum()
    }

    /// Checks that `stored` (KIM `id`'s stream as read back, in sequence order) is the start of
    /// its planned stream: sequences from 1 without a gap, each event equal to the planned one.
    /// Returns its length.
    fn check(&self, id: &str, stored: &[StoredEvent]) -> Result<u64, SeedError> {
        let differs = |sequence: u64, why: &str| {
            SeedError::NotThisSeed(format!("event {sequence} of KIM {id} {why}"))
        };
        let mut events = stored.iter();
        let mut sequence = 0u64;
        'stream: for append in self.appends_of(id) {
            let metadata = append.metadata.to_map().map_err(AppError::from)?;
            for event in &append.events {
                let Some(stored) = events.next() else {
                    break 'stream;
                };
                sequence += 1;
                if stored.sequence != sequence {
                    return Err(differs(
                        stored.sequence,
                        &format!("follows event {} (a gap)", sequence - 1),
                    ));
                }
                let payload: serde_json::Value = serde_json::from_str(&event.payload)
                    .map_err(|e| SeedError::Planner(format!("a planned payload: {e}")))?;
                let same = stored.event_type == event.event_type
                    && stored.event_version == event.event_version
                    && stored.payload == payload
                    && stored.metadata.len() == metadata.len()
                    && metadata
                        .iter()
                        .all(|(key, value)| stored.metadata.get(key) == Some(value));
                if !same {
                    return Err(differs(sequence, "differs from this seed's"));
                }
            }
        }
        if let Some(extra) = events.next() {
            return Err(differs(extra.sequence, "is beyond this seed's history"));
        }
        Ok(sequence)
    }

    /// Sorts this kabupaten/kota's persons: a stored key must open the person's sealed name (the
    /// same key: the same seed, the same master key); persons whose key is stored, who are named
    /// by no event, or whose stored events name them although their key is gone (erased) get no
    /// key written. `stored.events` already holds this kabupaten/kota's streams.
    fn check_keys(
        &self,
        batcher: &Batcher,
        runtime: &tokio::runtime::Handle,
        stored: &mut Stored,
    ) -> Result<(), SeedError> {
        // Where each person's name is sealed first: the KIM, the sequence, the sealed name.
        let mut first: HashMap<Uuid, (&str, u64, &SealedText)> = HashMap::new();
        for (step, append) in self.plan.steps.iter().zip(&self.appends) {
            for (event, sequence) in step.events.iter().zip(append.after_sequence + 1..) {
                if let CommunityEvent::OfficerAppointed(appointed) = event {
                    first.entry(appointed.person_id).or_insert((
                        append.community_id.as_str(),
                        sequence,
                        &appointed.name,
                    ));
                }
            }
        }
        let persons: Vec<Uuid> = self.plan.persons.iter().map(|p| p.person_id).collect();
        let keys =
            runtime
                .block_on(batcher.keys.keys_of(&persons))
                .map_err(|error| match error {
                    StoreError::WrongMasterKey(person) => SeedError::NotThisSeed(format!(
                        "the key of person {person} was wrapped by another master key"
                    )),
                    other => SeedError::Write(other.into()),
                })?;
        for person in &self.plan.persons {
            let Some((community, sequence, sealed)) = first.get(&person.person_id) else {
                stored.keyed.insert(person.person_id);
                continue;
            };
            match keys.open(sealed) {
                Ok(Unsealed::Plain(name)) if name == person.name => {
                    stored.keyed.insert(person.person_id);
                }
                Ok(Unsealed::Plain(_)) | Err(_) => {
                    return Err(SeedError::NotThisSeed(format!(
                        "the stored key of person {} does not open this seed's sealed name",
                        person.person_id
                    )))
                }
                Ok(Unsealed::Erased) => {
                    if stored
                        .events
                        .get(*community)
                        .is_some_and(|count| *count >= *sequence)
                    {
                        stored.keyed.insert(person.person_id);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The regions a seed may be limited to: a province or a kabupaten/kota.
pub fn seed_scope(code: &RegionCode) -> bool {
    matches!(
        code.level(),
        simpul_domain::RegionLevel::Province | simpul_domain::RegionLevel::Regency
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use simpul_store::{Append, EventMetadata, NewEvent, RegistrationClaim};

    use super::Stored;

    /// Events 3, 4 and 5 of KIM `k`, with nomor induk claims on 3 and 5.
    fn append() -> Append {
        Append {
            community_id: "k".to_owned(),
            after_sequence: 2,
            events: (3..=5)
                .map(|n| NewEvent {
                    event_type: format!("E{n}"),
                    event_version: "1.0".to_owned(),
                    payload: "{}".to_owned(),
                })
                .collect(),
            metadata: EventMetadata {
                actor_id: "demo:regency:34.04".to_owned(),
                actor_role: "regency".to_owned(),
                request_id: "demo-1-1-k-3".to_owned(),
                reason: None,
                recorded_at: chrono::DateTime::UNIX_EPOCH,
                region_edition: "2025".to_owned(),
                import_file: None,
                import_sha256: None,
            },
            claims: [3, 5]
                .map(|sequence| RegistrationClaim {
                    regency: "34.04".to_owned(),
                    number: format!("KIM-3404-000{sequence}"),
                    sequence,
                })
                .to_vec(),
        }
    }

    fn stored(count: Option<u64>) -> Stored {
        let mut stored = Stored::default();
        if let Some(count) = count {
            stored.events.insert("k".to_owned(), count);
        }
        stored
    }

    #[test]
    fn only_the_unstored_part_of_an_append_is_written() {
        for count in [None, Some(1), Some(2)] {
            let (skipped, rest) = stored(count).rest(append()).unwrap();
            assert_eq!(skipped, 0);
            assert_eq!(rest.after_sequence, 2);
            assert_eq!(rest.events.len(), 3);
            assert_eq!(rest.claims.len(), 2);
        }
        // Cut after event 3: events 4 and 5 follow 3; the claim of 3 is stored with its event.
        let (skipped, rest) = stored(Some(3)).rest(append()).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(rest.after_sequence, 3);
        let types: Vec<&str> = rest.events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["E4", "E5"]);
        let claims: Vec<u64> = rest.claims.iter().map(|c| c.sequence).collect();
        assert_eq!(claims, [5]);
        assert_eq!(rest.metadata, append().metadata);
        let (skipped, rest) = stored(Some(4)).rest(append()).unwrap();
        assert_eq!((skipped, rest.after_sequence, rest.events.len()), (2, 4, 1));
        for count in [5, 9] {
            assert!(stored(Some(count)).rest(append()).is_none());
        }
    }
}

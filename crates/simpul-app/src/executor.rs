//! Running one command: load (or take from the cache), decide, append, retry on conflict.
//!
//! cqrs-es' `CqrsFramework::execute` returns nothing about what it committed and knows no
//! expected version, so Simpul runs the same load → handle → commit cycle here, with the
//! aggregate logic untouched (`Community::decide`, the core of its `handle`) and the store's
//! single-round-trip append.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate as _;
use simpul_domain::events::CommunityEvent;
use simpul_domain::{ActorRole, Community, CommunityCommand, CommunityServices};
use simpul_store::{
    Append, Appended, Completion, EventMetadata, EventStore, NewEvent, RegistrationClaim,
};

use crate::error::AppError;

/// How many times a command is decided again after losing a race, when the caller sent no
/// expected version.
pub(crate) const MAX_ATTEMPTS: u32 = 8;
/// Communities kept in the aggregate cache before it is cleared.
const CACHE_CAPACITY: usize = 50_000;

/// Who sends a command and from where (R11), and what version they expect.
#[derive(Clone, Debug)]
pub struct CommandContext {
    /// The principal.
    pub actor_id: String,
    /// The principal's role.
    pub actor_role: ActorRole,
    /// The request id (`X-Request-Id` or generated).
    pub request_id: String,
    /// The version the caller last saw (`If-Match`); a mismatch is an error, not a retry.
    pub expected_version: Option<u64>,
}

/// What a recorded command produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The community's version after the command.
    pub version: u64,
    /// The global position of the command's last event.
    pub position: u64,
    /// Every appended event.
    pub appended: Vec<Appended>,
}

/// Runs commands against one event store.
pub struct CommandExecutor {
    store: EventStore,
    services: CommunityServices,
    cache: Mutex<HashMap<String, (Community, u64)>>,
    /// One turn per community: commands on one KIM in this process queue instead of racing each
    /// other (only writers in other processes can still make a command decide again).
    turns: Turns,
}

/// Each community's turn slot, while a command holds it or waits for it.
type Turns = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// A command's turn on its community; gives the community's slot back when the last holder or
/// waiter is done (also when the command's future is dropped half-way).
struct Turn {
    turns: Turns,
    community_id: String,
    slot: Arc<tokio::sync::Mutex<()>>,
}

impl Turn {
    fn new(turns: &Turns, community_id: &str) -> Self {
        let slot = turns
            .lock()
            .map(|mut map| map.entry(community_id.to_owned()).or_default().clone())
            .unwrap_or_default();
        Self {
            turns: turns.clone(),
            community_id: community_id.to_owned(),
            slot,
        }
    }
}

/// A turn held on one community among many ([`CommandExecutor::take_turns`]). The guard goes
/// first (fields drop in order), so the turn finds its slot free when it tidies the map.
pub(crate) struct HeldTurn {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    _turn: Turn,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Ok(mut map) = self.turns.lock() {
            // The map's and this turn's: nobody else holds or waits for it.
            if Arc::strong_count(&self.slot) == 2 {
                map.remove(&self.community_id);
            }
        }
    }
}

impl CommandExecutor {
    /// An executor over `store` with the domain's services.
    pub fn new(store: EventStore, services: CommunityServices) -> Self {
        Self {
            store,
            services,
            cache: Mutex::new(HashMap::new()),
            turns: Arc::default(),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The domain services.
    pub fn services(&self) -> &CommunityServices {
        &self.services
    }

    /// Records `command` for `community_id`, or explains why not. Nothing is half-applied.
    #[tracing::instrument(skip_all, fields(community.id = %community_id, command = command.name()))]
    pub async fn execute(
        &self,
        community_id: &str,
        command: CommunityCommand,
        context: &CommandContext,
    ) -> Result<Outcome, AppError> {
        self.execute_at(community_id, command, context, None).await
    }

    /// [`execute`](Self::execute) with the time the events are recorded at given by the caller
    /// (`None`: now) — for generated histories, which must replay the same byte for byte.
    pub async fn execute_at(
        &self,
        community_id: &str,
        command: CommunityCommand,
        context: &CommandContext,
        recorded_at: Option<DateTime<Utc>>,
    ) -> Result<Outcome, AppError> {
        self.run(community_id, command, context, recorded_at, None)
            .await
    }

    /// [`execute`](Self::execute) for an idempotent request: its outcome is recorded against its
    /// `Idempotency-Key` in the transaction that appends its events.
    pub async fn execute_completing(
        &self,
        community_id: &str,
        command: CommunityCommand,
        context: &CommandContext,
        completes: &Completion,
    ) -> Result<Outcome, AppError> {
        self.run(community_id, command, context, None, Some(completes))
            .await
    }

    async fn run(
        &self,
        community_id: &str,
        command: CommunityCommand,
        context: &CommandContext,
        recorded_at: Option<DateTime<Utc>>,
        completes: Option<&Completion>,
    ) -> Result<Outcome, AppError> {
        let turn = Turn::new(&self.turns, community_id);
        let _mine = turn.slot.lock().await;
        let mut trust_cache = true;
        for _attempt in 0..MAX_ATTEMPTS {
            let (community, version) = self.current(community_id, trust_cache).await?;
            if let Some(expected) = context.expected_version {
                if expected != version {
                    if trust_cache {
                        // The cache may be behind another process: check the log before refusing.
                        trust_cache = false;
                        continue;
                    }
                    return Err(AppError::VersionMismatch {
                        expected,
                        actual: version,
                    });
                }
            }
            let events = community.decide(command.clone(), &self.services)?;
            let append = append_request(
                &self.services,
                community_id,
                version,
                &events,
                context,
                recorded_at.unwrap_or_else(Utc::now),
            )?;
            match self.store.append_completing(&append, completes).await {
                Ok(appended) => {
                    let new_version = version + appended.len() as u64;
                    let position = appended.iter().map(|a| a.position).max().unwrap_or(0);
                    self.remember(community_id, community, events, new_version);
                    return Ok(Outcome {
                        version: new_version,
                        position,
                        appended,
                    });
                }
                Err(error) if error.is_conflict() => {
                    trust_cache = false;
                    if let Some(expected) = context.expected_version {
                        let (_, actual) = self.current(community_id, false).await?;
                        return Err(AppError::VersionMismatch { expected, actual });
                    }
                    tracing::debug!("lost a race; deciding again on a fresh load");
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(AppError::Conflict {
            community_id: community_id.to_owned(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The turns of every community in `ids` (sorted and without repeats here), taken one by one
    /// in id order and held until the returned turns are dropped: a command over many KIM waits
    /// for the commands of this process on any of them, and two such commands never wait for
    /// each other in a cycle (a single command holds one turn only).
    pub(crate) async fn take_turns(&self, ids: &[String]) -> Vec<HeldTurn> {
        let mut ordered: Vec<&String> = ids.iter().collect();
        ordered.sort();
        ordered.dedup();
        let mut held = Vec::with_capacity(ordered.len());
        for id in ordered {
            let turn = Turn::new(&self.turns, id);
            let guard = turn.slot.clone().lock_owned().await;
            held.push(HeldTurn {
                _guard: guard,
                _turn: turn,
            });
        }
        held
    }

    /// Many communities at once, each with its version, in the order of `ids`: from the cache
    /// when `trust_cache` (what it lacks read in one query), otherwise all from the log; what
    /// was read is cached. A community with no events is `Community::default()` at version 0.
    pub(crate) async fn states(
        &self,
        ids: &[String],
        trust_cache: bool,
    ) -> Result<Vec<(Community, u64)>, AppError> {
        let mut found: HashMap<&str, (Community, u64)> = HashMap::new();
        if trust_cache {
            for id in ids {
                if let Some(hit) = self.cached(id) {
                    found.insert(id, hit);
                }
            }
        }
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !found.contains_key(id.as_str()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let mut streams = self.store.streams(&missing).await?;
            for id in ids {
                let Some(stream) = streams.remove(id) else {
                    continue;
                };
                let mut community = Community::default();
                let mut version = 0;
                for stored in stream {
                    let event: CommunityEvent =
                        serde_json::from_value(stored.payload).map_err(|e| {
                            AppError::Store(simpul_store::StoreError::Corrupt(format!(
                                "event {} of {id}: {e}",
                                stored.sequence
                            )))
                        })?;
                    community.apply(event);
                    version = stored.sequence;
                }
                self.store_in_cache(id, community.clone(), version);
                found.insert(id, (community, version));
            }
        }
        Ok(ids
            .iter()
            .map(|id| found.remove(id.as_str()).unwrap_or_default())
            .collect())
    }

    /// The community as this executor last saw it (its cache, else the log), for checks such as
    /// authorization that must not cost a replay on every request. Writes still decide on a
    /// version the store confirms.
    pub async fn current_state(&self, community_id: &str) -> Result<(Community, u64), AppError> {
        self.current(community_id, true).await
    }

    /// Loads a community from the log (bypassing the cache) with its version.
    pub async fn load(&self, community_id: &str) -> Result<(Community, u64), AppError> {
        Ok(self.store.load(community_id).await?)
    }

    async fn current(
        &self,
        community_id: &str,
        trust_cache: bool,
    ) -> Result<(Community, u64), AppError> {
        match self.cached(community_id) {
            Some(hit) if trust_cache => return Ok(hit),
            // The cache may be behind (a lost race, another process): read only what it lacks,
            // not the whole stream again — on a busy KIM every conflict would replay it all.
            Some((community, version)) => {
                if let Some(caught_up) = self.catch_up(community_id, community, version).await? {
                    return Ok(caught_up);
                }
            }
            None => {}
        }
        let loaded = self.store.load(community_id).await?;
        // An id with no events is not cached: another process (a registry import, whose ids are
        // derived from its keys) may form it at any time, and a cached absence would hide it.
        if loaded.1 > 0 {
            self.store_in_cache(community_id, loaded.0.clone(), loaded.1);
        }
        Ok(loaded)
    }

    /// `community` at `version` brought up to the log's version with the events after it, and
    /// cached; `None` if those events do not follow on (then the caller loads the whole stream).
    async fn catch_up(
        &self,
        community_id: &str,
        mut community: Community,
        version: u64,
    ) -> Result<Option<(Community, u64)>, AppError> {
        let mut current = version;
        for (sequence, event) in self.store.events_after(community_id, version).await? {
            if sequence != current + 1 {
                return Ok(None);
            }
            community.apply(event);
            current = sequence;
        }
        self.store_in_cache(community_id, community.clone(), current);
        Ok(Some((community, current)))
    }

    fn cached(&self, community_id: &str) -> Option<(Community, u64)> {
        self.cache
            .lock()
            .ok()
            .and_then(|cache| cache.get(community_id).cloned())
    }

    /// Caches `community` after `events` were appended, at `version`.
    pub(crate) fn remember(
        &self,
        community_id: &str,
        mut community: Community,
        events: Vec<CommunityEvent>,
        version: u64,
    ) {
        for event in events {
            community.apply(event);
        }
        self.store_in_cache(community_id, community, version);
    }

    fn store_in_cache(&self, community_id: &str, community: Community, version: u64) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            let newer = cache
                .get(community_id)
                .is_none_or(|(_, cached_version)| *cached_version < version);
            if newer {
                cache.insert(community_id.to_owned(), (community, version));
            }
        }
    }
}

/// The store request for `events` decided on `community_id` at `version`: their payloads, the
/// nomor induk claims they make, and the metadata of R11. The executor and the bulk writers
/// (demo generator, import) build their appends here, so both write the same rows.
pub fn append_request(
    services: &CommunityServices,
    community_id: &str,
    version: u64,
    events: &[CommunityEvent],
    context: &CommandContext,
    recorded_at: DateTime<Utc>,
) -> Result<Append, AppError> {
    let mut claims = Vec::new();
    let mut new_events = Vec::with_capacity(events.len());
    for (event, sequence) in events.iter().zip(version + 1..) {
        if let CommunityEvent::RegistrationNumberAssigned(assigned) = event {
            claims.push(RegistrationClaim {
                regency: assigned.regency.to_string(),
                number: assigned.number.canonical(),
                sequence,
            });
        }
        new_events.push(NewEvent {
            event_type: event.name().to_owned(),
            event_version: simpul_domain::events::EVENT_VERSION.to_owned(),
            payload: serde_json::to_string(event)
                .map_err(|e| AppError::Store(simpul_store::StoreError::Corrupt(e.to_string())))?,
        });
    }
    let reason = events
        .iter()
        .find_map(|event| event.reason())
        .map(|reason| reason.to_string());
    Ok(Append {
        community_id: community_id.to_owned(),
        after_sequence: version,
        events: new_events,
        metadata: EventMetadata {
            actor_id: context.actor_id.clone(),
            actor_role: context.actor_role.as_str().to_owned(),
            request_id: context.request_id.clone(),
            reason,
            recorded_at,
            region_edition: services.regions.edition().to_owned(),
            import_file: None,
            import_sha256: None,
        },
        claims,
    })
}

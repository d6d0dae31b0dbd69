//! The deterministic planner behind `simpul demo seed`: synthetic, realistic KIM histories since
//! 2019 with real Kemendagri 2025 region codes.
//!
//! Pure library: no I/O, no database, no clock, no OS randomness. The same [`DemoConfig`] always
//! gives byte-identical plans — community ids, person ids and keys, nomor induk, sealed names and
//! every date included — because every draw comes from a small generator written out in this
//! crate (xoshiro256** seeded by SplitMix64), keyed by the seed and the
//! kabupaten/kota code, and only IEEE-754 arithmetic is used on floating point.
//!
//! How it is used:
//! 1. [`regency_counts`] — KIM per kabupaten/kota (≈ 4,500 × scale nationally; DI Yogyakarta at
//!    its 2025 counts × scale). Cheap.
//! 2. [`plan_regency`] — per kabupaten/kota, independently (in parallel if wanted): the persons
//!    (data keys to store, names for tests) and the steps, each a command already decided by the
//!    `Community` aggregate with the events it produced, sorted by time.
//! 3. [`describe`] — the `--dry-run` summary without planning.
//! 4. [`community_ids`] — the ids of a kabupaten/kota's KIM without planning them (to find what a
//!    store already holds of a seed).
//!
//! What a plan holds: formation (recorded by the regency operator on the community's behalf),
//! officers with turnover, member changes, SK (sometimes revoked and re-issued), nomor induk,
//! bimtek sessions shared by many KIM of a kabupaten/kota (and some of its province), activities of
//! all five kinds, media channels and e-business (some deactivated), stage assessments twice a
//! year following the policy's evidence (and occasional lowering when evidence lapses), some
//! suspensions, reactivations and dissolutions: about 40–60 events per KIM. Attending bimtek
//! raises the chance of registering new media and e-business and of advancing at each assessment,
//! so "does bimtek speed progression?" has a true answer in the data.

mod counts;
mod kim;
mod names;
mod rng;
mod schedule;

#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use simpul_domain::sealed::SealError;
use simpul_domain::text::{TextError, Title};
use simpul_domain::{
    ActorRole, CommunityCommand, CommunityEvent, CommunityServices, DomainError, RegionCode,
    RegionLevel,
};
use simpul_regions::{RegionKind, Regions};
use uuid::Uuid;

pub use counts::{describe, regency_counts, DemoSummary, ProvinceSummary, DIY_2025};

use kim::{Context, Village};
use schedule::Schedule;

/// The first day a plan may date anything: KIM are formed from 2019 on.
pub const START: NaiveDate = date(2019, 1, 1);

/// The default last simulated day. Fixed (not "today"), so that a seed is reproducible.
pub const DEFAULT_UNTIL: NaiveDate = date(2025, 12, 31);

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 1;

const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoConfig {
    /// 1 ≈ the country today (~4,500 KIM); 10 and 100 multiply every kabupaten/kota's count.
    pub scale: u32,
    /// Same seed, same plan, byte for byte.
    pub seed: u64,
    /// The last simulated day. KIM are formed from 2019 to 2025; a plan with an earlier `until`
    /// is the prefix (per KIM, up to `until`) of the plan with a later one. After 2025 no new KIM
    /// are formed but the existing ones live on.
    pub until: NaiveDate,
}

impl DemoConfig {
    /// A checked configuration.
    pub fn new(scale: u32, seed: u64, until: NaiveDate) -> Result<Self, DemoError> {
        let config = Self { scale, seed, until };
        config.validate()?;
        Ok(config)
    }

    /// Scale at least 1, `until` not before [`START`].
    pub fn validate(&self) -> Result<(), DemoError> {
        if self.scale == 0 {
            return Err(DemoError::Scale(self.scale));
        }
        if self.until < START {
            return Err(DemoError::Until(self.until));
        }
        Ok(())
    }
}

impl Default for DemoConfig {
    /// Scale 1, [`DEFAULT_SEED`], [`DEFAULT_UNTIL`].
    fn default() -> Self {
        Self {
            scale: 1,
            seed: DEFAULT_SEED,
            until: DEFAULT_UNTIL,
        }
    }
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The scale is below 1.
    #[error("the demo scale must be at least 1, not {0}")]
    Scale(u32),
    /// `until` is before 2019-01-01.
    #[error("the demo history starts on {START}; --until {0} is before it")]
    Until(NaiveDate),
    /// The code is not a kabupaten/kota of the bundled edition.
    #[error("{0} is not a kabupaten/kota of the bundled region codes")]
    UnknownRegency(RegionCode),
    /// The kabupaten/kota has no desa/kelurahan to anchor a KIM in.
    #[error("kabupaten/kota {0} has no desa/kelurahan to anchor a KIM in")]
    NoVillages(RegionCode),
    /// The aggregate rejected a generated command: a planner bug.
    #[error(
        "demo planner bug: the aggregate rejected {command} on {on} for KIM {community_id}: {error}"
    )]
    Rejected {
        /// The KIM.
        community_id: Uuid,
        /// The command's name.
        command: &'static str,
        /// The simulated date.
        on: NaiveDate,
        /// The domain's answer.
        error: DomainError,
    },
    /// A generated text does not fit its type: a planner bug.
    #[error("demo planner bug: generated text {text:?} is invalid: {error}")]
    Text {
        /// The text.
        text: String,
        /// Why.
        error: TextError,
    },
    /// Sealing a name failed.
    #[error("sealing a demo officer's name failed: {0}")]
    Seal(SealError),
    /// Another inconsistency inside the planner.
    #[error("demo planner bug: {0}")]
    Planner(String),
}

/// A person the plan introduces (an officer). The persistence layer stores `key` as the person's
/// data key (wrapped by the master key, like any other); `name` is the plaintext that is sealed
/// in the events, kept only for tests and `--dry-run` output.
#[derive(Clone, PartialEq, Eq)]
pub struct DemoPerson {
    /// The person's id, as in `AppointOfficer::person_id`.
    pub person_id: Uuid,
    /// The 256-bit data key that seals the person's name and contact.
    pub key: [u8; 32],
    /// The generated name (plaintext).
    pub name: String,
}

impl fmt::Debug for DemoPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoPerson")
            .field("person_id", &self.person_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One command of the plan, already decided.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoStep {
    /// The KIM (aggregate id).
    pub community_id: Uuid,
    /// The simulated time of the fact: the `recorded_at` to store. Same day as the command's
    /// date, during office hours in WIB.
    pub at: DateTime<Utc>,
    /// `demo:<role>:<scope>`: `demo:regency:34.04`, `demo:province:34`,
    /// `demo:pegiat:<community id>` — the scope a token of that role would have.
    pub actor_id: String,
    /// A role the API allows for this command.
    pub actor_role: ActorRole,
    /// The command, as the API would have built it.
    pub command: CommunityCommand,
    /// Exactly what `Community::decide(command)` returned on the state folded (with
    /// `cqrs_es::Aggregate::apply`) from this KIM's earlier steps.
    pub events: Vec<CommunityEvent>,
}

/// The plan of one kabupaten/kota.
#[derive(Clone, Debug, PartialEq)]
pub struct RegencyPlan {
    /// The kabupaten/kota.
    pub regency: RegionCode,
    /// Every officer introduced, in order of first appointment per KIM.
    pub persons: Vec<DemoPerson>,
    /// Every step, sorted by `at`, then community id, then the KIM's own order.
    pub steps: Vec<DemoStep>,
}

impl RegencyPlan {
    /// The number of events in the plan.
    pub fn event_count(&self) -> usize {
        self.steps.iter().map(|step| step.events.len()).sum()
    }
}

/// Plans the `count` KIM of `regency` (usually its entry of [`regency_counts`]): each anchored in
/// a real desa/kelurahan of it, formed between 2019 and 2025 (those formed after
/// `config.until` are left out), and lived until `config.until`.
///
/// Every command is decided by `Community::decide` with `services` — the same aggregate and rules
/// as the API — and a rejection is returned as [`DemoError::Rejected`]. The plan depends only on
/// `(config, regency, count)` and the bundled region codes, so kabupaten/kota can be planned
/// independently and in parallel.
pub fn plan_regency(
    config: &DemoConfig,
    services: &CommunityServices,
    regions: &Regions,
    regency: &RegionCode,
    count: u32,
) -> Result<RegencyPlan, DemoError> {
    config.validate()?;
    let region = regions
        .get(regency)
        .filter(|region| region.level == RegionLevel::Regency)
        .ok_or_else(|| DemoError::UnknownRegency(regency.clone()))?;
    let province = region
        .parent
        .clone()
        .ok_or_else(|| DemoError::UnknownRegency(regency.clone()))?;
    let province_name = regions
        .get(&province)
        .map_or_else(|| province.to_string(), |p| p.name);
    let villages = villages(regions, regency);
    if count > 0 && villages.is_empty() {
        return Err(DemoError::NoVillages(regency.clone()));
    }
    let schedule = Schedule::build(
        config,
        regency,
        &region.display_name(),
        &province,
        &format!("Provinsi {province_name}"),
        count,
    )?;
    let ctx = Context {
        config,
        services,
        regency,
        regency_digits: regency.as_str().replace('.', ""),
        regency_actor: format!("demo:regency:{regency}"),
        province_actor: format!("demo:province:{province}"),
        villages: &villages,
        schedule: &schedule,
    };
    // Nomor induk follow the order of formation (ties by index): unique in the kabupaten/kota.
    let mut order: Vec<(NaiveDate, u32)> = (0..count)
        .map(|index| {
            let mut rng = counts::kim_rng(config.seed, regency, index);
            (counts::formation_date(&mut rng), index)
        })
        .collect();
    order.sort_unstable();
    let mut numbers = vec![0u32; count as usize];
    for (position, (_, index)) in order.iter().enumerate() {
        if let Some(slot) = numbers.get_mut(*index as usize) {
            *slot = position as u32 + 1;
        }
    }
    let mut persons = Vec::new();
    // Reserve what the dry-run estimate expects, so the large vector is not doubled while it grows.
    let (_, expected) = counts::estimate(config, regency, count);
    let mut steps = Vec::with_capacity(expected.saturating_add(expected / 16) as usize);
    for (index, number) in numbers.iter().enumerate() {
        let plan = kim::plan(&ctx, index as u32, *number)?;
        persons.extend(plan.persons);
        steps.extend(plan.steps);
    }
    Ok(RegencyPlan {
        regency: regency.clone(),
        persons,
        steps: sort_steps(steps),
    })
}

/// The ids of the KIM that [`plan_regency`] forms for `(config, regency, count)`, in index order,
/// without planning them (a few draws each): what a caller needs to look up how much of a seed a
/// store already holds before planning it.
pub fn community_ids(config: &DemoConfig, regency: &RegionCode, count: u32) -> Vec<Uuid> {
    (0..count)
        .filter_map(|index| kim::start(config, regency, index).map(|(_, _, id)| id))
        .collect()
}

/// Sorts steps by `(at, community id, position)`; a KIM's own steps have strictly increasing
/// `at`, so its order is kept. Sorts small keys, then moves the (large) steps into place with at
/// most one swap each, without a second buffer.
fn sort_steps(mut steps: Vec<DemoStep>) -> Vec<DemoStep> {
    let mut keys: Vec<(DateTime<Utc>, Uuid, usize)> = steps
        .iter()
        .enumerate()
        .map(|(position, step)| (step.at, step.community_id, position))
        .collect();
    keys.sort_unstable();
    // `target[i]`: where the step now at `i` belongs.
    let mut target = vec![0usize; steps.len()];
    for (rank, (_, _, position)) in keys.iter().enumerate() {
        if let Some(slot) = target.get_mut(*position) {
            *slot = rank;
        }
    }
    drop(keys);
    for i in 0..steps.len() {
        loop {
            let j = target.get(i).copied().unwrap_or(i);
            if j == i {
                break;
            }
            steps.swap(i, j);
            target.swap(i, j);
        }
    }
    steps
}

/// Every desa/kelurahan of a kabupaten/kota, in code order.
fn villages(regions: &Regions, regency: &RegionCode) -> Vec<Village> {
    regions
        .children(regency)
        .iter()
        .flat_map(|district| regions.children(&district.code))
        .map(|village| {
            let display = village.display_name();
            let head = match village.kind {
                RegionKind::Kelurahan => format!("Lurah {}", village.name),
                _ => format!("Kepala Desa {}", village.name),
            };
            Village {
                slug: names::slug(&village.name),
                code: village.code,
                display,
                head,
            }
        })
        .collect()
}

/// A generated title, checked.
fn text(raw: &str) -> Result<Title, DemoError> {
    Title::parse(raw).map_err(|error| DemoError::Text {
        text: raw.to_owned(),
        error,
    })
}

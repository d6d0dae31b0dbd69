//! How many KIM each kabupaten/kota gets, when each KIM is formed, and the cheap `--dry-run`
//! summary built from both.

use chrono::{Datelike, NaiveDate};
use simpul_domain::{RegionCode, RegionLevel};
use simpul_regions::Regions;

use crate::rng::{derive, Rng};
use crate::{DemoConfig, DEFAULT_UNTIL, START};

/// DI Yogyakarta's 2025 counts (seed 000, Diskominfo DIY): Kulon Progo 40, Bantul 4, Gunungkidul
/// 142, Sleman 40, Kota Yogyakarta 0 — 226 in the province. Pinned at scale 1, multiplied at
/// larger scales.
pub const DIY_2025: [(&str, u32); 5] = [
    ("34.01", 40),
    ("34.02", 4),
    ("34.03", 142),
    ("34.04", 40),
    ("34.71", 0),
];

/// The quantile function of KIM per kabupaten/kota outside DI Yogyakarta at scale 1, as
/// `(cumulative share, count)` points joined linearly: 30 % have none, the median has 3, 90 % have
/// at most about 20, and a long tail reaches about 230. Over the 509 kabupaten/kota outside DIY it
/// sums to 4,330, which with DIY's 226 gives 4,556 ≈ the 4,500 KIM of the country today.
const QUANTILES: [(f64, f64); 11] = [
    (0.0, 0.0),
    (0.30, 0.0),
    (0.3001, 1.0),
    (0.55, 3.0),
    (0.75, 7.0),
    (0.88, 16.0),
    (0.94, 30.0),
    (0.975, 54.0),
    (0.99, 98.0),
    (0.997, 160.0),
    (1.0, 260.0),
];

/// KIM per kabupaten/kota at scale 1 for the bundled codes outside DI Yogyakarta.
fn quantile(p: f64) -> u32 {
    let mut previous = QUANTILES[0];
    for point in QUANTILES.iter().skip(1) {
        if p <= point.0 {
            let (p0, c0) = previous;
            let (p1, c1) = *point;
            let count = c0 + (c1 - c0) * (p - p0) / (p1 - p0);
            return (count + 0.5) as u32;
        }
        previous = *point;
    }
    (previous.1 + 0.5) as u32
}

/// The pinned 2025 count of a DI Yogyakarta kabupaten/kota, if `code` is one.
pub(crate) fn pinned(code: &RegionCode) -> Option<u32> {
    DIY_2025
        .iter()
        .find(|(pinned, _)| *pinned == code.as_str())
        .map(|(_, count)| *count)
}

/// KIM per kabupaten/kota: every kabupaten/kota of `regions` in code order, with its count.
///
/// DI Yogyakarta is pinned to its 2025 counts ([`DIY_2025`]) × scale. Every other kabupaten/kota
/// gets a stratum of a skewed distribution (many with 0–30, a long tail to ~250): the strata are
/// dealt out by ranking the codes on a hash of `(seed, code)`, so the national total is the same
/// for every seed (≈ 4,500 × scale) while which kabupaten is large changes with the seed. A count
/// is therefore a function of `(seed, scale, code)` alone, given the bundled edition: any worker
/// can compute it without planning anything, and each kabupaten/kota can be planned on its own.
///
/// These are the KIM formed from 2019 to [`DEFAULT_UNTIL`]; a plan with an earlier
/// [`DemoConfig::until`] holds only those formed by then.
pub fn regency_counts(config: &DemoConfig, regions: &Regions) -> Vec<(RegionCode, u32)> {
    let regencies: Vec<RegionCode> = regions
        .at_level(RegionLevel::Regency)
        .map(|region| region.code)
        .collect();
    let mut free: Vec<(u64, &RegionCode)> = regencies
        .iter()
        .filter(|code| pinned(code).is_none())
        .map(|code| {
            (
                derive(config.seed, &[b"regency-count", code.as_str().as_bytes()]),
                code,
            )
        })
        .collect();
    free.sort();
    let strata = free.len().max(1) as f64;
    let mut base: Vec<(&RegionCode, u32)> = free
        .iter()
        .enumerate()
        .map(|(rank, (_, code))| (*code, quantile((rank as f64 + 0.5) / strata)))
        .collect();
    base.sort_by(|a, b| a.0.cmp(b.0));
    regencies
        .iter()
        .map(|code| {
            let count = pinned(code).unwrap_or_else(|| {
                base.binary_search_by(|(free, _)| (*free).cmp(code))
                    .ok()
                    .and_then(|at| base.get(at))
                    .map_or(0, |(_, count)| *count)
            });
            (code.clone(), count.saturating_mul(config.scale))
        })
        .collect()
}

/// The generator of one KIM: `(seed, kabupaten/kota code, index)`. Its first draws are the
/// formation date, so the dry-run summary can date every KIM without planning it.
pub(crate) fn kim_rng(seed: u64, regency: &RegionCode, index: u32) -> Rng {
    Rng::derived(
        seed,
        &[b"kim", regency.as_str().as_bytes(), &index.to_le_bytes()],
    )
}

/// Share of the KIM formed in each year 2019–2025 (per cent). 2019 is larger: the registry starts
/// then and takes in KIM that already existed; 2020 dips (pandemic).
const FORMATION_YEARS: [(i32, u32); 7] = [
    (2019, 22),
    (2020, 9),
    (2021, 13),
    (2022, 14),
    (2023, 14),
    (2024, 14),
    (2025, 14),
];

/// The formation date of a KIM: the first draws of its generator.
pub(crate) fn formation_date(rng: &mut Rng) -> NaiveDate {
    let year = rng.weighted(&FORMATION_YEARS).map_or(2022, |year| *year);
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(START);
    let date = first + chrono::Days::new(rng.below(days_in_year(year)));
    date.clamp(START, DEFAULT_UNTIL)
}

/// Events per KIM, estimated from how long it has existed: a small fixed part plus a yearly part
/// (the first year holds formation, officers, SK and nomor induk); fitted on whole-nation plans
/// at scale 1 (each cohort 2019–2025 within a few per cent).
const EVENTS_FIXED: f64 = 3.6;
/// See [`EVENTS_FIXED`].
const EVENTS_PER_YEAR: f64 = 13.15;

/// The `--dry-run` answer: how many KIM a plan will hold, where, and roughly how many events.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoSummary {
    /// The scale asked for.
    pub scale: u32,
    /// The seed asked for.
    pub seed: u64,
    /// The last simulated day.
    pub until: NaiveDate,
    /// KIM formed on or before `until`, nationally.
    pub total_kim: u64,
    /// Estimated events, nationally (within a few per cent of what planning produces).
    pub expected_events: u64,
    /// Per province, in code order.
    pub provinces: Vec<ProvinceSummary>,
}

/// One province of a [`DemoSummary`].
#[derive(Clone, Debug, PartialEq)]
pub struct ProvinceSummary {
    /// The province code (`34`).
    pub code: RegionCode,
    /// Its name (`Daerah Istimewa Yogyakarta`).
    pub name: String,
    /// Its kabupaten/kota.
    pub regencies: u32,
    /// Its kabupaten/kota that get at least one KIM.
    pub regencies_with_kim: u32,
    /// KIM formed on or before `until`.
    pub kim: u64,
    /// Estimated events.
    pub expected_events: u64,
}

/// The dry-run summary: counts per province, total KIM and an event estimate. Cheap: it draws
/// each KIM's formation date (a few random numbers) and plans nothing.
pub fn describe(config: &DemoConfig, regions: &Regions) -> DemoSummary {
    let mut provinces: Vec<ProvinceSummary> = regions
        .provinces()
        .into_iter()
        .map(|province| ProvinceSummary {
            code: province.code,
            name: province.name,
            regencies: 0,
            regencies_with_kim: 0,
            kim: 0,
            expected_events: 0,
        })
        .collect();
    for (regency, count) in regency_counts(config, regions) {
        let Some(province) = regency.ancestor_at(RegionLevel::Province) else {
            continue;
        };
        let Ok(at) = provinces.binary_search_by(|p| p.code.cmp(&province)) else {
            continue;
        };
        let (kim, events) = estimate(config, &regency, count);
        if let Some(summary) = provinces.get_mut(at) {
            summary.regencies += 1;
            summary.regencies_with_kim += u32::from(count > 0);
            summary.kim += kim;
            summary.expected_events += events;
        }
    }
    DemoSummary {
        scale: config.scale,
        seed: config.seed,
        until: config.until,
        total_kim: provinces.iter().map(|p| p.kim).sum(),
        expected_events: provinces.iter().map(|p| p.expected_events).sum(),
        provinces,
    }
}

/// KIM of one kabupaten/kota formed by `until`, and their estimated events.
pub(crate) fn estimate(config: &DemoConfig, regency: &RegionCode, count: u32) -> (u64, u64) {
    let mut kim = 0u64;
    let mut events = 0.0f64;
    for index in 0..count {
        let formed_on = formation_date(&mut kim_rng(config.seed, regency, index));
        if formed_on > config.until {
            continue;
        }
        kim += 1;
        let days = (config.until - formed_on).num_days() as f64;
        events += EVENTS_FIXED + EVENTS_PER_YEAR * days / 365.25;
    }
    (kim, (events + 0.5) as u64)
}

/// The number of a year's days, for schedules.
pub(crate) fn days_in_year(year: i32) -> u64 {
    if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    }
}

/// The last year a plan simulates: `until`'s year, but at least that of [`DEFAULT_UNTIL`], so
/// that schedules (and with them every draw before `until`) do not depend on `until`.
pub(crate) fn last_year(config: &DemoConfig) -> i32 {
    config.until.year().max(DEFAULT_UNTIL.year())
}

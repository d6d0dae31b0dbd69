//! What a kabupaten/kota's Dinas (and its province's) does for all its KIM at once: bimtek
//! sessions shared by many KIM, and the assessment rounds in which stages are judged.
//!
//! Each schedule has its own generator and is drawn year by year, so extending the plan past
//! 2025 appends to it and never changes an earlier session.

use chrono::{Datelike, Days, NaiveDate};
use simpul_domain::events::BimtekKind;
use simpul_domain::text::Title;
use simpul_domain::{ActorRole, RegionCode};
use uuid::Uuid;

use crate::counts::{days_in_year, last_year};
use crate::names;
use crate::rng::Rng;
use crate::{text, DemoConfig, DemoError, START};

/// One bimtek (or workshop, sarasehan, forum diskusi) that many KIM attend.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// Shared by every KIM that attended it.
    pub(crate) id: Uuid,
    pub(crate) kind: BimtekKind,
    pub(crate) title: Title,
    pub(crate) held_on: NaiveDate,
    /// The organising Dinas: the kabupaten/kota or the province.
    pub(crate) organizer: RegionCode,
    /// Who records the attendance.
    pub(crate) actor_role: ActorRole,
}

/// The sessions and assessment rounds of one kabupaten/kota, each list sorted by date.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    /// Sessions of the kabupaten/kota's own Dinas.
    pub(crate) regency: Vec<Session>,
    /// Sessions of the province's Dinas (the same sessions for every kabupaten/kota of it).
    pub(crate) province: Vec<Session>,
    /// Days on which the regency operator assesses stages: twice a year.
    pub(crate) rounds: Vec<NaiveDate>,
}

const KINDS: [(BimtekKind, u32); 4] = [
    (BimtekKind::Bimtek, 55),
    (BimtekKind::Workshop, 20),
    (BimtekKind::Sarasehan, 15),
    (BimtekKind::ForumDiskusi, 10),
];

impl Schedule {
    /// The schedule of `regency` (titled `regency_area`) in `province` (`province_area`), for
    /// `count` KIM: about one regency session per year per 30 KIM (at least one or two), one or
    /// two province sessions a year (more at large scales), and two assessment rounds a year.
    pub(crate) fn build(
        config: &DemoConfig,
        regency: &RegionCode,
        regency_area: &str,
        province: &RegionCode,
        province_area: &str,
        count: u32,
    ) -> Result<Self, DemoError> {
        let mut rng = Rng::derived(
            config.seed,
            &[b"regency-sessions", regency.as_str().as_bytes()],
        );
        let per_year = |rng: &mut Rng| 1 + rng.below(2) + u64::from(count / 30);
        let regency_sessions = sessions(
            config,
            &mut rng,
            per_year,
            regency,
            regency_area,
            ActorRole::Regency,
        )?;
        let mut rng = Rng::derived(
            config.seed,
            &[b"province-sessions", province.as_str().as_bytes()],
        );
        let scale = u64::from(config.scale);
        let per_year = |rng: &mut Rng| 1 + rng.below(2) + scale / 4;
        let province_sessions = sessions(
            config,
            &mut rng,
            per_year,
            province,
            province_area,
            ActorRole::Province,
        )?;
        let mut rng = Rng::derived(config.seed, &[b"rounds", regency.as_str().as_bytes()]);
        let mut rounds = Vec::new();
        for year in START.year()..=last_year(config) {
            // One round in April–June, one in October–mid December.
            for (month, span) in [(4, 90), (10, 75)] {
                if let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) {
                    rounds.push(first + Days::new(rng.below(span)));
                }
            }
        }
        Ok(Self {
            regency: regency_sessions,
            province: province_sessions,
            rounds,
        })
    }
}

/// Sessions organised by `organizer` from 2019 to the last simulated year, sorted by date.
fn sessions(
    config: &DemoConfig,
    rng: &mut Rng,
    per_year: impl Fn(&mut Rng) -> u64,
    organizer: &RegionCode,
    area: &str,
    actor_role: ActorRole,
) -> Result<Vec<Session>, DemoError> {
    let mut all = Vec::new();
    for year in START.year()..=last_year(config) {
        let Some(first) = NaiveDate::from_ymd_opt(year, 1, 1) else {
            continue;
        };
        let mut this_year = Vec::new();
        for _ in 0..per_year(rng) {
            let held_on = first + Days::new(rng.below(days_in_year(year)));
            let kind = rng
                .weighted(&KINDS)
                .map_or(BimtekKind::Bimtek, |kind| *kind);
            let title = text(&names::bimtek_title(rng, kind, area))?;
            this_year.push(Session {
                id: rng.uuid(),
                kind,
                title,
                held_on,
                organizer: organizer.clone(),
                actor_role,
            });
        }
        this_year.sort_by_key(|session| session.held_on);
        all.extend(this_year);
    }
    Ok(all)
}

/// The first session in `sessions` held on or after `date`.
pub(crate) fn first_from(sessions: &[Session], date: NaiveDate) -> Option<usize> {
    let at = sessions.partition_point(|session| session.held_on < date);
    (at < sessions.len()).then_some(at)
}

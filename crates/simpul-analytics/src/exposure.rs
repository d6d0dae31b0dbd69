//! Exposure splitting for a time-varying exposure: does a bimtek raise the rate of progressing
//! to the next stage in the window after it? A KIM's time in a stage (a [`Spell`]) is split
//! into days inside some bimtek's window ("exposed") and the other days ("unexposed"), and its
//! progression, if it ended by one, is attributed to the side its day falls on. Summed over many
//! KIM ([`ExposureTotals`]) that gives the two rates and their ratio ([`crate::RateRatio`]).
//!
//! **Conventions.** Days are integers (days since 1970-01-01, say). A spell from `start` to
//! `end` covers the days `start + 1 ..= end` — written (start, end] — so its person-time is
//! `end − start` days, the day it began (the stage change into it) belongs to the previous
//! spell, and its end day — the day of progression, or the last day of follow-up — is its own.
//! A bimtek on day b exposes the days d with b < d ≤ b + window: strictly after the bimtek, up
//! to `window` days after it. Windows that overlap are one exposed stretch, never counted
//! twice; a bimtek before the spell exposes whatever of its window reaches into the spell; one
//! on or after the spell's end day exposes nothing of it.

use std::iter::Sum;

use serde::Serialize;

use crate::{AnalyticsError, Rate, RateRatio};

/// How a spell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpellEnd {
    /// The KIM progressed to the next stage on the end day (the event).
    Event,
    /// Follow-up stopped on the end day without progression (censored).
    Censored,
}

/// One KIM's time in one stage: the days (start, end] and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spell {
    start: i64,
    end: i64,
    ending: SpellEnd,
}

/// Which side of the exposure a day (and so an event on it) falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// Inside the window after some bimtek.
    Exposed,
    /// Outside every bimtek's window.
    Unexposed,
}

/// A spell's person-days split by exposure, and where its event (if any) fell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpellSplit {
    pub exposed_days: u64,
    pub unexposed_days: u64,
    /// `None` for a censored spell.
    pub event: Option<Exposure>,
}

/// Exposed and unexposed person-days and events summed over many spells: `sum()` an iterator
/// of [`SpellSplit`]s, or [`ExposureTotals::add`] them one by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExposureTotals {
    pub spells: u64,
    pub exposed_days: u64,
    pub unexposed_days: u64,
    pub exposed_events: u64,
    pub unexposed_events: u64,
}

impl Spell {
    /// The spell (start, end] ending as `ending`. An error when `end < start`, and when a spell
    /// that ends in an event has no day at all (`end == start`: the event's day would lie
    /// outside it, an event without person-time — leave such spells out of a rate analysis, as
    /// survival software drops records of zero length). An empty censored spell is allowed and
    /// counts nothing.
    pub fn new(start: i64, end: i64, ending: SpellEnd) -> Result<Self, AnalyticsError> {
        if end < start {
            return Err(AnalyticsError::SpellEndsBeforeStart { start, end });
        }
        if end == start && ending == SpellEnd::Event {
            return Err(AnalyticsError::EventWithoutPersonTime { day: end });
        }
        Ok(Self { start, end, ending })
    }

    /// The day the spell began (not itself part of the spell).
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The spell's last day: the day of progression or of censoring.
    pub fn end(&self) -> i64 {
        self.end
    }

    pub fn ending(&self) -> SpellEnd {
        self.ending
    }

    /// `end − start`.
    pub fn person_days(&self) -> u64 {
        self.end.abs_diff(self.start)
    }

    /// Splits the spell's days by the windows of `window_days` after each of `bimtek_days`
    /// (in any order, repeats allowed; a window of 0 days exposes nothing).
    pub fn split(&self, bimtek_days: &[i64], window_days: u32) -> SpellSplit {
        let window = i64::from(window_days);
        let (first_day, last_day) = (self.start.saturating_add(1), self.end);
        // Each window (b, b + window] clipped to the spell, as inclusive day ranges.
        let mut stretches: Vec<(i64, i64)> = bimtek_days
            .iter()
            .filter_map(|&bimtek| {
                let from = bimtek.saturating_add(1).max(first_day);
                let until = bimtek.saturating_add(window).min(last_day);
                (from <= until).then_some((from, until))
            })
            .collect();
        stretches.sort_unstable();
        // The union of the stretches: overlapping or touching windows are counted once.
        let mut exposed_days = 0_u64;
        let mut current: Option<(i64, i64)> = None;
        for (from, until) in stretches {
            current = match current {
                Some((open_from, open_until)) if from <= open_until.saturating_add(1) => {
                    Some((open_from, open_until.max(until)))
                }
                Some((open_from, open_until)) => {
                    exposed_days += open_until.abs_diff(open_from) + 1;
                    Some((from, until))
                }
                None => Some((from, until)),
            };
        }
        if let Some((from, until)) = current {
            exposed_days += until.abs_diff(from) + 1;
        }
        let event = (self.ending == SpellEnd::Event).then(|| {
            let exposed = bimtek_days
                .iter()
                .any(|&bimtek| bimtek < self.end && self.end <= bimtek.saturating_add(window));
            if exposed {
                Exposure::Exposed
            } else {
                Exposure::Unexposed
            }
        });
        SpellSplit {
            exposed_days,
            unexposed_days: self.person_days() - exposed_days,
            event,
        }
    }
}

impl ExposureTotals {
    /// Adds one spell's split.
    pub fn add(&mut self, split: &SpellSplit) {
        self.spells += 1;
        self.exposed_days += split.exposed_days;
        self.unexposed_days += split.unexposed_days;
        match split.event {
            Some(Exposure::Exposed) => self.exposed_events += 1,
            Some(Exposure::Unexposed) => self.unexposed_events += 1,
            None => {}
        }
    }

    /// Events per exposed person-day.
    pub fn exposed(&self) -> Rate {
        Rate {
            events: self.exposed_events,
            person_days: self.exposed_days,
        }
    }

    /// Events per unexposed person-day.
    pub fn unexposed(&self) -> Rate {
        Rate {
            events: self.unexposed_events,
            person_days: self.unexposed_days,
        }
    }

    /// The exposed rate over the unexposed one, with its exact interval ([`RateRatio::exact`]).
    /// Totals summed from [`Spell::split`]s never fail here — an event's own day is counted on
    /// its side — but totals built by hand can hold events without person-days.
    pub fn rate_ratio(&self) -> Result<RateRatio, AnalyticsError> {
        RateRatio::exact(self.exposed(), self.unexposed())
    }
}

impl Sum<SpellSplit> for ExposureTotals {
    fn sum<I: Iterator<Item = SpellSplit>>(splits: I) -> Self {
        let mut totals = Self::default();
        for split in splits {
            totals.add(&split);
        }
        totals
    }
}

impl<'a> Sum<&'a SpellSplit> for ExposureTotals {
    fn sum<I: Iterator<Item = &'a SpellSplit>>(splits: I) -> Self {
        splits.copied().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spell(start: i64, end: i64, ending: SpellEnd) -> Spell {
        Spell::new(start, end, ending).expect("valid spell")
    }

    fn split(start: i64, end: i64, ending: SpellEnd, bimtek: &[i64], window: u32) -> SpellSplit {
        spell(start, end, ending).split(bimtek, window)
    }

    /// The same split, day by day: the definition, without intervals or merging.
    fn split_day_by_day(spell: &Spell, bimtek: &[i64], window: u32) -> SpellSplit {
        let window = i64::from(window);
        let exposed = |day: i64| bimtek.iter().any(|&b| b < day && day <= b + window);
        let exposed_days = (spell.start() + 1..=spell.end())
            .filter(|&day| exposed(day))
            .count() as u64;
        SpellSplit {
            exposed_days,
            unexposed_days: spell.person_days() - exposed_days,
            event: (spell.ending() == SpellEnd::Event).then(|| {
                if exposed(spell.end()) {
                    Exposure::Exposed
                } else {
                    Exposure::Unexposed
                }
            }),
        }
    }

    #[test]
    fn one_bimtek_exposes_the_window_days_after_it() {
        // (0, 100], bimtek on day 10, 30-day window: days 11..=40 exposed.
        let censored = split(0, 100, SpellEnd::Censored, &[10], 30);
        assert_eq!(
            censored,
            SpellSplit {
                exposed_days: 30,
                unexposed_days: 70,
                event: None
            }
        );
        // A window of 0 days exposes nothing, and so does having no bimtek.
        assert_eq!(split(0, 100, SpellEnd::Censored, &[10], 0).exposed_days, 0);
        assert_eq!(split(0, 100, SpellEnd::Censored, &[], 30).exposed_days, 0);
    }

    #[test]
    fn overlapping_windows_are_counted_once() {
        // Bimtek on days 10 and 20, 30-day windows: (10, 40] ∪ (20, 50] = days 11..=50.
        let overlapping = split(0, 100, SpellEnd::Censored, &[20, 10], 30);
        assert_eq!(
            (overlapping.exposed_days, overlapping.unexposed_days),
            (40, 60)
        );
        // The same bimtek recorded twice, and windows that only touch: (10, 40] ∪ (40, 70].
        assert_eq!(
            split(0, 100, SpellEnd::Censored, &[10, 10], 30).exposed_days,
            30
        );
        assert_eq!(
            split(0, 100, SpellEnd::Censored, &[10, 40], 30).exposed_days,
            60
        );
        // Disjoint windows: (10, 20] and (50, 60].
        assert_eq!(
            split(0, 100, SpellEnd::Censored, &[50, 10], 10).exposed_days,
            20
        );
    }

    #[test]
    fn a_bimtek_outside_the_spell_exposes_only_what_reaches_into_it() {
        // After the spell, and on its end day: nothing.
        assert_eq!(split(0, 100, SpellEnd::Event, &[150], 30).exposed_days, 0);
        let on_end_day = split(0, 100, SpellEnd::Event, &[100], 30);
        assert_eq!(
            (on_end_day.exposed_days, on_end_day.event),
            (0, Some(Exposure::Unexposed))
        );
        // Before the spell: (90, 120] ∩ (100, 200] = days 101..=120.
        let before = split(100, 200, SpellEnd::Censored, &[90], 30);
        assert_eq!((before.exposed_days, before.unexposed_days), (20, 80));
        // Long before: nothing.
        assert_eq!(
            split(100, 200, SpellEnd::Censored, &[10], 30).exposed_days,
            0
        );
        // A window reaching past the end is cut at the end: (80, 110] ∩ (0, 100] = 81..=100.
        assert_eq!(
            split(0, 100, SpellEnd::Censored, &[80], 30).exposed_days,
            20
        );
    }

    #[test]
    fn an_event_on_the_windows_last_day_is_exposed_and_on_the_day_after_is_not() {
        // Bimtek on day 10, 30-day window (10, 40].
        let last_day = split(0, 40, SpellEnd::Event, &[10], 30);
        assert_eq!(
            last_day,
            SpellSplit {
                exposed_days: 30,
                unexposed_days: 10,
                event: Some(Exposure::Exposed)
            }
        );
        let day_after = split(0, 41, SpellEnd::Event, &[10], 30);
        assert_eq!(
            day_after,
            SpellSplit {
                exposed_days: 30,
                unexposed_days: 11,
                event: Some(Exposure::Unexposed)
            }
        );
        // The day right after the bimtek is its window's first day.
        let first_day = split(0, 11, SpellEnd::Event, &[10], 30);
        assert_eq!(first_day.event, Some(Exposure::Exposed));
        assert_eq!((first_day.exposed_days, first_day.unexposed_days), (1, 10));
    }

    #[test]
    fn interval_arithmetic_agrees_with_counting_day_by_day() {
        let bimtek_sets: [&[i64]; 6] = [&[], &[5], &[-3, 4], &[2, 2, 9], &[0, 6, 12, 18], &[15, 1]];
        for start in -2..6 {
            for end in start..16 {
                for ending in [SpellEnd::Event, SpellEnd::Censored] {
                    let Ok(spell) = Spell::new(start, end, ending) else {
                        continue;
                    };
                    for bimtek in bimtek_sets {
                        for window in 0..8 {
                            assert_eq!(
                                spell.split(bimtek, window),
                                split_day_by_day(&spell, bimtek, window),
                                "{spell:?}, bimtek {bimtek:?}, window {window}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn totals_sum_spells_and_give_the_rate_ratio() {
        let splits = [
            split(0, 40, SpellEnd::Event, &[10], 30), // 30 exposed + 10, event exposed
            split(0, 41, SpellEnd::Event, &[10], 30), // 30 exposed + 11, event unexposed
            split(0, 100, SpellEnd::Censored, &[10], 30), // 30 exposed + 70
            split(5, 5, SpellEnd::Censored, &[0], 30), // empty: counts only as a spell
        ];
        let totals: ExposureTotals = splits.iter().sum();
        assert_eq!(
            totals,
            ExposureTotals {
                spells: 4,
                exposed_days: 90,
                unexposed_days: 91,
                exposed_events: 1,
                unexposed_events: 1
            }
        );
        assert_eq!(totals, splits.into_iter().sum());
        let ratio = totals.rate_ratio().expect("summed from splits");
        let expected = (1.0 / 90.0) / (1.0 / 91.0);
        assert!((ratio.ratio().expect("defined") - expected).abs() < 1e-12);
        assert!(ratio.lower().expect("bounded") < expected);
        assert!(ratio.upper().expect("bounded") > expected);
    }

    #[test]
    fn a_spell_must_not_end_before_it_starts_nor_hold_an_event_without_a_day() {
        assert_eq!(
            Spell::new(10, 9, SpellEnd::Censored),
            Err(AnalyticsError::SpellEndsBeforeStart { start: 10, end: 9 })
        );
        assert_eq!(
            Spell::new(10, 10, SpellEnd::Event),
            Err(AnalyticsError::EventWithoutPersonTime { day: 10 })
        );
        assert_eq!(spell(10, 10, SpellEnd::Censored).person_days(), 0);
    }
}

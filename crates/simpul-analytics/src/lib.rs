//! The statistics behind Simpul's stage-progression analytics: how long a KIM takes from one
//! stage to the next, what share of a cohort reaches a stage within a time, and whether a bimtek
//! raises the rate of progressing in the window after it.
//!
//! - [`kaplan_meier`] — the Kaplan–Meier estimator over grouped, right-censored times in whole
//!   days: steps with Greenwood standard errors and 95 % log-log intervals, quantiles ("median
//!   days to KIM 2") with Brookmeyer–Crowley intervals, survival and cumulative incidence at a
//!   time, and the number-at-risk table printed under a curve.
//! - [`proportion`] — a share with its Wilson score interval (and the Clopper–Pearson one).
//! - [`rate`] — events per person-day and the exact conditional interval of a rate ratio.
//! - [`exposure`] — a stage spell's person-days split into days inside and outside the window
//!   after a bimtek (a time-varying exposure), and their totals over many spells.
//! - [`cell`] — small-cell suppression: counts below 5 are never published.
//!
//! All intervals are two-sided 95 % intervals ([`Z_95`]). Days are whole days: durations as
//! `u32`, calendar days (days since 1970-01-01, say) as `i64`.
//!
//! **Invariant:** pure — no I/O, no clock, no randomness, no workspace dependency: the same
//! numbers in give the same numbers out, so read models and tests can call it anywhere.

pub mod cell;
pub mod exposure;
pub mod kaplan_meier;
pub mod proportion;
pub mod rate;

mod beta;

use serde::Serialize;

pub use cell::{Cell, SUPPRESSION_THRESHOLD};
pub use exposure::{Exposure, ExposureTotals, Spell, SpellEnd, SpellSplit};
pub use kaplan_meier::{
    AtRiskRow, KaplanMeier, Observation, PointEstimate, Quantile, Step, Totals,
};
pub use proportion::Proportion;
pub use rate::{Rate, RateRatio};

/// The standard normal quantile Φ⁻¹(0.975): the `z` of every two-sided 95 % interval here.
pub const Z_95: f64 = 1.959963984540054;

/// A two-sided 95 % confidence interval, `lower ≤ upper`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    /// Whether `value` lies in the closed interval.
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }
}

/// Input an estimator cannot work with. Each names what was wrong; none is a failure of the
/// estimator itself (those are answered with `None` where a value is undefined).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    /// A quantile's probability outside the open interval (0, 1), or NaN.
    #[error("probability {0} is not strictly between 0 and 1")]
    Probability(f64),
    /// The breaks of an at-risk table are not strictly increasing.
    #[error("the breaks of an at-risk table must be strictly increasing")]
    BreaksNotIncreasing,
    /// More successes than trials.
    #[error("{successes} successes out of {trials} trials")]
    SuccessesExceedTrials { successes: u64, trials: u64 },
    /// A proportion of nothing.
    #[error("a proportion needs at least one trial")]
    NoTrials,
    /// Events counted in a group without person-time.
    #[error("{events} events in zero person-days")]
    EventsWithoutPersonTime { events: u64 },
    /// A spell that ends in an event on its start day: an event without a day of person-time.
    #[error("a spell ending in an event on day {day} must last at least that day")]
    EventWithoutPersonTime { day: i64 },
    /// A spell whose end day is before its start day.
    #[error("a spell cannot end on day {end}, before it starts on day {start}")]
    SpellEndsBeforeStart { start: i64, end: i64 },
}

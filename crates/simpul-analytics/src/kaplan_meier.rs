//! The Kaplan–Meier (product-limit) estimator of a survival curve from right-censored times:
//! here, days from reaching one stage to reaching the next, with KIM that have not reached it
//! yet censored at their days so far. S(t) is the share of KIM still *not* at the next stage
//! after t days; 1 − S(t) the share that reached it ([`KaplanMeier::cumulative_incidence_at`]).
//!
//! **Conventions.**
//! - Input is grouped ([`Observation`]: a time in whole days, event or censored, a count), as
//!   SQL's `GROUP BY` gives it; listing the same KIM one by one gives the same curve.
//! - At a time with both, events come before censorings: a KIM censored on day t was at risk
//!   of the events of day t (the standard convention; R's `survfit`, Stata's `sts`).
//! - Standard errors are Greenwood's (1926): Var S(t) = S(t)² Σ_{tⱼ ≤ t} dⱼ / (nⱼ (nⱼ − dⱼ)).
//! - The 95 % pointwise interval is the log-log one (Kalbfleisch & Prentice; Klein &
//!   Moeschberger, *Survival Analysis*, 2nd ed., §4.3; R's `survfit(conf.type = "log-log")`,
//!   Stata's `sts list`): symmetric on the scale of ln(−ln S), so always inside [0, 1]:
//!   with σ² = Σ dⱼ / (nⱼ (nⱼ − dⱼ)) and θ = exp(z σ / ln S(t)), the interval is
//!   [S(t)^(1/θ), S(t)^θ]. Before the first event it is [1, 1]; where S(t) = 0 (everyone still
//!   at risk had the event) standard error and interval are undefined (`None`), as in R.
//! - Beyond the last observed time the curve is unknown (`None`) unless it already reached 0.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{AnalyticsError, Interval, Z_95};

/// `count` KIM with the same time and outcome: `time` whole days from the start (≥ 0), and
/// whether the event (reaching the next stage) happened then (`event`) or follow-up stopped
/// then without it (censored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Observation {
    pub time: u32,
    pub event: bool,
    pub count: u64,
}

/// A Kaplan–Meier estimate: its [`Step`]s at each distinct event time and the [`Totals`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KaplanMeier {
    totals: Totals,
    steps: Vec<Step>,
    /// Events and censorings per distinct time, ascending (times with a count only).
    #[serde(skip)]
    groups: Vec<Group>,
}

/// How many KIM the estimate is over, and how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub n: u64,
    pub events: u64,
    pub censored: u64,
}

/// The curve at one distinct event time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Step {
    pub time: u32,
    /// KIM at risk just before `time`: those whose time is `time` or later.
    pub at_risk: u64,
    pub events: u64,
    /// Censored since the previous step: at times from the previous event time (whose
    /// censorings come after its events) up to, not including, this one. Then
    /// `at_risk = previous at_risk − previous events − censored`. Censorings after the last
    /// event time are in [`Totals`] only.
    pub censored: u64,
    /// S(time).
    pub survival: f64,
    /// Greenwood's standard error of S(time); `None` where S = 0.
    pub standard_error: Option<f64>,
    /// The 95 % log-log interval of S(time); `None` where S = 0.
    pub ci: Option<Interval>,
}

/// A value of the curve (or of 1 − the curve) at a time, with its standard error and 95 %
/// interval (`None` where undefined, see the module's conventions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PointEstimate {
    pub estimate: f64,
    pub standard_error: Option<f64>,
    pub ci: Option<Interval>,
}

/// The p-quantile of the time to event with its 95 % interval; `None` where not reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantile {
    pub p: f64,
    /// The smallest event time t with S(t) ≤ 1 − p: by then a share p had the event.
    pub time: Option<u32>,
    /// The smallest t where the interval's lower bound is ≤ 1 − p.
    pub lower: Option<u32>,
    /// The smallest t where the interval's upper bound is ≤ 1 − p; `None`: unbounded.
    pub upper: Option<u32>,
}

/// One row of the number-at-risk table printed under a survival curve: the interval
/// `[from, until)` (the last one open-ended, `until` `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AtRiskRow {
    pub from: u32,
    pub until: Option<u32>,
    /// KIM at risk at `from`: those whose time is `from` or later.
    pub at_risk: u64,
    /// Events at times in `[from, until)`.
    pub events: u64,
    /// Censorings at times in `[from, until)`.
    pub censored: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Group {
    time: u32,
    events: u64,
    censored: u64,
}

/// S(t) at or below 1 − p + this counts as reached: a product of fractions that is exactly
/// 1 − p in exact arithmetic may come out a rounding error above it in f64.
const QUANTILE_TOLERANCE: f64 = 1e-9;

impl KaplanMeier {
    /// The estimate from grouped observations, in any order; observations with a count of 0
    /// are ignored. No observations give an empty curve (no steps; S is unknown everywhere).
    pub fn estimate(observations: impl IntoIterator<Item = Observation>) -> Self {
        let mut by_time: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for observation in observations {
            if observation.count == 0 {
                continue;
            }
            let (events, censored) = by_time.entry(observation.time).or_default();
            if observation.event {
                *events += observation.count;
            } else {
                *censored += observation.count;
            }
        }
        let groups: Vec<Group> = by_time
            .into_iter()
            .map(|(time, (events, censored))| Group {
                time,
                events,
                censored,
            })
            .collect();
        let totals = Totals {
            n: groups.iter().map(|g| g.events + g.censored).sum(),
            events: groups.iter().map(|g| g.events).sum(),
            censored: groups.iter().map(|g| g.censored).sum(),
        };

        let mut steps = Vec::new();
        let mut at_risk = totals.n;
        let mut survival = 1.0_f64;
        let mut greenwood_sum = 0.0_f64;
        let mut censored_since_step = 0;
        for group in &groups {
            if group.events > 0 {
                let (n, d) = (at_risk as f64, group.events as f64);
                survival *= (n - d) / n;
                if group.events < at_risk {
                    greenwood_sum += d / (n * (n - d));
                }
                let (standard_error, ci) = uncertainty(survival, greenwood_sum);
                steps.push(Step {
                    time: group.time,
                    at_risk,
                    events: group.events,
                    censored: censored_since_step,
                    survival,
                    standard_error,
                    ci,
                });
                censored_since_step = 0;
            }
            censored_since_step += group.censored;
            at_risk -= group.events + group.censored;
        }
        Self {
            totals,
            steps,
            groups,
        }
    }

    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// The steps of the curve, one per distinct event time, ascending.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// S(t) with its standard error and interval: the last step at or before `t`, or 1 before
    /// the first event. `None` beyond the last observed time (the curve is unknown there)
    /// unless it had reached 0, and for an empty estimate.
    pub fn survival_at(&self, t: u32) -> Option<PointEstimate> {
        let last_time = self.groups.last()?.time;
        let step = self.steps.iter().take_while(|step| step.time <= t).last();
        let reached_zero = step.is_some_and(|step| step.survival <= 0.0);
        if t > last_time && !reached_zero {
            return None;
        }
        Some(match step {
            Some(step) => PointEstimate {
                estimate: step.survival,
                standard_error: step.standard_error,
                ci: step.ci,
            },
            None => PointEstimate {
                estimate: 1.0,
                standard_error: Some(0.0),
                ci: Some(Interval {
                    lower: 1.0,
                    upper: 1.0,
                }),
            },
        })
    }

    /// 1 − S(t): the share that had the event within `t` days, its standard error (that of
    /// S) and interval [1 − upper, 1 − lower]. `None` where [`Self::survival_at`] is.
    pub fn cumulative_incidence_at(&self, t: u32) -> Option<PointEstimate> {
        self.survival_at(t).map(|survival| PointEstimate {
            estimate: 1.0 - survival.estimate,
            standard_error: survival.standard_error,
            ci: survival.ci.map(|ci| Interval {
                lower: 1.0 - ci.upper,
                upper: 1.0 - ci.lower,
            }),
        })
    }

    /// The p-quantile of the time to event, p in (0, 1): the smallest event time t with
    /// S(t) ≤ 1 − p (Klein & Moeschberger §4.5: x_p = inf {t : S(t) ≤ 1 − p}); p = 0.5 is the
    /// median time, 0.25 and 0.75 the quartiles. Its 95 % interval inverts the pointwise
    /// log-log band (Brookmeyer & Crowley 1982, as R's `quantile.survfit`): the times whose
    /// interval contains 1 − p — from where the band's lower curve reaches 1 − p to where its
    /// upper curve does. `None` where a curve never reaches 1 − p (not reached / unbounded);
    /// at S = 0 the band counts as reached.
    ///
    /// Where S(t) equals 1 − p exactly over an interval [tⱼ, tⱼ₊₁), this reports tⱼ, the
    /// first day by which a share p had the event (the definition above; also what the
    /// survival package's older `print.survfit` documented: "the smallest point of
    /// intersection"); current R reports the midpoint (tⱼ + tⱼ₊₁) / 2 instead, which is not a
    /// day. Equality is judged with a tolerance of
    /// 1e-9, so that rounding cannot move the answer to the next event time.
    pub fn quantile(&self, p: f64) -> Result<Quantile, AnalyticsError> {
        if !(p > 0.0 && p < 1.0) {
            return Err(AnalyticsError::Probability(p));
        }
        Ok(self.quantile_of(p))
    }

    /// The median time to event ([`Self::quantile`] at 0.5).
    pub fn median(&self) -> Quantile {
        self.quantile_of(0.5)
    }

    /// For each interval `[breaks[i], breaks[i + 1])` — the last one open-ended — the number at
    /// risk at its start, and the events and censorings within it: the table printed under a
    /// survival curve. Breaks must be strictly increasing; observations before the first break
    /// are in no row.
    pub fn at_risk_table(&self, breaks: &[u32]) -> Result<Vec<AtRiskRow>, AnalyticsError> {
        if breaks.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(AnalyticsError::BreaksNotIncreasing);
        }
        Ok(breaks
            .iter()
            .enumerate()
            .map(|(i, &from)| {
                let until = breaks.get(i + 1).copied();
                let within = |group: &&Group| {
                    group.time >= from && until.is_none_or(|until| group.time < until)
                };
                AtRiskRow {
                    from,
                    until,
                    at_risk: self
                        .groups
                        .iter()
                        .filter(|group| group.time >= from)
                        .map(|group| group.events + group.censored)
                        .sum(),
                    events: self
                        .groups
                        .iter()
                        .filter(within)
                        .map(|group| group.events)
                        .sum(),
                    censored: self
                        .groups
                        .iter()
                        .filter(within)
                        .map(|group| group.censored)
                        .sum(),
                }
            })
            .collect())
    }

    fn quantile_of(&self, p: f64) -> Quantile {
        let level = 1.0 - p + QUANTILE_TOLERANCE;
        let first_time = |reached: &dyn Fn(&Step) -> bool| {
            self.steps
                .iter()
                .find(|step| reached(step))
                .map(|step| step.time)
        };
        Quantile {
            p,
            time: first_time(&|step| step.survival <= level),
            lower: first_time(&|step| step.ci.is_none_or(|ci| ci.lower <= level)),
            upper: first_time(&|step| step.ci.is_none_or(|ci| ci.upper <= level)),
        }
    }
}

/// Greenwood's standard error and the log-log interval of `survival`, given the Greenwood sum
/// Σ d / (n (n − d)) so far.
fn uncertainty(survival: f64, greenwood_sum: f64) -> (Option<f64>, Option<Interval>) {
    if survival <= 0.0 {
        return (None, None);
    }
    let sigma = greenwood_sum.sqrt();
    let standard_error = survival * sigma;
    if survival >= 1.0 {
        let certain = Interval {
            lower: 1.0,
            upper: 1.0,
        };
        return (Some(standard_error), Some(certain));
    }
    // ln(−ln S) ± z σ / |ln S|, transformed back: S^(1/θ) and S^θ with θ = exp(z σ / ln S).
    let log_survival = survival.ln();
    let theta = (Z_95 * sigma / log_survival).exp();
    let ci = Interval {
        lower: (log_survival / theta).exp(),
        upper: (log_survival * theta).exp(),
    };
    (Some(standard_error), Some(ci))
}

#[cfg(test)]
mod tests;

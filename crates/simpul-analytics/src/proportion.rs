//! A share of a cohort ("reached KIM 3 within 12 months") with its 95 % interval.

use serde::Serialize;

use crate::beta::inverse_regularized_incomplete_beta;
use crate::{AnalyticsError, Interval, Z_95};

/// `successes` out of `trials`, the estimate `successes / trials` and its Wilson score 95 %
/// interval (Wilson 1927; method 3 of Newcombe 1998, which recommends it): the set of p a score
/// test at level 5 % does not reject,
///
/// (p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n),
///
/// which stays inside [0, 1] and is not degenerate at 0 or n successes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    successes: u64,
    trials: u64,
    estimate: f64,
    wilson: Interval,
}

impl Proportion {
    /// The share of `successes` in `trials`; an error for no trials or more successes than
    /// trials.
    pub fn new(successes: u64, trials: u64) -> Result<Self, AnalyticsError> {
        if trials == 0 {
            return Err(AnalyticsError::NoTrials);
        }
        if successes > trials {
            return Err(AnalyticsError::SuccessesExceedTrials { successes, trials });
        }
        let n = trials as f64;
        let estimate = successes as f64 / n;
        let z2 = Z_95 * Z_95;
        let centre = estimate + z2 / (2.0 * n);
        let half_width = Z_95 * (estimate * (1.0 - estimate) / n + z2 / (4.0 * n * n)).sqrt();
        let denominator = 1.0 + z2 / n;
        // At 0 (or n) successes the bound is 0 (or 1) exactly; say so rather than leave a
        // rounding residue.
        let lower = if successes == 0 {
            0.0
        } else {
            ((centre - half_width) / denominator).max(0.0)
        };
        let upper = if successes == trials {
            1.0
        } else {
            ((centre + half_width) / denominator).min(1.0)
        };
        Ok(Self {
            successes,
            trials,
            estimate,
            wilson: Interval { lower, upper },
        })
    }

    pub fn successes(&self) -> u64 {
        self.successes
    }

    pub fn trials(&self) -> u64 {
        self.trials
    }

    /// `successes / trials`.
    pub fn estimate(&self) -> f64 {
        self.estimate
    }

    /// The Wilson score 95 % interval.
    pub fn wilson(&self) -> Interval {
        self.wilson
    }

    /// The exact (Clopper–Pearson 1934) 95 % interval: the p whose binomial tails at the
    /// observed count are at least 2.5 % each — lower = B⁻¹(0.025; x, n − x + 1) (0 when x = 0),
    /// upper = B⁻¹(0.975; x + 1, n − x) (1 when x = n), B⁻¹ the inverse regularized incomplete
    /// beta. Conservative: wider than Wilson's. [`crate::RateRatio`] is built on it.
    pub fn clopper_pearson(&self) -> Interval {
        clopper_pearson(self.successes, self.trials)
    }
}

/// The Clopper–Pearson interval of `successes` out of `trials` (`successes ≤ trials`; for no
/// trials, [0, 1]).
pub(crate) fn clopper_pearson(successes: u64, trials: u64) -> Interval {
    let (x, n) = (successes as f64, trials as f64);
    let lower = if successes == 0 {
        0.0
    } else {
        inverse_regularized_incomplete_beta(0.025, x, n - x + 1.0)
    };
    let upper = if successes >= trials {
        1.0
    } else {
        inverse_regularized_incomplete_beta(0.975, x + 1.0, n - x)
    };
    Interval { lower, upper }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round4(value: f64) -> f64 {
        (value * 1e4).round() / 1e4
    }

    /// Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion:
    /// comparison of seven methods. Statistics in Medicine 17, 857–872 — the paper's four
    /// worked examples with method 3 (Wilson score, no continuity correction), four decimals.
    const NEWCOMBE_WILSON: [(u64, u64, f64, f64); 4] = [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ];

    /// P(X ≥ k) and P(X ≤ k) for X ~ Binomial(n, p), term by term (independent of the beta
    /// code).
    fn binomial_tails(k: u64, n: u64, p: f64) -> (f64, f64) {
        let (mut at_or_above, mut at_or_below) = (0.0, 0.0);
        for j in 0..=n {
            let mut coefficient = 1.0;
            for i in 0..j {
                coefficient *= (n - i) as f64 / (i + 1) as f64;
            }
            let term = coefficient * p.powi(j as i32) * (1.0 - p).powi((n - j) as i32);
            if j >= k {
                at_or_above += term;
            }
            if j <= k {
                at_or_below += term;
            }
        }
        (at_or_above, at_or_below)
    }

    #[test]
    fn wilson_interval_matches_newcombe_1998() {
        for (successes, trials, lower, upper) in NEWCOMBE_WILSON {
            let wilson = Proportion::new(successes, trials).expect("valid").wilson();
            assert_eq!(
                (round4(wilson.lower), round4(wilson.upper)),
                (lower, upper),
                "{successes}/{trials}"
            );
        }
    }

    #[test]
    fn clopper_pearson_interval_matches_conover_and_its_definition() {
        // 5 of 25: 0.068 to 0.407 from the binomial confidence-limit tables of Conover, W. J.
        // (1999), Practical Nonparametric Statistics, 3rd ed., Wiley (as quoted in
        // InfluentialPoints' worked example of exact binomial intervals).
        let exact = Proportion::new(5, 25).expect("valid").clopper_pearson();
        assert_eq!(
            (
                (exact.lower * 1e3).round() / 1e3,
                (exact.upper * 1e3).round() / 1e3
            ),
            (0.068, 0.407)
        );
        // By definition each bound leaves exactly 2.5 % in its binomial tail.
        for (successes, trials) in [(81, 263), (15, 148), (1, 29), (5, 25), (28, 29)] {
            let exact = Proportion::new(successes, trials)
                .expect("valid")
                .clopper_pearson();
            let (at_or_above, _) = binomial_tails(successes, trials, exact.lower);
            let (_, at_or_below) = binomial_tails(successes, trials, exact.upper);
            assert!((at_or_above - 0.025).abs() < 1e-9, "{successes}/{trials}");
            assert!((at_or_below - 0.025).abs() < 1e-9, "{successes}/{trials}");
        }
        // None of 20: [0, 1 − 0.025^(1/20)].
        let none = Proportion::new(0, 20).expect("valid").clopper_pearson();
        assert_eq!(none.lower, 0.0);
        assert!((none.upper - (1.0 - 0.025_f64.powf(1.0 / 20.0))).abs() < 1e-12);
    }

    #[test]
    fn intervals_at_the_edges_stay_in_the_unit_interval_and_contain_the_estimate() {
        for trials in 1..=40 {
            for successes in 0..=trials {
                let proportion = Proportion::new(successes, trials).expect("valid");
                for interval in [proportion.wilson(), proportion.clopper_pearson()] {
                    assert!(0.0 <= interval.lower && interval.upper <= 1.0);
                    assert!(interval.contains(proportion.estimate()));
                    assert!(interval.lower < interval.upper);
                }
                // Exact intervals are the wider ones at the edges.
                if successes == 0 {
                    assert!(proportion.clopper_pearson().upper > proportion.wilson().upper);
                }
            }
        }
        // All successes: the upper bound is 1 and the lower bound solves p^n = 0.025.
        let all = Proportion::new(29, 29).expect("valid");
        assert_eq!(all.wilson().upper, 1.0);
        let exact_lower = all.clopper_pearson().lower;
        assert!((exact_lower - 0.025_f64.powf(1.0 / 29.0)).abs() < 1e-12);
    }

    #[test]
    fn a_proportion_of_nothing_or_more_than_everything_is_an_error() {
        assert_eq!(Proportion::new(0, 0), Err(AnalyticsError::NoTrials));
        assert_eq!(
            Proportion::new(6, 5),
            Err(AnalyticsError::SuccessesExceedTrials {
                successes: 6,
                trials: 5
            })
        );
    }
}

//! Event rates per person-day and the ratio of two of them ("KIM progress N times as often in
//! the window after a bimtek as outside it").

use serde::Serialize;

use crate::proportion::clopper_pearson;
use crate::AnalyticsError;

/// `events` in `person_days` of follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub events: u64,
    pub person_days: u64,
}

impl Rate {
    /// Events per person-day; `None` without person-time.
    pub fn per_day(&self) -> Option<f64> {
        (self.person_days > 0).then(|| self.events as f64 / self.person_days as f64)
    }
}

/// The ratio of an exposed group's rate to an unexposed group's, λ₁ / λ₀, with an exact
/// conditional 95 % interval.
///
/// **Method.** With a events in T₁ exposed person-days and b in T₀ unexposed ones (Poisson),
/// the number of exposed events given the total N = a + b is Binomial(N, π) with
/// π = RR·T₁ / (RR·T₁ + T₀), i.e. RR = π / (1 − π) · T₀ / T₁. The interval is the Clopper–Pearson
/// interval of a / N ([`crate::Proportion::clopper_pearson`]) carried through that map, so it
/// is exact (conservative) for any counts, also small ones — no log-scale Wald approximation
/// (the conditional binomial method for person-time data of Rothman & Greenland, *Modern
/// Epidemiology*, and Breslow & Day, *Statistical Methods in Cancer Research*, vol. II, 1987).
///
/// **Zero counts.** No value here panics or is NaN; undefined or unbounded ones are `None`:
/// - a = 0 < b: ratio 0, lower bound 0, finite upper bound;
/// - b = 0 < a: ratio and upper bound `None` (infinite), finite lower bound;
/// - a = b = 0: ratio `None` (0/0), lower bound 0, upper bound `None`;
/// - T₁ = 0 or T₀ = 0 (with no events there): ratio and both bounds `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateRatio {
    exposed: Rate,
    unexposed: Rate,
    ratio: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
}

impl RateRatio {
    /// The ratio `exposed / unexposed` with its exact conditional interval; an error for
    /// events counted in a group without person-days.
    pub fn exact(exposed: Rate, unexposed: Rate) -> Result<Self, AnalyticsError> {
        for rate in [exposed, unexposed] {
            if rate.person_days == 0 && rate.events > 0 {
                return Err(AnalyticsError::EventsWithoutPersonTime {
                    events: rate.events,
                });
            }
        }
        let undefined = Self {
            exposed,
            unexposed,
            ratio: None,
            lower: None,
            upper: None,
        };
        if exposed.person_days == 0 || unexposed.person_days == 0 {
            return Ok(undefined);
        }
        let (a, b) = (exposed.events, unexposed.events);
        let time_ratio = unexposed.person_days as f64 / exposed.person_days as f64;
        let ratio = (b > 0).then(|| a as f64 / b as f64 * time_ratio);
        // The odds π / (1 − π), times T₀ / T₁; an odds of 1 / 0 is unbounded.
        let to_ratio = |pi: f64| (pi < 1.0).then(|| pi / (1.0 - pi) * time_ratio);
        let proportion = clopper_pearson(a, a + b);
        Ok(Self {
            ratio,
            lower: to_ratio(proportion.lower),
            upper: to_ratio(proportion.upper),
            ..undefined
        })
    }

    pub fn exposed(&self) -> Rate {
        self.exposed
    }

    pub fn unexposed(&self) -> Rate {
        self.unexposed
    }

    /// λ₁ / λ₀; `None` when undefined or infinite.
    pub fn ratio(&self) -> Option<f64> {
        self.ratio
    }

    /// The lower 95 % bound; `None` only when the ratio is undefined for want of person-time.
    pub fn lower(&self) -> Option<f64> {
        self.lower
    }

    /// The upper 95 % bound; `None` when unbounded (no unexposed events) or undefined.
    pub fn upper(&self) -> Option<f64> {
        self.upper
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(events: u64, person_days: u64) -> Rate {
        Rate {
            events,
            person_days,
        }
    }

    fn close(actual: Option<f64>, expected: f64) -> bool {
        actual.is_some_and(|actual| (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0))
    }

    /// P(X ≥ k) and P(X ≤ k) for X ~ Binomial(n, p), term by term.
    fn binomial_tails(k: u64, n: u64, p: f64) -> (f64, f64) {
        let mut upper = 0.0;
        let mut lower = 0.0;
        for j in 0..=n {
            let mut coefficient = 1.0;
            for i in 0..j {
                coefficient *= (n - i) as f64 / (i + 1) as f64;
            }
            let term = coefficient * p.powi(j as i32) * (1.0 - p).powi((n - j) as i32);
            if j >= k {
                upper += term;
            }
            if j <= k {
                lower += term;
            }
        }
        (upper, lower)
    }

    #[test]
    fn rate_ratio_bounds_leave_two_and_a_half_percent_in_each_binomial_tail() {
        // 10 events in 100 exposed days, 20 in 400 unexposed: rates 0.1 and 0.05, ratio 2.
        let ratio = RateRatio::exact(rate(10, 100), rate(20, 400)).expect("valid");
        assert!(close(ratio.ratio(), 2.0));
        // Map the bounds back to π = RR·T₁ / (RR·T₁ + T₀) and check the tails directly.
        let pi = |rr: f64| rr * 100.0 / (rr * 100.0 + 400.0);
        let lower = ratio.lower().expect("bounded");
        let upper = ratio.upper().expect("bounded");
        assert!(lower < 2.0 && 2.0 < upper);
        let (tail_at_or_above, _) = binomial_tails(10, 30, pi(lower));
        let (_, tail_at_or_below) = binomial_tails(10, 30, pi(upper));
        assert!(
            (tail_at_or_above - 0.025).abs() < 1e-10,
            "{tail_at_or_above}"
        );
        assert!(
            (tail_at_or_below - 0.025).abs() < 1e-10,
            "{tail_at_or_below}"
        );
    }

    #[test]
    fn rate_ratio_of_one_event_each_has_closed_form_bounds() {
        // a = b = 1, equal person-time: π ~ Beta bounds with closed forms,
        // π_L = 1 − √0.975 (I_x(1, 2) = 0.025), π_U = √0.975 (I_x(2, 1) = 0.975).
        let ratio = RateRatio::exact(rate(1, 50), rate(1, 50)).expect("valid");
        let pi_lower = 1.0 - 0.975_f64.sqrt();
        assert!(close(ratio.ratio(), 1.0));
        assert!(close(ratio.lower(), pi_lower / (1.0 - pi_lower)));
        assert!(close(ratio.upper(), (1.0 - pi_lower) / pi_lower));
        // Doubling the unexposed person-time doubles ratio and bounds.
        let doubled = RateRatio::exact(rate(1, 50), rate(1, 100)).expect("valid");
        assert!(close(doubled.ratio(), 2.0));
        assert!(close(doubled.lower(), 2.0 * pi_lower / (1.0 - pi_lower)));
    }

    #[test]
    fn rate_ratio_with_zero_counts_has_open_or_zero_bounds() {
        // No exposed events: ratio 0, lower 0, upper from π_U = 1 − 0.025^(1/3).
        let none_exposed = RateRatio::exact(rate(0, 30), rate(3, 60)).expect("valid");
        let pi_upper = 1.0 - 0.025_f64.powf(1.0 / 3.0);
        assert_eq!(none_exposed.ratio(), Some(0.0));
        assert_eq!(none_exposed.lower(), Some(0.0));
        assert!(close(
            none_exposed.upper(),
            pi_upper / (1.0 - pi_upper) * 2.0
        ));
        // No unexposed events: infinite ratio and upper bound, lower from π_L = 0.025 (a = 1).
        let none_unexposed = RateRatio::exact(rate(1, 30), rate(0, 60)).expect("valid");
        assert_eq!(none_unexposed.ratio(), None);
        assert_eq!(none_unexposed.upper(), None);
        assert!(close(none_unexposed.lower(), 0.025 / 0.975 * 2.0));
        // No events at all: nothing to estimate, but nothing below zero either.
        let no_events = RateRatio::exact(rate(0, 30), rate(0, 60)).expect("valid");
        assert_eq!(
            (no_events.ratio(), no_events.lower(), no_events.upper()),
            (None, Some(0.0), None)
        );
        // No exposed person-time: undefined throughout.
        let never_exposed = RateRatio::exact(rate(0, 0), rate(4, 60)).expect("valid");
        assert_eq!(
            (
                never_exposed.ratio(),
                never_exposed.lower(),
                never_exposed.upper()
            ),
            (None, None, None)
        );
        assert_eq!(rate(0, 0).per_day(), None);
        assert_eq!(
            RateRatio::exact(rate(2, 0), rate(4, 60)),
            Err(AnalyticsError::EventsWithoutPersonTime { events: 2 })
        );
    }

    #[test]
    fn exact_interval_is_close_to_the_log_wald_interval_for_large_counts() {
        // With 900 and 1100 events the log-scale Wald interval exp(ln RR ± z √(1/a + 1/b)) is a
        // good approximation; the exact one must agree to about 1 %.
        let ratio = RateRatio::exact(rate(900, 30_000), rate(1100, 50_000)).expect("valid");
        let point = ratio.ratio().expect("defined");
        let half_width = crate::Z_95 * (1.0 / 900.0 + 1.0 / 1100.0_f64).sqrt();
        let wald = (point * (-half_width).exp(), point * half_width.exp());
        let (lower, upper) = (
            ratio.lower().expect("bounded"),
            ratio.upper().expect("bounded"),
        );
        assert!((lower / wald.0 - 1.0).abs() < 0.01, "{lower} vs {}", wald.0);
        assert!((upper / wald.1 - 1.0).abs() < 0.01, "{upper} vs {}", wald.1);
        // Exact intervals are conservative: a little wider.
        assert!(lower <= wald.0 && upper >= wald.1);
    }
}

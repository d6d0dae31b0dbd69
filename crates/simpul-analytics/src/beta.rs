//! The regularized incomplete beta function I_x(a, b) and its inverse in x, for the exact
//! (Clopper–Pearson) binomial interval: the continued fraction of Numerical Recipes (Press et
//! al., 3rd ed., §6.4) evaluated with the modified Lentz method, and a bisection for the inverse
//! (I_x is increasing in x, so bisection cannot miss; it is slow but exact to the last bit that
//! matters for an interval printed with four decimals).

/// ln Γ(x) for x > 0: the Lanczos approximation (g = 7, nine coefficients), relative error
/// about 1e-15; below 0.5 through the reflection formula.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += coefficient / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for a, b > 0;
/// 0 at or below x = 0 and 1 at or above x = 1.
pub(crate) fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    // x^a (1 − x)^b / B(a, b), in logarithms so that large counts do not overflow.
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p()).exp();
    // The continued fraction converges quickly for x below the mean-ish point (a + 1) /
    // (a + b + 2); above it, use I_x(a, b) = 1 − I_{1−x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        front * continued_fraction(x, a, b) / a
    } else {
        1.0 - front * continued_fraction(1.0 - x, b, a) / b
    }
}

/// The x in [0, 1] with I_x(a, b) = `target` (a, b > 0), by bisection until the bracket cannot
/// shrink any further in f64.
pub(crate) fn inverse_regularized_incomplete_beta(target: f64, a: f64, b: f64) -> f64 {
    if target <= 0.0 {
        return 0.0;
    }
    if target >= 1.0 {
        return 1.0;
    }
    let (mut low, mut high) = (0.0_f64, 1.0_f64);
    for _ in 0..200 {
        let middle = 0.5 * (low + high);
        if middle <= low || middle >= high {
            break;
        }
        if regularized_incomplete_beta(middle, a, b) < target {
            low = middle;
        } else {
            high = middle;
        }
    }
    0.5 * (low + high)
}

/// The continued fraction of I_x(a, b) (Numerical Recipes' `betacf`), by the modified Lentz
/// method; stops when a further term changes it by less than 1e-15 (relative).
fn continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPSILON: f64 = 1e-15;
    const MAX_TERMS: u32 = 100_000;
    let nonzero = |value: f64| if value.abs() < TINY { TINY } else { value };
    let (a_plus_b, a_plus_1, a_minus_1) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - a_plus_b * x / a_plus_1);
    let mut fraction = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let two_m = 2.0 * m;
        // The even step.
        let numerator = m * (b - m) * x / ((a_minus_1 + two_m) * (a + two_m));
        d = 1.0 / nonzero(1.0 + numerator * d);
        c = nonzero(1.0 + numerator / c);
        fraction *= d * c;
        // The odd step.
        let numerator = -(a + m) * (a_plus_b + m) * x / ((a + two_m) * (a_plus_1 + two_m));
        d = 1.0 / nonzero(1.0 + numerator * d);
        c = nonzero(1.0 + numerator / c);
        let change = d * c;
        fraction *= change;
        if (change - 1.0).abs() < EPSILON {
            break;
        }
    }
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance
    }

    /// P(X ≥ k) for X ~ Binomial(n, p), summed term by term (independent of the beta code).
    fn binomial_upper_tail(k: u64, n: u64, p: f64) -> f64 {
        let mut total = 0.0;
        for j in k..=n {
            let mut coefficient = 1.0;
            for i in 0..j {
                coefficient *= (n - i) as f64 / (i + 1) as f64;
            }
            total += coefficient * p.powi(j as i32) * (1.0 - p).powi((n - j) as i32);
        }
        total
    }

    #[test]
    fn ln_gamma_matches_factorials_and_the_gamma_of_a_half() {
        let mut factorial = 1.0_f64;
        for n in 1..=30_u32 {
            // Γ(n) = (n − 1)!
            let expected = factorial.ln();
            assert!(close(
                ln_gamma(f64::from(n)),
                expected,
                1e-12 * expected.abs().max(1.0)
            ));
            factorial *= f64::from(n);
        }
        let half = std::f64::consts::PI.sqrt().ln();
        assert!(close(ln_gamma(0.5), half, 1e-14));
        // Γ(0.25) = 3.625609908221908… (Abramowitz & Stegun, Table 6.1).
        assert!(close(ln_gamma(0.25), 3.625_609_908_221_908_f64.ln(), 1e-13));
    }

    #[test]
    fn incomplete_beta_with_a_or_b_one_has_a_closed_form() {
        for &b in &[0.5, 1.0, 2.0, 7.0, 30.0, 250.0] {
            for i in 1..100 {
                let x = f64::from(i) / 100.0;
                // I_x(1, b) = 1 − (1 − x)^b and I_x(b, 1) = x^b.
                assert!(close(
                    regularized_incomplete_beta(x, 1.0, b),
                    1.0 - (1.0 - x).powf(b),
                    1e-13
                ));
                assert!(close(
                    regularized_incomplete_beta(x, b, 1.0),
                    x.powf(b),
                    1e-13
                ));
            }
        }
    }

    #[test]
    fn incomplete_beta_is_symmetric_and_one_half_at_the_centre() {
        for &(a, b) in &[
            (2.0, 3.0),
            (0.5, 4.5),
            (12.0, 40.0),
            (81.0, 183.0),
            (400.0, 1300.0),
        ] {
            for i in 1..50 {
                let x = f64::from(i) / 50.0;
                let sum = regularized_incomplete_beta(x, a, b)
                    + regularized_incomplete_beta(1.0 - x, b, a);
                assert!(
                    close(sum, 1.0, 1e-12),
                    "I_x({a}, {b}) + I_(1-x)({b}, {a}) = {sum}"
                );
            }
        }
        for &a in &[1.0, 3.5, 10.0, 1000.0] {
            assert!(close(regularized_incomplete_beta(0.5, a, a), 0.5, 1e-12));
        }
    }

    #[test]
    fn incomplete_beta_is_the_binomial_upper_tail() {
        // I_p(k, n − k + 1) = P(X ≥ k) for X ~ Binomial(n, p).
        for &n in &[1_u64, 5, 20, 60] {
            for k in 1..=n {
                for &p in &[0.01, 0.1, 0.3, 0.5, 0.77, 0.95] {
                    let beta = regularized_incomplete_beta(p, k as f64, (n - k + 1) as f64);
                    let tail = binomial_upper_tail(k, n, p);
                    assert!(
                        close(beta, tail, 1e-12),
                        "n = {n}, k = {k}, p = {p}: {beta} vs {tail}"
                    );
                }
            }
        }
    }

    #[test]
    fn inverse_incomplete_beta_inverts_it() {
        for &(a, b) in &[
            (1.0, 1.0),
            (1.0, 29.0),
            (15.0, 134.0),
            (81.0, 183.0),
            (3000.0, 7000.0),
        ] {
            for &target in &[1e-6, 0.025, 0.3, 0.5, 0.975, 1.0 - 1e-6] {
                let x = inverse_regularized_incomplete_beta(target, a, b);
                assert!(close(regularized_incomplete_beta(x, a, b), target, 1e-12));
            }
        }
        // Closed forms: I_x(1, b) = 1 − (1 − x)^b and I_x(a, 1) = x^a.
        let x = inverse_regularized_incomplete_beta(0.025, 1.0, 2.0);
        assert!(close(x, 1.0 - 0.975_f64.sqrt(), 1e-15));
        let x = inverse_regularized_incomplete_beta(0.975, 3.0, 1.0);
        assert!(close(x, 0.975_f64.cbrt(), 1e-15));
        assert_eq!(inverse_regularized_incomplete_beta(0.0, 2.0, 2.0), 0.0);
        assert_eq!(inverse_regularized_incomplete_beta(1.0, 2.0, 2.0), 1.0);
    }
}

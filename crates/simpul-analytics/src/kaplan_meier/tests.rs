use super::*;

fn event(time: u32) -> Observation {
    Observation {
        time,
        event: true,
        count: 1,
    }
}

fn censored(time: u32) -> Observation {
    Observation {
        time,
        event: false,
        count: 1,
    }
}

fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

fn round4(value: f64) -> f64 {
    (value * 1e4).round() / 1e4
}

/// The 6-MP group of Freireich et al. (1963), Blood 21:699–716: weeks of remission of 21
/// children with acute leukaemia; relapses, then censored times ("6+").
fn six_mp() -> Vec<Observation> {
    let relapses = [6, 6, 6, 7, 10, 13, 16, 22, 23].map(event);
    let censored = [6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35].map(censored);
    relapses.into_iter().chain(censored).collect()
}

/// The placebo group of the same trial: all 21 relapsed.
fn placebo() -> Vec<Observation> {
    [
        1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23,
    ]
    .map(event)
    .to_vec()
}

#[test]
fn six_mp_curve_matches_klein_and_moeschberger_table_4_1a() {
    // Klein & Moeschberger, Survival Analysis (2nd ed., 2003), Example 4.1, Table 4.1A: the
    // product-limit estimator and Greenwood's standard error for the 6-MP group, three
    // decimals (the same survival values in Kleinbaum & Klein, Survival Analysis: A
    // Self-Learning Text, chapter 2).
    // (time, at risk, events, S(t), standard error)
    let published = [
        (6, 21, 3, 0.857, 0.076),
        (7, 17, 1, 0.807, 0.087),
        (10, 15, 1, 0.753, 0.096),
        (13, 12, 1, 0.690, 0.107),
        (16, 11, 1, 0.627, 0.114),
        (22, 7, 1, 0.538, 0.128),
        (23, 6, 1, 0.448, 0.135),
    ];
    let estimate = KaplanMeier::estimate(six_mp());
    assert_eq!(estimate.steps().len(), published.len());
    for (step, (time, at_risk, events, survival, standard_error)) in
        estimate.steps().iter().zip(published)
    {
        assert_eq!(
            (step.time, step.at_risk, step.events),
            (time, at_risk, events)
        );
        assert_eq!(round3(step.survival), survival, "S({time})");
        let computed = step.standard_error.expect("S > 0");
        assert_eq!(round3(computed), standard_error, "SE at {time}");
    }
    assert_eq!(
        estimate.totals(),
        Totals {
            n: 21,
            events: 9,
            censored: 12
        }
    );
}

#[test]
fn six_mp_log_log_interval_is_symmetric_on_the_log_minus_log_scale() {
    // Hand-checked first row (not a published value): σ² = 3 / (21·18), ln S = ln(6/7),
    // θ = exp(1.959964 σ / ln S) = 0.32217, S^(1/θ) = 0.6197, S^θ = 0.9516.
    let estimate = KaplanMeier::estimate(six_mp());
    let first = estimate.steps()[0].ci.expect("S > 0");
    assert_eq!((round4(first.lower), round4(first.upper)), (0.6197, 0.9516));
    // Every row, from the published S(t) and standard error of Table 4.1A (three decimals):
    // the interval is ln(−ln S) ± z · (SE / S) / |ln S| transformed back — so the published
    // values alone fix it to within their rounding.
    let published = [
        (0.857, 0.076),
        (0.807, 0.087),
        (0.753, 0.096),
        (0.690, 0.107),
        (0.627, 0.114),
        (0.538, 0.128),
        (0.448, 0.135),
    ];
    for (step, (survival, standard_error)) in estimate.steps().iter().zip(published) {
        let log_minus_log = |s: f64| (-s.ln()).ln();
        let half_width = Z_95 * standard_error / survival / survival.ln().abs();
        let lower = (-(log_minus_log(survival) + half_width).exp()).exp();
        let upper = (-(log_minus_log(survival) - half_width).exp()).exp();
        let ci = step.ci.expect("S > 0");
        assert!((ci.lower - lower).abs() < 0.005, "{step:?}: lower {lower}");
        assert!((ci.upper - upper).abs() < 0.005, "{step:?}: upper {upper}");
    }
}

#[test]
fn six_mp_and_placebo_medians_are_23_and_8_weeks() {
    // Kleinbaum & Klein, chapter 2: median remission 23 weeks on 6-MP, 8 on placebo.
    let six_mp = KaplanMeier::estimate(six_mp()).median();
    assert_eq!(six_mp.time, Some(23));
    // Brookmeyer–Crowley: the band's lower curve first drops to 0.5 or below at 13; its upper
    // curve never does (about 0.68 at the last relapse), so the interval is unbounded above.
    assert_eq!((six_mp.lower, six_mp.upper), (Some(13), None));

    let placebo = KaplanMeier::estimate(placebo());
    let median = placebo.median();
    assert_eq!(median.time, Some(8));
    // Without censoring S is the empirical survival: 0.25 quantile where 16/21 → 14/21 (day 4),
    // 0.75 quantile where 6/21 → 4/21 (day 12).
    let quartile = |p| placebo.quantile(p).expect("valid p").time;
    assert_eq!((quartile(0.25), quartile(0.75)), (Some(4), Some(12)));
    // The median's interval, from the band's crossings of 0.5 (checked by hand: the lower
    // curve is 0.519 at 3 and 0.425 at 4; the upper curve 0.578 at 8 and 0.482 at 11).
    assert_eq!((median.lower, median.upper), (Some(4), Some(11)));
    let (lower, upper) = (
        median.lower.expect("reached"),
        median.upper.expect("reached"),
    );
    let crossing = |bound: fn(&Interval) -> f64| {
        placebo
            .steps()
            .iter()
            .find(|step| step.ci.is_none_or(|ci| bound(&ci) <= 0.5))
            .map(|step| step.time)
    };
    assert_eq!(Some(lower), crossing(|ci| ci.lower));
    assert_eq!(Some(upper), crossing(|ci| ci.upper));
}

#[test]
fn at_risk_table_of_six_mp_counts_by_hand() {
    let table = KaplanMeier::estimate(six_mp())
        .at_risk_table(&[0, 10, 20, 30])
        .expect("increasing breaks");
    let row = |from, until, at_risk, events, censored| AtRiskRow {
        from,
        until,
        at_risk,
        events,
        censored,
    };
    assert_eq!(
        table,
        vec![
            // [0, 10): relapses 6, 6, 6, 7; censored 6+, 9+.
            row(0, Some(10), 21, 4, 2),
            // [10, 20): relapses 10, 13, 16; censored 10+, 11+, 17+, 19+.
            row(10, Some(20), 15, 3, 4),
            // [20, 30): relapses 22, 23; censored 20+, 25+.
            row(20, Some(30), 8, 2, 2),
            // [30, ∞): censored 32+, 32+, 34+, 35+.
            row(30, None, 4, 0, 4),
        ]
    );
    let estimate = KaplanMeier::estimate(six_mp());
    assert_eq!(estimate.at_risk_table(&[]), Ok(vec![]));
    assert_eq!(
        estimate.at_risk_table(&[0, 10, 10]),
        Err(AnalyticsError::BreaksNotIncreasing)
    );
    assert_eq!(
        estimate.at_risk_table(&[10, 0]),
        Err(AnalyticsError::BreaksNotIncreasing)
    );
}

#[test]
fn survival_and_incidence_at_a_time_follow_the_steps_and_stop_at_follow_up() {
    let estimate = KaplanMeier::estimate(six_mp());
    // Before the first relapse: 1, certain.
    let start = estimate.survival_at(5).expect("observed");
    assert_eq!((start.estimate, start.standard_error), (1.0, Some(0.0)));
    // Between steps: the last step's value.
    let step_10 = estimate.steps()[2];
    let at_12 = estimate.survival_at(12).expect("observed");
    assert_eq!((at_12.estimate, at_12.ci), (step_10.survival, step_10.ci));
    let incidence = estimate.cumulative_incidence_at(12).expect("observed");
    let ci = step_10.ci.expect("S > 0");
    assert!((incidence.estimate - (1.0 - step_10.survival)).abs() < 1e-15);
    assert_eq!(
        incidence.ci,
        Some(Interval {
            lower: 1.0 - ci.upper,
            upper: 1.0 - ci.lower
        })
    );
    // The last observation is 35+: S(35) is known, S(36) is not.
    assert_eq!(
        round3(estimate.survival_at(35).expect("observed").estimate),
        0.448
    );
    assert_eq!(estimate.survival_at(36), None);
    assert_eq!(estimate.cumulative_incidence_at(36), None);
    // A curve that reached 0 stays there; its standard error and interval are undefined.
    let placebo = KaplanMeier::estimate(placebo());
    let last = placebo.steps().last().expect("steps");
    assert_eq!((last.time, last.survival), (23, 0.0));
    assert_eq!((last.standard_error, last.ci), (None, None));
    assert_eq!(placebo.survival_at(1000).map(|s| s.estimate), Some(0.0));
    assert_eq!(
        placebo.cumulative_incidence_at(1000).map(|s| s.estimate),
        Some(1.0)
    );
}

#[test]
fn events_come_before_censorings_at_the_same_time() {
    // Two KIM at day 5, one reaching the next stage and one censored: both at risk, S = 1/2.
    let estimate = KaplanMeier::estimate([event(5), censored(5)]);
    let step = estimate.steps()[0];
    assert_eq!((step.at_risk, step.events, step.survival), (2, 1, 0.5));
    // The censoring at 5 is counted with the next step, and the at-risk chain holds.
    let estimate = KaplanMeier::estimate([event(5), censored(5), event(7), event(8), censored(6)]);
    let steps = estimate.steps();
    assert_eq!(
        (steps[1].time, steps[1].at_risk, steps[1].censored),
        (7, 2, 2)
    );
    assert_eq!(
        (steps[2].time, steps[2].at_risk, steps[2].censored),
        (8, 1, 0)
    );
}

#[test]
fn a_curve_exactly_at_one_minus_p_gives_the_first_day_there() {
    // Four KIM, no censoring: S = 1/2 over [2, 3). The first day by which half reached the
    // next stage is 2 (R's current `survfit` would print 2.5).
    let four = KaplanMeier::estimate([1, 2, 3, 4].map(event));
    assert_eq!(four.median().time, Some(2));
    // Ten KIM: S(5) = (9/10)(8/9)(7/8)(6/7)(5/6), 1/2 up to rounding.
    let ten = KaplanMeier::estimate((1..=10).map(event));
    assert_eq!(ten.median().time, Some(5));
    assert_eq!(ten.quantile(0.3).expect("valid").time, Some(3));
}

#[test]
fn a_quantile_needs_a_probability_strictly_between_zero_and_one() {
    let estimate = KaplanMeier::estimate(six_mp());
    for p in [0.0, 1.0, -0.5, 1.5] {
        assert_eq!(estimate.quantile(p), Err(AnalyticsError::Probability(p)));
    }
    assert!(estimate.quantile(f64::NAN).is_err());
    // Not reached: 75 % never relapsed within follow-up on 6-MP.
    assert_eq!(estimate.quantile(0.75).expect("valid").time, None);
}

#[test]
fn an_empty_estimate_knows_nothing() {
    let empty = KaplanMeier::estimate([Observation {
        time: 3,
        event: true,
        count: 0,
    }]);
    assert_eq!(empty.totals(), Totals::default());
    assert!(empty.steps().is_empty());
    assert_eq!(empty.survival_at(0), None);
    assert_eq!(
        empty.median(),
        Quantile {
            p: 0.5,
            time: None,
            lower: None,
            upper: None
        }
    );
    assert_eq!(
        empty.at_risk_table(&[0, 5]).expect("increasing"),
        vec![
            AtRiskRow {
                from: 0,
                until: Some(5),
                at_risk: 0,
                events: 0,
                censored: 0
            },
            AtRiskRow {
                from: 5,
                until: None,
                at_risk: 0,
                events: 0,
                censored: 0
            }
        ]
    );
}

/// Every multiset of up to `size` observations drawn from times 0..4, event or censored.
fn small_datasets(size: usize) -> Vec<Vec<Observation>> {
    let kinds: Vec<(u32, bool)> = (0..4)
        .flat_map(|time| [(time, true), (time, false)])
        .collect();
    let mut datasets = Vec::new();
    let mut counts = vec![0_u64; kinds.len()];
    fn fill(
        kind: usize,
        left: usize,
        kinds: &[(u32, bool)],
        counts: &mut Vec<u64>,
        datasets: &mut Vec<Vec<Observation>>,
    ) {
        if kind == kinds.len() {
            let observations: Vec<Observation> = kinds
                .iter()
                .zip(counts.iter())
                .filter(|(_, &count)| count > 0)
                .map(|(&(time, event), &count)| Observation { time, event, count })
                .collect();
            if !observations.is_empty() {
                datasets.push(observations);
            }
            return;
        }
        for count in 0..=left {
            counts[kind] = count as u64;
            fill(kind + 1, left - count, kinds, counts, datasets);
        }
        counts[kind] = 0;
    }
    fill(0, size, &kinds, &mut counts, &mut datasets);
    datasets
}

/// Larger datasets from a fixed linear congruential sequence (deterministic).
fn larger_datasets() -> Vec<Vec<Observation>> {
    let mut state: u64 = 0x5151_4b49_4d00_0001;
    let mut next = move |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    (0..200)
        .map(|_| {
            let length = 1 + next(40);
            (0..length)
                .map(|_| Observation {
                    time: next(730) as u32,
                    event: next(3) > 0,
                    count: 1 + next(60),
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_curve_is_non_increasing_and_inside_its_interval() {
    for observations in small_datasets(5).into_iter().chain(larger_datasets()) {
        let estimate = KaplanMeier::estimate(observations.iter().copied());
        let mut previous: Option<&Step> = None;
        for step in estimate.steps() {
            assert!((0.0..=1.0).contains(&step.survival));
            if let Some(previous) = previous {
                assert!(step.survival <= previous.survival, "{observations:?}");
                assert!(step.time > previous.time);
                assert_eq!(
                    step.at_risk,
                    previous.at_risk - previous.events - step.censored
                );
            }
            match step.ci {
                Some(ci) => {
                    assert!(0.0 <= ci.lower && ci.upper <= 1.0);
                    assert!(ci.contains(step.survival), "{step:?}");
                }
                None => assert_eq!(step.survival, 0.0),
            }
            previous = Some(step);
        }
        let totals = estimate.totals();
        let censored_in_steps: u64 = estimate.steps().iter().map(|step| step.censored).sum();
        assert!(censored_in_steps <= totals.censored);
        assert_eq!(totals.n, observations.iter().map(|o| o.count).sum::<u64>());
        for p in [0.1, 0.25, 0.5, 0.75, 0.9] {
            let quantile = estimate.quantile(p).expect("valid");
            if let Some(time) = quantile.time {
                assert!(quantile.lower.is_some_and(|lower| lower <= time));
                assert!(quantile.upper.is_none_or(|upper| upper >= time));
            }
        }
    }
}

#[test]
fn without_censoring_the_curve_is_the_empirical_survival() {
    for observations in small_datasets(6) {
        if observations.iter().any(|o| !o.event) {
            continue;
        }
        let estimate = KaplanMeier::estimate(observations.iter().copied());
        let n: u64 = observations.iter().map(|o| o.count).sum();
        let last_time = observations
            .iter()
            .map(|o| o.time)
            .max()
            .expect("non-empty");
        for t in 0..=last_time {
            let surviving: u64 = observations
                .iter()
                .filter(|o| o.time > t)
                .map(|o| o.count)
                .sum();
            let survival = estimate.survival_at(t).expect("within follow-up").estimate;
            assert!(
                (survival - surviving as f64 / n as f64).abs() < 1e-12,
                "{observations:?} at {t}"
            );
        }
    }
}

#[test]
fn grouped_counts_give_the_same_curve_as_one_observation_per_kim() {
    for observations in small_datasets(5).into_iter().chain(larger_datasets()) {
        let grouped = KaplanMeier::estimate(observations.iter().copied());
        // One observation per KIM, in reverse order, with empty groups sprinkled in.
        let listed: Vec<Observation> = observations
            .iter()
            .rev()
            .flat_map(|o| {
                let single = Observation { count: 1, ..*o };
                let empty = Observation { count: 0, ..*o };
                std::iter::repeat_n(single, o.count as usize).chain([empty])
            })
            .collect();
        assert_eq!(KaplanMeier::estimate(listed), grouped, "{observations:?}");
    }
}

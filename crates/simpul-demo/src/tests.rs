//! The planner's contract, checked on the bundled 2025 region codes.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::NaiveDate;
use cqrs_es::Aggregate;
use simpul_domain::sealed::DataKey;
use simpul_domain::{
    ActorRole, Community, CommunityCommand, CommunityEvent, CommunityServices, CommunityStatus,
    RegionCode, RegionLevel, Stage,
};
use simpul_regions::Regions;
use uuid::Uuid;

use crate::{
    community_ids, describe, plan_regency, regency_counts, DemoConfig, DemoError, RegencyPlan,
    DEFAULT_UNTIL,
};

fn regions() -> &'static Regions {
    simpul_regions::bundled().unwrap()
}

fn services() -> CommunityServices {
    CommunityServices::new(Arc::new(regions()))
}

fn code(text: &str) -> RegionCode {
    RegionCode::parse(text).unwrap()
}

fn config(scale: u32, seed: u64) -> DemoConfig {
    DemoConfig::new(scale, seed, DEFAULT_UNTIL).unwrap()
}

fn plan(config: &DemoConfig, regency: &str) -> RegencyPlan {
    let regency = code(regency);
    let count = regency_counts(config, regions())
        .into_iter()
        .find(|(code, _)| *code == regency)
        .unwrap()
        .1;
    plan_regency(config, &services(), regions(), &regency, count).unwrap()
}

/// Everything a plan holds, as text: commands and events through serde, the rest by Debug/bytes.
fn fingerprint(plan: &RegencyPlan) -> String {
    let mut out = String::new();
    for person in &plan.persons {
        out.push_str(&format!(
            "{} {:?} {}\n",
            person.person_id, person.key, person.name
        ));
    }
    for step in &plan.steps {
        out.push_str(&format!(
            "{} {} {} {} {} {}\n",
            step.community_id,
            step.at.to_rfc3339(),
            step.actor_id,
            step.actor_role,
            serde_json::to_string(&step.command).unwrap(),
            serde_json::to_string(&step.events).unwrap(),
        ));
    }
    out
}

/// The whole country at scale 1 with the default seed, planned once for all tests that need it.
struct Nation {
    plans: Vec<RegencyPlan>,
    seconds: f64,
}

fn nation() -> &'static Nation {
    static NATION: OnceLock<Nation> = OnceLock::new();
    NATION.get_or_init(|| {
        let config = DemoConfig::default();
        let services = services();
        let started = Instant::now();
        let plans = regency_counts(&config, regions())
            .into_iter()
            .map(|(regency, count)| {
                plan_regency(&config, &services, regions(), &regency, count).unwrap()
            })
            .collect();
        Nation {
            plans,
            seconds: started.elapsed().as_secs_f64(),
        }
    })
}

/// What one KIM ended as.
struct Outcome {
    state: Community,
    bimtek: usize,
    dismissals: usize,
}

/// Folds every KIM of the plans from its own steps' events.
fn outcomes(plans: &[RegencyPlan]) -> BTreeMap<Uuid, Outcome> {
    let mut out: BTreeMap<Uuid, Outcome> = BTreeMap::new();
    for step in plans.iter().flat_map(|plan| &plan.steps) {
        for event in &step.events {
            if let CommunityEvent::CommunityFormed(_) = event {
                out.insert(
                    step.community_id,
                    Outcome {
                        state: Community::default(),
                        bimtek: 0,
                        dismissals: 0,
                    },
                );
            }
            let outcome = out.get_mut(&step.community_id).unwrap();
            match event {
                CommunityEvent::BimtekAttended(_) => outcome.bimtek += 1,
                CommunityEvent::OfficerDismissed(_) => outcome.dismissals += 1,
                _ => {}
            }
            outcome.state.apply(event.clone());
        }
    }
    out
}

fn share(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}

#[test]
fn the_same_config_gives_the_same_plan_and_another_seed_another() {
    let a = plan(&config(1, 42), "34.04");
    let b = plan(&config(1, 42), "34.04");
    assert!(!a.steps.is_empty());
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_eq!(a, b);
    let c = plan(&config(1, 43), "34.04");
    assert_ne!(fingerprint(&a), fingerprint(&c));
}

#[test]
fn community_ids_are_the_ids_a_plan_forms_in_index_order() {
    let regions = regions();
    for (config, regency) in [
        (config(1, 7), "34.03"),
        (config(2, 9), "34.01"),
        (
            DemoConfig::new(1, 7, NaiveDate::from_ymd_opt(2021, 3, 31).unwrap()).unwrap(),
            "34.03",
        ),
    ] {
        let regency = code(regency);
        let count = regency_counts(&config, regions)
            .into_iter()
            .find(|(code, _)| *code == regency)
            .unwrap()
            .1;
        let plan = plan_regency(&config, &services(), regions, &regency, count).unwrap();
        let formed: BTreeSet<Uuid> = plan
            .steps
            .iter()
            .filter(|step| {
                step.events
                    .iter()
                    .any(|e| matches!(e, CommunityEvent::CommunityFormed(_)))
            })
            .map(|step| step.community_id)
            .collect();
        let ids = community_ids(&config, &regency, count);
        assert!(!ids.is_empty());
        assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), formed);
        assert_eq!(ids.len(), formed.len(), "ids are distinct");
        assert_eq!(ids, community_ids(&config, &regency, count));
    }
}

#[test]
fn an_earlier_until_gives_a_prefix_of_the_later_plan() {
    let full = plan(&config(1, 7), "34.03");
    let until = NaiveDate::from_ymd_opt(2023, 6, 30).unwrap();
    let early = plan(&DemoConfig::new(1, 7, until).unwrap(), "34.03");
    let cut: Vec<_> = full
        .steps
        .iter()
        .filter(|step| step.at.date_naive() <= until)
        .cloned()
        .collect();
    assert!(early.steps.len() < full.steps.len());
    assert_eq!(early.steps, cut);
    assert!(early.steps.iter().all(|step| step.at.date_naive() <= until));
    // Past 2025 the same KIM live on: the default plan is a prefix of a longer one.
    let later = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
    let longer = plan(&DemoConfig::new(1, 7, later).unwrap(), "34.03");
    let cut: Vec<_> = longer
        .steps
        .iter()
        .filter(|step| step.at.date_naive() <= DEFAULT_UNTIL)
        .cloned()
        .collect();
    assert_eq!(full.steps, cut);
    assert!(longer.steps.len() > full.steps.len());
    assert!(longer
        .steps
        .iter()
        .any(|s| s.at.date_naive() > DEFAULT_UNTIL));
}

#[test]
fn scale_zero_and_dates_before_2019_are_refused() {
    assert!(matches!(
        DemoConfig::new(0, 1, DEFAULT_UNTIL),
        Err(DemoError::Scale(0))
    ));
    let early = NaiveDate::from_ymd_opt(2018, 12, 31).unwrap();
    assert!(matches!(
        DemoConfig::new(1, 1, early),
        Err(DemoError::Until(_))
    ));
    let zero = DemoConfig {
        scale: 0,
        ..DemoConfig::default()
    };
    assert!(plan_regency(&zero, &services(), regions(), &code("34.04"), 1).is_err());
    assert!(matches!(
        plan_regency(
            &DemoConfig::default(),
            &services(),
            regions(),
            &code("34.04.01"),
            1
        ),
        Err(DemoError::UnknownRegency(_))
    ));
}

#[test]
fn di_yogyakarta_is_pinned_to_its_2025_counts_times_the_scale() {
    for scale in [1, 10] {
        let counts: BTreeMap<RegionCode, u32> = regency_counts(&config(scale, 99), regions())
            .into_iter()
            .collect();
        for (regency, expected) in [
            ("34.04", 40),
            ("34.71", 0),
            ("34.02", 4),
            ("34.01", 40),
            ("34.03", 142),
        ] {
            assert_eq!(counts[&code(regency)], expected * scale, "{regency}");
        }
        let diy: u32 = counts
            .iter()
            .filter(|(code, _)| code.as_str().starts_with("34."))
            .map(|(_, count)| count)
            .sum();
        assert_eq!(diy, 226 * scale);
    }
    assert_eq!(regions().get(&code("34.03")).unwrap().name, "Gunungkidul");
    assert_eq!(regions().get(&code("34.71")).unwrap().name, "Yogyakarta");
}

#[test]
fn counts_cover_every_regency_sum_to_about_4500_and_are_skewed() {
    let all: Vec<RegionCode> = regions()
        .at_level(RegionLevel::Regency)
        .map(|r| r.code)
        .collect();
    for seed in [1, 2, 3, 12_345] {
        let counts = regency_counts(&config(1, seed), regions());
        let codes: Vec<RegionCode> = counts.iter().map(|(code, _)| code.clone()).collect();
        assert_eq!(codes, all, "every kabupaten/kota, in code order");
        let total: u32 = counts.iter().map(|(_, n)| n).sum();
        assert!((4_050..=4_950).contains(&total), "total {total}");
        let small = counts.iter().filter(|(_, n)| *n <= 30).count();
        let zero = counts.iter().filter(|(_, n)| *n == 0).count();
        let max = counts.iter().map(|(_, n)| *n).max().unwrap();
        assert!(
            small * 100 >= counts.len() * 85,
            "{small} of {}",
            counts.len()
        );
        assert!(zero >= 100, "{zero} without KIM");
        assert!((200..=300).contains(&max), "max {max}");
        let scaled = regency_counts(&config(10, seed), regions());
        for ((a, n), (b, m)) in counts.iter().zip(&scaled) {
            assert_eq!(a, b);
            assert_eq!(n * 10, *m);
        }
    }
    // The seed moves the large counts around.
    let one: Vec<u32> = regency_counts(&config(1, 1), regions())
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let two: Vec<u32> = regency_counts(&config(1, 2), regions())
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_ne!(one, two);
}

#[test]
fn the_whole_nation_at_scale_1_is_accepted_and_looks_like_the_country() {
    let nation = nation();
    let events: usize = nation.plans.iter().map(RegencyPlan::event_count).sum();
    let outcomes = outcomes(&nation.plans);
    let kim = outcomes.len();
    let per_kim = events as f64 / kim as f64;
    let mut stages: BTreeMap<Stage, usize> = BTreeMap::new();
    for outcome in outcomes.values() {
        *stages.entry(outcome.state.stage()).or_default() += 1;
    }
    let stage_share = |stage| share(stages.get(&stage).copied().unwrap_or(0), kim);
    let suspended = outcomes
        .values()
        .filter(|o| o.state.status() == CommunityStatus::Suspended)
        .count();
    let dissolved = outcomes
        .values()
        .filter(|o| o.state.status() == CommunityStatus::Dissolved)
        .count();
    let legal = outcomes.values().filter(|o| o.state.is_legal()).count();
    println!(
        "{kim} KIM, {events} events ({per_kim:.1}/KIM) in {:.2}s = {:.0} events/s; stages \
         KIM1 {:.1}% KIM2 {:.1}% KIM3 {:.1}% KIM4 {:.1}%; legal {:.1}%; suspended {suspended}, \
         dissolved {dissolved}",
        nation.seconds,
        events as f64 / nation.seconds,
        stage_share(Stage::Kim1),
        stage_share(Stage::Kim2),
        stage_share(Stage::Kim3),
        stage_share(Stage::Kim4),
        share(legal, kim),
    );
    let expected: u32 = regency_counts(&DemoConfig::default(), regions())
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        kim, expected as usize,
        "every KIM formed by 2025 is planned"
    );
    assert!((40.0..=60.0).contains(&per_kim), "{per_kim} events per KIM");
    for (stage, target) in [
        (Stage::Kim1, 35.0),
        (Stage::Kim2, 15.0),
        (Stage::Kim3, 40.0),
        (Stage::Kim4, 10.0),
    ] {
        let actual = stage_share(stage);
        assert!(
            (actual - target).abs() <= 5.0,
            "{stage}: {actual:.1}% instead of {target}%"
        );
    }
    assert!(suspended > 0 && dissolved > 0);
    assert!(dissolved * 100 < kim * 10, "dissolved {dissolved}");
    let turned_over = outcomes.values().filter(|o| o.dismissals > 0).count();
    assert!(share(turned_over, kim) > 30.0, "turnover in {turned_over}");
}

#[test]
fn bimtek_attendance_goes_with_reaching_kim_3() {
    let outcomes = outcomes(&nation().plans);
    let reach = |filter: &dyn Fn(usize) -> bool| {
        let group: Vec<&Outcome> = outcomes.values().filter(|o| filter(o.bimtek)).collect();
        let high = group
            .iter()
            .filter(|o| o.state.stage() >= Stage::Kim3)
            .count();
        (share(high, group.len()), group.len())
    };
    let (none, n0) = reach(&|b| b == 0);
    let (two, n2) = reach(&|b| b >= 2);
    println!("KIM 3+: {none:.1}% of {n0} without bimtek, {two:.1}% of {n2} with 2 or more");
    assert!(n0 > 100 && n2 > 100);
    assert!(two > none + 10.0, "{two} vs {none}");
}

#[test]
fn every_kim_is_anchored_in_a_real_desa_of_its_regency() {
    for plan in &nation().plans {
        for step in &plan.steps {
            if let CommunityCommand::FormCommunity(form) = &step.command {
                let village = regions().get(&form.village).unwrap();
                assert_eq!(village.level, RegionLevel::Village);
                assert_eq!(
                    form.village.ancestor_at(RegionLevel::Regency).as_ref(),
                    Some(&plan.regency)
                );
            }
        }
    }
}

#[test]
fn steps_are_in_time_order_and_events_replay_to_the_same_decisions() {
    let services = services();
    for plan in nation().plans.iter().take(60) {
        assert!(plan
            .steps
            .windows(2)
            .all(|w| (w[0].at, w[0].community_id) <= (w[1].at, w[1].community_id)));
        let mut states: BTreeMap<Uuid, Community> = BTreeMap::new();
        for step in &plan.steps {
            let state = states.entry(step.community_id).or_default();
            let decided = state.decide(step.command.clone(), &services).unwrap();
            assert_eq!(decided, step.events);
            for event in decided {
                state.apply(event);
            }
        }
    }
}

#[test]
fn actors_have_roles_the_api_allows_and_dates_match_the_steps() {
    let mut kinds: BTreeSet<&'static str> = BTreeSet::new();
    for plan in &nation().plans {
        for step in &plan.steps {
            kinds.insert(step.command.name());
            let role = step.actor_role;
            let allowed = match &step.command {
                CommunityCommand::AppointOfficer(_)
                | CommunityCommand::DismissOfficer(_)
                | CommunityCommand::UpdateMemberCount(_)
                | CommunityCommand::RecordActivity(_)
                | CommunityCommand::RegisterMediaChannel(_)
                | CommunityCommand::DeactivateMediaChannel(_)
                | CommunityCommand::RegisterEBusiness(_)
                | CommunityCommand::DeactivateEBusiness(_) => role == ActorRole::Pegiat,
                CommunityCommand::RecordBimtek(bimtek) => match role {
                    ActorRole::Province => bimtek.organizer_region.level() == RegionLevel::Province,
                    ActorRole::Regency => bimtek.organizer_region == plan.regency,
                    _ => false,
                },
                _ => role == ActorRole::Regency,
            };
            assert!(allowed, "{role} may not {}", step.command.name());
            let scope = step.actor_id.rsplit(':').next().unwrap();
            match role {
                ActorRole::Pegiat => assert_eq!(scope, step.community_id.to_string()),
                ActorRole::Regency => assert_eq!(scope, plan.regency.as_str()),
                _ => assert!(plan.regency.as_str().starts_with(scope)),
            }
            let date = command_date(&step.command);
            assert_eq!(step.at.date_naive(), date, "{}", step.command.name());
            assert!(date >= crate::START && date <= DEFAULT_UNTIL);
        }
    }
    assert_eq!(kinds.len(), 18, "every command kind occurs: {kinds:?}");
}

fn command_date(command: &CommunityCommand) -> NaiveDate {
    match command {
        CommunityCommand::FormCommunity(c) => c.formed_on,
        CommunityCommand::AppointOfficer(c) => c.appointed_on,
        CommunityCommand::DismissOfficer(c) => c.dismissed_on,
        CommunityCommand::UpdateMemberCount(c) => c.effective_on,
        CommunityCommand::IssueSk(c) => c.issued_on,
        CommunityCommand::RevokeSk(c) => c.revoked_on,
        CommunityCommand::AssignRegistrationNumber(c) => c.assigned_on,
        CommunityCommand::RecordBimtek(c) => c.held_on,
        CommunityCommand::RecordActivity(c) => c.held_on,
        CommunityCommand::RegisterMediaChannel(c) => c.registered_on,
        CommunityCommand::DeactivateMediaChannel(c) => c.deactivated_on,
        CommunityCommand::RegisterEBusiness(c) => c.registered_on,
        CommunityCommand::DeactivateEBusiness(c) => c.deactivated_on,
        CommunityCommand::AdvanceStage(c) => c.assessed_on,
        CommunityCommand::LowerStage(c) => c.assessed_on,
        CommunityCommand::SuspendCommunity(c) => c.suspended_on,
        CommunityCommand::ReactivateCommunity(c) => c.reactivated_on,
        CommunityCommand::DissolveCommunity(c) => c.dissolved_on,
    }
}

#[test]
fn nomor_induk_are_unique_in_each_regency_and_bimtek_sessions_are_shared() {
    let mut largest_session = 0;
    for plan in &nation().plans {
        let mut numbers = BTreeSet::new();
        let mut sessions: BTreeMap<Uuid, usize> = BTreeMap::new();
        for step in &plan.steps {
            match &step.command {
                CommunityCommand::AssignRegistrationNumber(assign) => {
                    let digits = plan.regency.as_str().replace('.', "");
                    assert!(assign
                        .number
                        .as_str()
                        .starts_with(&format!("KIM-{digits}-")));
                    assert!(
                        numbers.insert(assign.number.canonical()),
                        "{}",
                        assign.number
                    );
                }
                CommunityCommand::RecordBimtek(bimtek) => {
                    *sessions.entry(bimtek.session_id).or_default() += 1;
                }
                _ => {}
            }
        }
        largest_session = largest_session.max(sessions.values().copied().max().unwrap_or(0));
    }
    assert!(largest_session >= 10, "largest session {largest_session}");
}

#[test]
fn officers_names_are_sealed_with_the_planned_keys() {
    let plan = &nation()
        .plans
        .iter()
        .find(|plan| plan.regency == code("34.04"))
        .unwrap();
    let keys: BTreeMap<Uuid, (DataKey, &str)> = plan
        .persons
        .iter()
        .map(|p| (p.person_id, (DataKey::from_bytes(p.key), p.name.as_str())))
        .collect();
    assert_eq!(keys.len(), plan.persons.len(), "person ids are unique");
    let mut appointed = 0;
    for step in &plan.steps {
        if let CommunityCommand::AppointOfficer(appoint) = &step.command {
            let (key, name) = &keys[&appoint.person_id];
            assert_eq!(key.open(&appoint.name).unwrap(), *name);
            let json = serde_json::to_string(&step.events).unwrap();
            assert!(!json.contains(name), "no plaintext name in an event");
            appointed += 1;
        }
    }
    assert!(
        appointed > plan.persons.len(),
        "some officers were re-appointed"
    );
}

#[test]
fn the_dry_run_summary_matches_the_counts_and_estimates_the_events() {
    let config = DemoConfig::default();
    let summary = describe(&config, regions());
    let total: u32 = regency_counts(&config, regions())
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(summary.total_kim, u64::from(total));
    assert_eq!(summary.provinces.len(), 38);
    let diy = summary
        .provinces
        .iter()
        .find(|p| p.code == code("34"))
        .unwrap();
    assert_eq!(
        (diy.kim, diy.regencies, diy.regencies_with_kim),
        (226, 5, 4)
    );
    let events: usize = nation().plans.iter().map(RegencyPlan::event_count).sum();
    let estimate = summary.expected_events as f64;
    println!("estimated {estimate} events, planned {events}");
    assert!((estimate / events as f64 - 1.0).abs() < 0.05);
    let early = DemoConfig::new(1, 1, NaiveDate::from_ymd_opt(2021, 12, 31).unwrap()).unwrap();
    let early = describe(&early, regions());
    assert!(early.total_kim < summary.total_kim / 2);
}

/// `cargo test --release -p simpul-demo -- --ignored --nocapture`: what the nation plan holds.
#[test]
#[ignore = "a report, not a check"]
fn report() {
    use chrono::Datelike;
    let nation = nation();
    let mut by_type: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut formed: BTreeMap<Uuid, i32> = BTreeMap::new();
    for step in nation.plans.iter().flat_map(|p| &p.steps) {
        for event in &step.events {
            *by_type.entry(event.name()).or_default() += 1;
            if let CommunityEvent::CommunityFormed(f) = event {
                formed.insert(step.community_id, f.formed_on.year());
            }
        }
    }
    let kim = formed.len() as f64;
    for (name, n) in &by_type {
        println!("{name:28} {:6.2}/KIM", *n as f64 / kim);
    }
    let outcomes = outcomes(&nation.plans);
    let mut years: BTreeMap<i32, Vec<&Outcome>> = BTreeMap::new();
    for (id, outcome) in &outcomes {
        years.entry(formed[id]).or_default().push(outcome);
    }
    for (year, group) in years {
        let n = group.len();
        let stage = |s: Stage| share(group.iter().filter(|o| o.state.stage() == s).count(), n);
        println!(
            "{year}: {n:5} KIM1 {:4.1} KIM2 {:4.1} KIM3 {:4.1} KIM4 {:4.1} legal {:4.1} bimtek {:.2} events {:.1}",
            stage(Stage::Kim1),
            stage(Stage::Kim2),
            stage(Stage::Kim3),
            stage(Stage::Kim4),
            share(group.iter().filter(|o| o.state.is_legal()).count(), n),
            group.iter().map(|o| o.bimtek).sum::<usize>() as f64 / n as f64,
            group.iter().map(|o| o.state.version()).sum::<u64>() as f64 / n as f64,
        );
    }
}

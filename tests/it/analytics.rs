//! The analytics endpoints (issue 15, `docs/analytics.md`) over HTTP, on the demo seed of DI
//! Yogyakarta: every figure against an independent computation from the log itself (each KIM's
//! history folded here from its events, a product-limit estimate and day-by-day exposure counted
//! here), the demo's planted bimtek effect found with intervals that exclude "no effect", small
//! cells suppressed, scopes and bad parameters refused.

use std::collections::BTreeMap;

use chrono::{Datelike as _, Months, NaiveDate};
use serde_json::Value;
use simpul_domain::{CommunityEvent, Stage};

use crate::both_backends;
use crate::helpers::*;
use crate::server::TestServer;

/// The demo's last day: its histories end here.
const AS_OF: &str = "2025-12-31";

/// One KIM's history, folded here from its events (not from any read model).
#[derive(Debug, Default)]
struct History {
    region: String,
    formed_on: Option<NaiveDate>,
    formed_stage: Option<Stage>,
    /// (assessed_on, from, to), in log order.
    changes: Vec<(NaiveDate, Stage, Stage)>,
    bimtek: Vec<NaiveDate>,
    dissolved_on: Option<NaiveDate>,
}

impl History {
    fn first_at(&self, stage: Stage, as_of: NaiveDate) -> Option<NaiveDate> {
        let formed = (self.formed_stage? >= stage).then_some(self.formed_on?);
        self.changes
            .iter()
            .filter(|(on, from, to)| to > from && *to >= stage && *on <= as_of)
            .map(|(on, _, _)| *on)
            .chain(formed)
            .min()
    }
}

/// DI Yogyakarta's demo served (`web::demo_server`: `demo seed --scale 1 --region 34`, read
/// models caught up), and every KIM's history folded here from the feed.
async fn demo(db: TestDb) -> (TestServer, Vec<History>) {
    let server = crate::web::demo_server(db).await;
    let store = simpul_store::EventStore::new(server.database());
    let count = store.count().await.unwrap() as usize;
    let events = read_feed(&store, 0, count).await;
    let mut histories: BTreeMap<String, History> = BTreeMap::new();
    for stored in &events {
        let event: CommunityEvent = serde_json::from_value(stored.payload.clone()).unwrap();
        let history = histories.entry(stored.aggregate_id.clone()).or_default();
        match event {
            CommunityEvent::CommunityFormed(e) => {
                history.region = e.village.to_string();
                history.formed_on = Some(e.formed_on);
                history.formed_stage = Some(e.stage);
            }
            CommunityEvent::StageAdvanced(e) => history.changes.push((e.assessed_on, e.from, e.to)),
            CommunityEvent::StageLowered(e) => history.changes.push((e.assessed_on, e.from, e.to)),
            CommunityEvent::BimtekAttended(e) => history.bimtek.push(e.held_on),
            CommunityEvent::CommunityDissolved(e) => history.dissolved_on = Some(e.dissolved_on),
            _ => {}
        }
    }
    (server, histories.into_values().collect())
}

/// The published form of a count: the number, or "< 5".
fn published(count: usize) -> Value {
    if count < 5 {
        Value::from("< 5")
    } else {
        Value::from(count)
    }
}

/// Kaplan–Meier by hand: (day, reached) per KIM → the steps (day, S after it).
fn product_limit(mut spells: Vec<(i64, bool)>) -> Vec<(i64, f64)> {
    spells.sort();
    let mut at_risk = spells.len() as f64;
    let mut survival = 1.0;
    let mut steps = Vec::new();
    let mut i = 0;
    while i < spells.len() {
        let day = spells[i].0;
        let same: Vec<&(i64, bool)> = spells[i..].iter().take_while(|s| s.0 == day).collect();
        let events = same.iter().filter(|s| s.1).count() as f64;
        if events > 0.0 {
            survival *= 1.0 - events / at_risk;
            steps.push((day, survival));
        }
        at_risk -= same.len() as f64;
        i += same.len();
    }
    steps
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

both_backends!(
    analytics_agree_with_the_log_and_find_the_demo_bimtek_effect,
    |db: TestDb| async move {
        let (server, histories) = demo(db).await;
        let analyst = server.token("analyst", "national").await;
        let as_of = date(AS_OF);
        let in_34: Vec<&History> = histories
            .iter()
            .filter(|h| h.region.starts_with("34."))
            .collect();
        assert!(
            in_34.len() > 200,
            "the seed holds DI Yogyakarta's KIM: {}",
            in_34.len()
        );

        // Time from KIM 1 to KIM 2: censored at dissolution or as_of.
        let reply = server
            .get(
                &format!("/analytics/time-to-stage?region=34&from=kim1&to=kim2&cohort=year&as_of={AS_OF}"),
                &analyst,
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let body = &reply.body;
        assert!(body["computed_at"]["position"].as_u64().unwrap() > 0);
        let spell = |h: &History| -> Option<(i64, bool)> {
            if h.formed_stage? != Stage::Kim1 || h.formed_on? > as_of {
                return None;
            }
            let entry = h.formed_on?;
            Some(match h.first_at(Stage::Kim2, as_of) {
                Some(on) => ((on - entry).num_days(), true),
                None => {
                    let end = h
                        .dissolved_on
                        .filter(|d| *d <= as_of)
                        .unwrap_or(as_of)
                        .max(entry);
                    ((end - entry).num_days(), false)
                }
            })
        };
        let spells: Vec<(i64, bool)> = in_34.iter().filter_map(|h| spell(h)).collect();
        let reached = spells.iter().filter(|s| s.1).count();
        let overall = &body["overall"];
        assert_eq!(overall["kim"], published(spells.len()));
        assert_eq!(overall["reached"], published(reached));
        assert_eq!(overall["censored"], published(spells.len() - reached));
        let steps = product_limit(spells.clone());
        let median = steps
            .iter()
            .find(|(_, s)| *s <= 0.5 + 1e-9)
            .map(|(d, _)| *d);
        assert_eq!(overall["median"]["days"].as_i64(), median, "{overall}");
        // The curve: the share reached by each day it lists.
        let points = overall["curve"].as_array().unwrap();
        assert!(points.len() > 10, "{overall}");
        for point in points {
            let day = point["day"].as_i64().unwrap();
            let s = steps
                .iter()
                .take_while(|(d, _)| *d <= day)
                .last()
                .map_or(1.0, |(_, s)| *s);
            assert!(
                close(point["reached"].as_f64().unwrap(), 1.0 - s),
                "day {day}: {point}"
            );
            let (lower, upper) = (point["lower"].as_f64(), point["upper"].as_f64());
            if let (Some(lower), Some(upper)) = (lower, upper) {
                assert!(
                    lower <= 1.0 - s + 1e-12 && 1.0 - s <= upper + 1e-12,
                    "{point}"
                );
            }
        }
        assert_eq!(overall["at_risk"][0]["at_risk"], published(spells.len()));
        // Per cohort: each year's KIM.
        for cohort in body["cohorts"].as_array().unwrap() {
            let year: i32 = cohort["cohort"].as_str().unwrap().parse().unwrap();
            let of_year = in_34
                .iter()
                .filter(|h| h.formed_on.is_some_and(|d| d.year() == year))
                .filter_map(|h| spell(h))
                .count();
            assert_eq!(cohort["kim"], published(of_year), "{year}");
            assert_eq!(cohort["suppressed"], of_year < 5, "{year}");
        }

        // The bimtek effect, its time counted here day by day.
        let window = 180i64;
        let reply = server
            .get(
                &format!("/analytics/bimtek-effect?region=34&window_days={window}&as_of={AS_OF}"),
                &analyst,
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let effect = &reply.body;
        let (mut exposed, mut unexposed) = ((0u64, 0u64), (0u64, 0u64)); // (days, advances)
        let mut by_count = [(0u64, 0u64); 4];
        for h in &in_34 {
            let (Some(formed_on), Some(formed_stage)) = (h.formed_on, h.formed_stage) else {
                continue;
            };
            if formed_on > as_of {
                continue;
            }
            // Spells: (stage, start, end, advanced).
            let mut spells = Vec::new();
            let (mut stage, mut start) = (formed_stage, formed_on);
            let mut changes: Vec<&(NaiveDate, Stage, Stage)> =
                h.changes.iter().filter(|c| c.0 <= as_of).collect();
            changes.sort_by_key(|c| c.0);
            for (on, _, to) in changes {
                spells.push((stage, start, *on, stage.next() == Some(*to)));
                stage = *to;
                start = *on;
            }
            let end = h.dissolved_on.map_or(as_of, |d| d.min(as_of));
            if end >= start {
                spells.push((stage, start, end, false));
            }
            for (stage, start, end, advanced) in spells {
                if stage == Stage::Kim4 || (advanced && end == start) {
                    continue;
                }
                let mut day = start.succ_opt().unwrap();
                while day <= end {
                    let after = h
                        .bimtek
                        .iter()
                        .any(|b| *b < day && (day - *b).num_days() <= window);
                    let attended = h.bimtek.iter().filter(|b| **b < day).count().min(3);
                    let event = u64::from(advanced && day == end);
                    let slot = if after { &mut exposed } else { &mut unexposed };
                    slot.0 += 1;
                    slot.1 += event;
                    by_count[attended].0 += 1;
                    by_count[attended].1 += event;
                    day = day.succ_opt().unwrap();
                }
            }
        }
        let overall = &effect["overall"];
        assert_eq!(overall["after_bimtek"]["kim_days"], exposed.0, "{effect}");
        assert_eq!(overall["without"]["kim_days"], unexposed.0, "{effect}");
        assert_eq!(
            overall["after_bimtek"]["advances"],
            published(exposed.1 as usize)
        );
        assert_eq!(
            overall["without"]["advances"],
            published(unexposed.1 as usize)
        );
        let ratio =
            (exposed.1 as f64 / exposed.0 as f64) / (unexposed.1 as f64 / unexposed.0 as f64);
        assert!(
            close(overall["rate_ratio"].as_f64().unwrap(), ratio),
            "{overall}"
        );
        for (level, (days, advances)) in by_count.iter().enumerate() {
            let row = &effect["by_bimtek_count"][level];
            assert_eq!(row["rate"]["kim_days"], *days, "{row}");
            assert_eq!(
                row["rate"]["advances"],
                published(*advances as usize),
                "{row}"
            );
        }
        // The planted effect (×0.4 with no bimtek, ×1.2 with two, ×2 with four or more): found,
        // with intervals that exclude a ratio of 1.
        let two = &effect["by_bimtek_count"][2];
        assert!(
            two["lower"].as_f64().unwrap() > 1.0,
            "two bimtek against none: {two}"
        );
        let three = &effect["by_bimtek_count"][3];
        assert!(
            three["lower"].as_f64().unwrap() > 1.0,
            "three or more against none: {three}"
        );
        assert!(
            overall["lower"].as_f64().unwrap() > 1.0,
            "after a bimtek against other time: {overall}"
        );

        // The funnel: per cohort year, KIM observed for the whole window and those that made it.
        let reply = server
            .get(
                &format!("/analytics/funnel?region=34&cohort=year&as_of={AS_OF}"),
                &analyst,
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        for cohort in reply.body["cohorts"].as_array().unwrap() {
            let year: i32 = cohort["cohort"].as_str().unwrap().parse().unwrap();
            let of_year: Vec<&&History> = in_34
                .iter()
                .filter(|h| h.formed_on.is_some_and(|d| d.year() == year && d <= as_of))
                .collect();
            assert_eq!(cohort["formed"], published(of_year.len()), "{year}");
            for cell in cohort["cells"].as_array().unwrap() {
                let stage: Stage = serde_json::from_value(cell["stage"].clone()).unwrap();
                let months = cell["months"].as_u64().unwrap() as u32;
                let end = |h: &History| {
                    h.formed_on
                        .unwrap()
                        .checked_add_months(Months::new(months))
                        .unwrap()
                };
                let eligible: Vec<&&&History> =
                    of_year.iter().filter(|h| end(h) <= as_of).collect();
                let made_it = eligible
                    .iter()
                    .filter(|h| h.first_at(stage, as_of).is_some_and(|on| on <= end(h)))
                    .count();
                assert_eq!(cell["eligible"], published(eligible.len()), "{year} {cell}");
                assert_eq!(cell["reached"], published(made_it), "{year} {cell}");
                if eligible.len() >= 5 && made_it >= 5 {
                    let share = made_it as f64 / eligible.len() as f64;
                    assert!(close(cell["share"].as_f64().unwrap(), share), "{cell}");
                } else {
                    assert!(cell["share"].is_null(), "{cell}");
                }
            }
        }

        // Trends: KIM per stage at each month's end.
        let reply = server
            .get(
                "/analytics/trends?region=34&interval=month&from=2024-01-01&to=2025-12-31",
                &analyst,
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let months = reply.body["months"].as_array().unwrap();
        assert_eq!(months.len(), 24);
        for month in months {
            let first = NaiveDate::parse_from_str(
                &format!("{}-01", month["month"].as_str().unwrap()),
                "%Y-%m-%d",
            )
            .unwrap();
            let last = first
                .checked_add_months(Months::new(1))
                .unwrap()
                .pred_opt()
                .unwrap();
            let mut at = [0usize; 4];
            for h in &in_34 {
                let (Some(formed_on), Some(formed_stage)) = (h.formed_on, h.formed_stage) else {
                    continue;
                };
                if formed_on > last || h.dissolved_on.is_some_and(|d| d <= last) {
                    continue;
                }
                let mut changes: Vec<&(NaiveDate, Stage, Stage)> =
                    h.changes.iter().filter(|c| c.0 <= last).collect();
                changes.sort_by_key(|c| c.0);
                let stage = changes.last().map_or(formed_stage, |c| c.2);
                at[usize::from(stage.number() - 1)] += 1;
            }
            for (n, name) in ["kim1", "kim2", "kim3", "kim4"].iter().enumerate() {
                assert_eq!(month[*name], published(at[n]), "{month}");
            }
        }

        // Compare: DI Yogyakarta's kabupaten/kota side by side, in the order asked.
        let reply = server
            .get(
                "/analytics/compare?regions=34.03,34.71,34.01&metric=median_days_kim1_kim2",
                &analyst,
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let regions: Vec<&str> = reply.body["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["region"].as_str().unwrap())
            .collect();
        assert_eq!(regions, ["34.03", "34.71", "34.01"]);
        // Kota Yogyakarta has no KIM: nothing to estimate, and its count is suppressed.
        assert_eq!(reply.body["regions"][1]["kim"], "< 5");
        assert!(reply.body["regions"][1]["value"].is_null());
        assert!(reply.body["regions"][0]["value"].as_f64().is_some());

        // CSV: the same figures, with the position they were computed at in every row.
        let reply = server
            .call(
                reqwest::Method::GET,
                "/api/v1/analytics/funnel?region=34",
                Some(&analyst),
                None,
                &[("accept", "text/csv")],
            )
            .await;
        assert_eq!(reply.status, 200);
        let text = reply.body.as_str().unwrap();
        assert!(text.starts_with("kohort,dibentuk,tahap,bulan,teramati,tercapai,proporsi,batas_bawah,batas_atas,posisi_log,per_tanggal\r\n"), "{text}");
    }
);

both_backends!(
    analytics_refuse_bad_parameters_and_other_scopes,
    |db: TestDb| async move {
        let server = TestServer::on(db).await;
        let yogya = server.token("province", "34").await;
        for (path, status, field) in [
            ("/analytics/time-to-stage?region=35", 403, None),
            ("/analytics/funnel?region=35", 403, None),
            (
                "/analytics/compare?regions=34,35&metric=legal_share",
                403,
                None,
            ),
            (
                "/analytics/time-to-stage?from=kim2&to=kim1",
                400,
                Some("to"),
            ),
            (
                "/analytics/time-to-stage?as_of=2999-01-01",
                400,
                Some("as_of"),
            ),
            (
                "/analytics/time-to-stage?as_of=31-12-2025",
                400,
                Some("as_of"),
            ),
            (
                "/analytics/bimtek-effect?window_days=0",
                400,
                Some("window_days"),
            ),
            (
                "/analytics/trends?from=2025-06-01&to=2025-01-01",
                400,
                Some("from"),
            ),
            (
                "/analytics/trends?from=1990-01-01&to=2025-01-01",
                400,
                Some("to"),
            ),
            ("/analytics/compare?regions=34&metric=fastest", 400, None),
            (
                "/analytics/compare?regions=&metric=legal_share",
                400,
                Some("regions"),
            ),
            ("/analytics/funnel?cohort=decade", 400, None),
        ] {
            let reply = server.get(path, &yogya).await;
            assert_eq!(reply.status, status, "{path}: {:?}", reply.body);
            if let Some(field) = field {
                assert_eq!(reply.body["field"], field, "{path}: {:?}", reply.body);
            }
        }
        let many = (11..=52)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let admin = server.token("admin", "national").await;
        let reply = server
            .get(
                &format!("/analytics/compare?regions={many}&metric=legal_share"),
                &admin,
            )
            .await;
        assert_eq!(reply.status, 400, "{:?}", reply.body);
        // A pegiat's scope is one KIM: an aggregate of it would be that KIM's own history.
        let kim = server
            .form(&server.token("regency", "34.04").await, "34.04.01.2001")
            .await;
        let pegiat = server.token("pegiat", &kim).await;
        let reply = server.get("/analytics/time-to-stage", &pegiat).await;
        assert!(
            reply.status == 403 || reply.status == 404,
            "{:?}",
            reply.body
        );
        // The effect is kept until the read model moves: a dissolution changes it at once.
        let head = simpul_store::EventStore::new(server.database())
            .head()
            .await
            .unwrap();
        let path = format!("/analytics/bimtek-effect?region=34&min_position={head}");
        let before = server.get(&path, &yogya).await;
        assert_eq!(before.status, 200, "{:?}", before.body);
        let again = server.get(&path, &yogya).await;
        assert_eq!(again.body, before.body);
        let regency = server.token("regency", "34.04").await;
        let dissolved = server
            .post(
                &format!("/communities/{kim}/dissolve"),
                &regency,
                serde_json::json!({"effective_on": "2025-09-01", "reason": "pengurus membubarkan diri"}),
            )
            .await;
        assert_eq!(dissolved.status, 200, "{:?}", dissolved.body);
        let position = dissolved.body["position"].as_u64().unwrap();
        let after = server
            .get(
                &format!("/analytics/bimtek-effect?region=34&min_position={position}"),
                &yogya,
            )
            .await;
        assert_eq!(after.status, 200, "{:?}", after.body);
        let days = |reply: &crate::server::Reply| {
            reply.body["overall"]["without"]["kim_days"]
                .as_u64()
                .unwrap()
        };
        assert!(
            days(&after) < days(&before),
            "{:?} then {:?}",
            before.body,
            after.body
        );
        assert!(
            after.body["computed_at"]["position"].as_u64()
                > before.body["computed_at"]["position"].as_u64()
        );

        // An empty province: every count suppressed, no estimate, nothing fails.
        let reply = server
            .get("/analytics/time-to-stage?region=34", &yogya)
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["overall"]["kim"], "< 5");
        assert_eq!(reply.body["overall"]["suppressed"], true);
    }
);

//! The read-model query API over a real server: dashboard, list, CSV, scopes, read-your-writes.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::Value;
use simpul_domain::{ActorRole, RegionCode};

use crate::helpers::{context, form};
use crate::server::TestServer;

/// Forms seed 000's DI Yogyakarta KIM (real codes) and returns the last write's position.
async fn form_di_yogyakarta(server: &TestServer) -> u64 {
    let regions = simpul_regions::bundled().unwrap();
    let executor = server.executor();
    let mut position = 0;
    for (regency, count) in [("34.04", 40), ("34.02", 4), ("34.01", 40), ("34.03", 142)] {
        let villages: Vec<String> = regions
            .children(&RegionCode::parse(regency).unwrap())
            .iter()
            .flat_map(|district| regions.children(&district.code))
            .map(|village| village.code.to_string())
            .collect();
        for n in 0..count {
            let id = uuid::Uuid::now_v7().to_string();
            position = executor
                .execute(
                    &id,
                    form(&villages[n % villages.len()], 10),
                    &context(ActorRole::Regency),
                )
                .await
                .unwrap()
                .position;
        }
    }
    position
}

async fn dashboard_and_list(server: TestServer) {
    let position = form_di_yogyakarta(&server).await;
    let province = server.token("province", "34").await;
    let regency = server.token("regency", "34.04").await;
    let national = server.token("national", "national").await;
    let other_province = server.token("province", "21").await;
    let wait = format!("min_position={position}");

    // The province's dashboard: 226 in all, and each kabupaten/kota with its name.
    let reply = server
        .get(&format!("/dashboard/stages?region=34&{wait}"), &province)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["region"]["total"], 226);
    assert_eq!(reply.body["region"]["by_stage"]["kim1"], 226);
    assert_eq!(reply.body["region"]["by_legal"]["not_legal"], 226);
    let children = reply.body["children"].as_array().unwrap();
    let by_code = |code: &str| children.iter().find(|c| c["code"] == code).unwrap().clone();
    assert_eq!(children.len(), 5);
    assert_eq!(by_code("34.04")["total"], 40);
    assert_eq!(by_code("34.04")["name"], "Kabupaten Sleman");
    assert_eq!(by_code("34.02")["total"], 4);
    assert_eq!(by_code("34.01")["total"], 40);
    assert_eq!(by_code("34.03")["total"], 142);
    assert_eq!(by_code("34.71")["total"], 0, "Kota Yogyakarta has none");
    assert_eq!(by_code("34.71")["name"], "Kota Yogyakarta");

    // CSV of the same dashboard.
    let csv = server
        .call(
            Method::GET,
            "/api/v1/dashboard/stages?region=34",
            Some(&province),
            None,
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.body.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(lines[0].starts_with("kode_wilayah,wilayah,total,kim1"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("34.71,Kota Yogyakarta,0,")),
        "{text}"
    );
    assert!(
        lines[1].starts_with("34,Daerah Istimewa Yogyakarta,226,226,"),
        "{text}"
    );

    // National: every province, 226 in all. A regency sees its own kabupaten, not the province.
    let reply = server.get("/dashboard/stages", &national).await;
    assert_eq!(reply.body["region"]["total"], 226);
    assert_eq!(reply.body["children"].as_array().unwrap().len(), 38);
    let reply = server.get("/dashboard/stages?region=34.04", &regency).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["region"]["total"], 40);
    let kecamatan: i64 = reply.body["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["total"].as_i64().unwrap())
        .sum();
    assert_eq!(kecamatan, 40);
    for (token, query) in [
        (&regency, "/dashboard/stages?region=34"),
        (&other_province, "/dashboard/stages?region=34"),
        (&regency, "/dashboard/stages"),
        (&regency, "/communities?region=34.02"),
    ] {
        let reply = server.get(query, token).await;
        assert_eq!(reply.status, 403, "{query}: {:?}", reply.body);
        assert!(reply.is_problem());
    }
    let anonymous = server
        .call(
            Method::GET,
            "/api/v1/dashboard/stages?region=34",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(anonymous.status, 401);
    for (query, field) in [
        ("/dashboard/stages?region=abc", "region"),
        ("/dashboard/stages?region=34.04.01.2001", "region"),
        ("/dashboard/stages?region=34&colour=red", ""),
        ("/communities?stage=kim9", "stage"),
        ("/communities?limit=0", "limit"),
        ("/communities?limit=many", "limit"),
        ("/communities?legal=maybe", "legal"),
    ] {
        let reply = server.get(query, &province).await;
        assert_eq!(reply.status, 400, "{query}: {:?}", reply.body);
        if !field.is_empty() {
            assert_eq!(reply.body["field"], field, "{query}");
        }
    }

    // The list: a regency's own 40, in pages, none twice.
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("/communities?limit=15&cursor={cursor}"),
            None => "/communities?limit=15".to_owned(),
        };
        let reply = server.get(&query, &regency).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        for item in reply.body["items"].as_array().unwrap() {
            assert_eq!(item["regency_code"], "34.04");
            assert_eq!(item["regency_name"], "Kabupaten Sleman");
            assert!(seen.insert(item["community_id"].as_str().unwrap().to_owned()));
        }
        pages += 1;
        match &reply.body["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            _ => break,
        }
    }
    assert_eq!((seen.len(), pages), (40, 3));
    let reply = server
        .get(
            "/communities?region=34.03&stage=kim1&status=active&legal=false&limit=500",
            &province,
        )
        .await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 142);
    let reply = server
        .get("/communities?region=34.03&stage=kim2", &province)
        .await;
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 0);
    let csv = server
        .call(
            Method::GET,
            "/api/v1/communities?region=34.02",
            Some(&province),
            None,
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(
        csv.body.as_str().unwrap().lines().count(),
        5,
        "header and 4 KIM of Bantul"
    );

    // Read-your-writes: a position past the log's head was never given out, so waiting for it
    // is a 400 naming the field (not a 503 after waiting 2 s).
    let reply = server
        .get(
            "/dashboard/stages?region=34&min_position=999999999",
            &province,
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "min_position");

    // The projections' status is for admins and auditors.
    let admin = server.token("admin", "national").await;
    let reply = server.get("/projections", &admin).await;
    assert_eq!(reply.status, 200);
    let names: Vec<&str> = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "community_summary",
            "stage_dashboard",
            "audit_trail",
            "stage_transitions",
            "ledger",
            "community_history"
        ]
    );
    assert_eq!(server.get("/projections", &regency).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_list_csv_and_scopes_on_postgres() {
    dashboard_and_list(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_list_csv_and_scopes_on_sqlite() {
    dashboard_and_list(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

async fn audit_and_analytics(server: TestServer) {
    let executor = server.executor();
    let keys = simpul_store::KeyStore::new(
        executor.store().database().clone(),
        simpul_store::MasterKey::generate(),
    );
    let id = crate::helpers::legal_ready(&executor, &keys, "21.71.01.1002").await;
    executor
        .execute(
            &id,
            crate::helpers::assign_number("KIM-2171-0009", "21.71"),
            &context(ActorRole::Regency),
        )
        .await
        .unwrap();
    let bimtek =
        simpul_domain::CommunityCommand::RecordBimtek(simpul_domain::commands::RecordBimtek {
            session_id: uuid::Uuid::new_v4(),
            kind: simpul_domain::events::BimtekKind::Bimtek,
            title: simpul_domain::text::Title::parse("Bimtek KIM Kota Batam").unwrap(),
            held_on: crate::helpers::date("2025-08-27"),
            organizer_region: RegionCode::parse("21.71").unwrap(),
            participants: 38,
        });
    executor
        .execute(&id, bimtek, &context(ActorRole::Province))
        .await
        .unwrap();
    let (_, command) =
        crate::helpers::activity(simpul_domain::events::ActivityKind::DevelopmentAgent);
    let evidence = executor
        .execute(&id, command, &context(ActorRole::Pegiat))
        .await
        .unwrap()
        .version;
    let position = executor
        .execute(
            &id,
            simpul_domain::CommunityCommand::AdvanceStage(simpul_domain::commands::AdvanceStage {
                to: simpul_domain::Stage::Kim2,
                assessed_on: crate::helpers::date("2025-09-10"),
                evidence: vec![evidence],
                assessed_by_role: ActorRole::Regency,
            }),
            &context(ActorRole::Regency),
        )
        .await
        .unwrap()
        .position;

    let auditor = server.token("auditor", "21").await;
    let reply = server
        .get(
            &format!("/audit?community={id}&min_position={position}"),
            &auditor,
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 9);
    let summaries: Vec<&str> = items
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries[0].starts_with("KIM Maju Bersama dibentuk di Kelurahan Pemping"),
        "{summaries:?}"
    );
    assert_eq!(summaries[1], "Pengurus diangkat sebagai ketua");
    assert!(
        summaries[4].starts_with("SK nomor 12/2025 diterbitkan oleh Kepala Desa"),
        "{summaries:?}"
    );
    assert_eq!(
        summaries[5],
        "Nomor induk KIM-2171-0009 diberikan oleh Dinas Kota Batam"
    );
    assert!(summaries[6].starts_with("38 peserta mengikuti bimtek \"Bimtek KIM Kota Batam\""));
    assert_eq!(
        summaries[8],
        "Tahap naik dari KIM 1 ke KIM 2 (kebijakan 2025.1)"
    );
    for (item, name) in items.iter().zip(
        ["Ketua Satu", "Sekretaris Dua", "Bendahara Tiga"]
            .iter()
            .cycle(),
    ) {
        assert!(
            !item.to_string().contains(name),
            "personal data in the audit trail"
        );
    }
    assert_eq!(items[1]["role"], "pegiat");
    assert_eq!(items[0]["regency_code"], "21.71");

    // Pages of 4, a type filter, scope and parameter errors.
    let page = server
        .get(&format!("/audit?community={id}&limit=4"), &auditor)
        .await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 4);
    let cursor = page.body["next_cursor"].as_u64().unwrap();
    let next = server
        .get(
            &format!("/audit?community={id}&limit=4&cursor={cursor}"),
            &auditor,
        )
        .await;
    assert_eq!(next.body["items"][0]["sequence"], 5);
    let sk = server.get("/audit?type=SkIssued", &auditor).await;
    assert_eq!(sk.body["items"].as_array().unwrap().len(), 1);
    let elsewhere = server.token("auditor", "34").await;
    assert_eq!(
        server
            .get(&format!("/audit?community={id}"), &elsewhere)
            .await
            .status,
        404
    );
    assert_eq!(server.get("/audit?region=21", &elsewhere).await.status, 403);
    let regency = server.token("regency", "21.71").await;
    assert_eq!(server.get("/audit", &regency).await.status, 403);
    for query in [
        "/audit?type=Nothing",
        "/audit?from=yesterday",
        "/audit?limit=501",
    ] {
        assert_eq!(server.get(query, &auditor).await.status, 400, "{query}");
    }

    // Analytics: one KIM 1 → KIM 2, formed 2025-01-10 and advanced 2025-09-10, with a bimtek before.
    let reply = server
        .get("/analytics/stage-transitions?region=21", &auditor)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let stats = reply.body.as_array().unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["from"], "kim1");
    assert_eq!(stats[0]["to"], "kim2");
    assert_eq!(stats[0]["days"]["count"], 1);
    let formed = chrono::NaiveDate::from_ymd_opt(2025, 1, 10).unwrap();
    let advanced = chrono::NaiveDate::from_ymd_opt(2025, 9, 10).unwrap();
    assert_eq!(
        stats[0]["days"]["median"],
        (advanced - formed).num_days() as f64
    );
    assert_eq!(stats[0]["with_bimtek"]["count"], 1);
    assert_eq!(stats[0]["without_bimtek"]["count"], 0);
    let none = server
        .get(
            "/analytics/stage-transitions?region=21&from=2026-01-01",
            &auditor,
        )
        .await;
    assert_eq!(none.body.as_array().unwrap().len(), 0);
    assert_eq!(
        server
            .get("/analytics/stage-transitions?region=34", &auditor)
            .await
            .status,
        403
    );
    assert_eq!(
        server
            .get("/analytics/stage-transitions?from=10-09-2025", &auditor)
            .await
            .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_trail_and_stage_analytics_on_postgres() {
    audit_and_analytics(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_trail_and_stage_analytics_on_sqlite() {
    audit_and_analytics(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

// Every read over many KIM answers as the one scope → filter step decides
// (`Principal::read_scope`): each role × list, dashboard, audit trail, analytics and the three
// exports × a region inside the token's scope, one outside, and none. (The four copies of that
// step used to differ: the list skipped the region check that the exports made.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_read_over_many_kim_is_authorised_by_one_rule() {
    use simpul_app::{Action, Principal, Scope, WithoutRegion};
    let server = TestServer::spawn(simpul_store::Backend::Sqlite).await;
    let admin = server.token("admin", "national").await;
    let own = server.form(&admin, crate::helpers::SLEMAN_DESA).await;
    let regions = simpul_regions::bundled().unwrap();
    let scopes = [
        (ActorRole::Admin, "national"),
        (ActorRole::National, "national"),
        (ActorRole::Province, "34"),
        (ActorRole::Regency, "34.04"),
        (ActorRole::Pegiat, own.as_str()),
        (ActorRole::Auditor, "34.04"),
        (ActorRole::Analyst, "34.04"),
    ];
    // (path, the action it reads with, what no region means, whether it covers regions only)
    let reads = [
        (
            "/communities",
            Action::ReadCommunity,
            WithoutRegion::OwnScope,
            false,
        ),
        (
            "/dashboard/stages",
            Action::ReadAnalytics,
            WithoutRegion::Country,
            false,
        ),
        (
            "/audit",
            Action::ReadHistory,
            WithoutRegion::OwnScope,
            false,
        ),
        (
            "/analytics/stage-transitions",
            Action::ReadAnalytics,
            WithoutRegion::OwnScope,
            true,
        ),
        (
            "/exports/analytics",
            Action::ExportAnalytics,
            WithoutRegion::OwnScope,
            true,
        ),
        (
            "/exports/communities",
            Action::ReadCommunity,
            WithoutRegion::OwnScope,
            false,
        ),
    ];
    let inside = RegionCode::parse("34.04").unwrap();
    let outside = RegionCode::parse("21.71").unwrap();
    for (role, scope) in scopes {
        let token = server.token(role.as_str(), scope).await;
        let principal = Principal {
            token_id: uuid::Uuid::new_v4(),
            name: "matrix".to_owned(),
            role,
            scope: Scope::parse(role, scope, regions).unwrap(),
        };
        for (path, action, without, regions_only) in reads {
            for region in [None, Some(&inside), Some(&outside)] {
                let decided = principal
                    .read_scope(action, region, without)
                    .and_then(|scope| match regions_only {
                        true => scope.regions_only().map(drop),
                        false => Ok(()),
                    });
                let expected = if decided.is_ok() { 200 } else { 403 };
                let query = match region {
                    Some(region) => format!("{path}?region={region}"),
                    None => path.to_owned(),
                };
                let reply = server.get(&query, &token).await;
                assert_eq!(
                    reply.status, expected,
                    "{role} ({scope}) {query}: {:?}",
                    reply.body
                );
            }
        }
        // The event log: no region; the token's own scope.
        let decided = principal.read_scope(Action::ReadHistory, None, WithoutRegion::OwnScope);
        let reply = server.get("/exports/events", &token).await;
        let expected = if decided.is_ok() { 200 } else { 403 };
        assert_eq!(reply.status, expected, "{role} ({scope}) /exports/events");
    }
}

/// The attention filters of the list (issue 14) and the columns behind them, from the events'
/// own dates: a KIM only formed (A), one with its officers and SK (B), one also with a nomor
/// induk and an old activity (C), one formed with an activity held today (D).
async fn attention_filters(server: TestServer) {
    use chrono::Datelike as _;
    use simpul_domain::events::ActivityKind;

    use crate::helpers::{activity, assign_number, legal_ready};

    let executor = server.executor();
    let keys = server.keys();
    let regency = context(ActorRole::Regency);
    let pegiat = context(ActorRole::Pegiat);
    let a = uuid::Uuid::now_v7().to_string();
    executor
        .execute(&a, form("34.04.01.2001", 10), &regency)
        .await
        .unwrap();
    let b = legal_ready(&executor, &keys, "34.04.01.2002").await;
    let c = legal_ready(&executor, &keys, "34.04.01.2003").await;
    executor
        .execute(&c, assign_number("KIM-3404-0001", "34.04"), &regency)
        .await
        .unwrap();
    executor
        .execute(&c, activity(ActivityKind::Dissemination).1, &pegiat)
        .await
        .unwrap();
    let d = uuid::Uuid::now_v7().to_string();
    executor
        .execute(&d, form("34.04.01.2004", 10), &regency)
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let (_, mut recent) = activity(ActivityKind::Dissemination);
    if let simpul_domain::CommunityCommand::RecordActivity(recorded) = &mut recent {
        recorded.held_on = today;
    }
    let position = executor
        .execute(&d, recent, &pegiat)
        .await
        .unwrap()
        .position;
    let token = server.token("regency", "34.04").await;
    let ids = |query: &str| {
        let server = &server;
        let token = token.clone();
        let query = query.to_owned();
        async move {
            let reply = server
                .get(
                    &format!("/communities?region=34.04&min_position={position}&{query}"),
                    &token,
                )
                .await;
            assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
            let mut ids: Vec<String> = reply.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["community_id"].as_str().unwrap().to_owned())
                .collect();
            ids.sort();
            (ids, reply.body)
        }
    };
    let set = |members: &[&String]| {
        let mut ids: Vec<String> = members.iter().map(|id| (*id).clone()).collect();
        ids.sort();
        ids
    };

    // The columns.
    let (_, all) = ids("").await;
    let row = |id: &str| {
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["community_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&a)["stage_since"], "2025-01-10");
    assert_eq!(row(&a)["last_activity_on"], serde_json::Value::Null);
    assert_eq!(row(&a)["vacant_posts"], 3);
    assert_eq!(row(&b)["vacant_posts"], 0);
    assert_eq!(row(&c)["last_activity_on"], "2025-04-01");
    assert_eq!(row(&d)["last_activity_on"], today.to_string());

    // Each filter, both ways.
    assert_eq!(ids("missing_sk=true").await.0, set(&[&a, &d]));
    assert_eq!(ids("missing_sk=false").await.0, set(&[&b, &c]));
    assert_eq!(ids("missing_nomor_induk=true").await.0, set(&[&a, &b, &d]));
    assert_eq!(ids("missing_nomor_induk=false").await.0, set(&[&c]));
    assert_eq!(ids("no_bimtek=true").await.0, set(&[&a, &b, &c, &d]));
    assert_eq!(ids("no_bimtek=false").await.0, set(&[]));
    assert_eq!(ids("vacant_post=true").await.0, set(&[&a, &d]));
    assert_eq!(ids("vacant_post=false").await.0, set(&[&b, &c]));
    // All formed 2025-01-10 at KIM 1: stalled for more than a month; not for more than the
    // months since (the cut-off then falls before their formation).
    let since_formation = (today.year() * 12 + today.month0() as i32) - (2025 * 12);
    let before_formation = since_formation + 1;
    assert_eq!(ids("stalled_months=1").await.0, set(&[&a, &b, &c, &d]));
    assert_eq!(
        ids(&format!("stalled_months={before_formation}")).await.0,
        set(&[])
    );
    // D was active today; C's activity is old; A and B never had one.
    assert_eq!(ids("no_activity_months=1").await.0, set(&[&a, &b, &c]));
    assert_eq!(
        ids(&format!("no_activity_months={before_formation}"))
            .await
            .0,
        set(&[])
    );
    assert_eq!(
        ids("missing_sk=true&no_activity_months=1").await.0,
        set(&[&a])
    );

    // Out of range, not a flag, or as of a date: 400 naming the field.
    for (query, field) in [
        ("stalled_months=0", "stalled_months"),
        ("no_activity_months=121", "no_activity_months"),
        ("missing_sk=maybe", "missing_sk"),
        ("vacant_post=true&as_of=2025-06-30", "vacant_post"),
    ] {
        let reply = server.get(&format!("/communities?{query}"), &token).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.body["field"], field, "{query}: {:?}", reply.body);
    }

    // The CSV of a filtered page carries the new columns.
    let csv = server
        .call(
            Method::GET,
            &format!("/api/v1/communities?region=34.04&vacant_post=true&min_position={position}"),
            Some(&token),
            None,
            &[("accept", "text/csv")],
        )
        .await;
    let text = csv.body.as_str().unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.ends_with("versi,tahap_sejak,kegiatan_terakhir,pengurus_inti_kosong"),
        "{header}"
    );
    assert_eq!(text.lines().count(), 3, "a header and A and D");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attention_filters_on_postgres() {
    attention_filters(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attention_filters_on_sqlite() {
    attention_filters(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

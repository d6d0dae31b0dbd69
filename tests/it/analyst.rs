//! The `analyst` role and `GET /api/v1/exports/analytics` (issue 15), on both backends: an
//! analyst reads aggregates in its scope and the pseudonymised export, and nothing that names a
//! KIM, a person or an actor; the export carries no name, SK number, nomor induk or community id,
//! its pseudonyms are stable within an installation and differ between two; the web pages show
//! an analyst what it may read and refuse the rest without a 500.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simpul_domain::commands::{AdvanceStage, ReactivateCommunity, RecordBimtek, SuspendCommunity};
use simpul_domain::events::{ActivityKind, BimtekKind};
use simpul_domain::text::Title;
use simpul_domain::{ActorRole, CommunityCommand, Stage};

use crate::both_backends;
use crate::helpers::*;
use crate::server::TestServer;

/// Texts of the seeded KIM that must never reach an analyst: names, officers, SK, nomor induk,
/// free texts, actors.
const SECRETS: [&str; 13] = [
    "KIM Maju Bersama",
    "Ketua Satu",
    "Sekretaris Dua",
    "Bendahara Tiga",
    "12/2025",
    "KIM-3404-0777",
    "Karang Taruna",
    "Bimtek Rahasia Sleman",
    "Pengurus pindah domisili",
    "Kegiatan berjalan lagi",
    "Kepala Desa",
    "test-regency",
    "req-",
];

/// The seeded KIM: a full story in Sleman, one more KIM in another kecamatan of Sleman, and one
/// in Batam.
struct Seeded {
    story: String,
    second: String,
    batam: String,
    /// The position of the last event, for `min_position`.
    position: u64,
}

/// A KIM in Sleman with officers, SK, nomor induk, a bimtek, a stage advance, a suspension and a
/// reactivation; another formed in Sleman (kecamatan 34.04.02) and one in Batam.
async fn seed(server: &TestServer) -> Seeded {
    let executor = server.executor();
    let keys = server.keys();
    let regency = context(ActorRole::Regency);
    let story = legal_ready(&executor, &keys, SLEMAN_DESA).await;
    executor
        .execute(&story, assign_number("KIM-3404-0777", SLEMAN), &regency)
        .await
        .unwrap();
    let bimtek = CommunityCommand::RecordBimtek(RecordBimtek {
        session_id: uuid::Uuid::new_v4(),
        kind: BimtekKind::Bimtek,
        title: Title::parse("Bimtek Rahasia Sleman").unwrap(),
        held_on: date("2025-05-20"),
        organizer_region: code("34"),
        participants: 25,
    });
    executor
        .execute(&story, bimtek, &context(ActorRole::Province))
        .await
        .unwrap();
    let (_, agent) = activity(ActivityKind::DevelopmentAgent);
    let evidence = executor
        .execute(&story, agent, &context(ActorRole::Pegiat))
        .await
        .unwrap()
        .version;
    let advance = CommunityCommand::AdvanceStage(AdvanceStage {
        to: Stage::Kim2,
        assessed_on: date("2025-09-10"),
        evidence: vec![evidence],
        assessed_by_role: ActorRole::Regency,
    });
    executor.execute(&story, advance, &regency).await.unwrap();
    let suspend = CommunityCommand::SuspendCommunity(SuspendCommunity {
        suspended_on: date("2025-10-01"),
        reason: reason("Pengurus pindah domisili"),
    });
    executor.execute(&story, suspend, &regency).await.unwrap();
    let reactivate = CommunityCommand::ReactivateCommunity(ReactivateCommunity {
        reactivated_on: date("2025-11-01"),
        reason: reason("Kegiatan berjalan lagi"),
    });
    executor
        .execute(&story, reactivate, &regency)
        .await
        .unwrap();
    let second = uuid::Uuid::now_v7().to_string();
    executor
        .execute(&second, form("34.04.02.2001", 9), &regency)
        .await
        .unwrap();
    let batam = uuid::Uuid::now_v7().to_string();
    let position = executor
        .execute(&batam, form("21.71.01.1002", 9), &regency)
        .await
        .unwrap()
        .position;
    Seeded {
        story,
        second,
        batam,
        position,
    }
}

/// `GET /api/v1/exports/analytics{query}`: status, headers and body.
async fn export(
    server: &TestServer,
    token: &str,
    query: &str,
    accept: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = server
        .client
        .get(format!("{}/api/v1/exports/analytics{query}", server.base))
        .bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn assert_nothing_named(body: &str, ids: &[&str]) {
    for secret in SECRETS.iter().chain(ids) {
        assert!(!body.contains(secret), "{secret:?} in {body}");
    }
    // Not even the id's first segment, in any spelling.
    for id in ids {
        let head = &id[..8];
        assert!(!body.to_lowercase().contains(head), "{head} in {body}");
    }
}

both_backends!(
    an_analyst_reads_aggregates_in_scope_and_nothing_that_names_a_kim,
    |db: TestDb| async move {
        let server = TestServer::on(db).await;
        let seeded = seed(&server).await;
        let analyst = server.token("analyst", SLEMAN).await;
        let national = server.token("analyst", "national").await;
        let position = seeded.position;

        // Aggregates of its kabupaten (and of a kecamatan in it), as every supervisor reads them.
        let dashboard = server
            .get(
                &format!("/dashboard/stages?region={SLEMAN}&min_position={position}"),
                &analyst,
            )
            .await;
        assert_eq!(dashboard.status, 200, "{:?}", dashboard.body);
        assert_eq!(dashboard.body["region"]["total"], 2);
        assert_eq!(dashboard.body["region"]["by_stage"]["kim2"], 1);
        let kecamatan = server
            .get("/dashboard/stages?region=34.04.01", &analyst)
            .await;
        assert_eq!(kecamatan.status, 200, "{:?}", kecamatan.body);
        assert_eq!(kecamatan.body["region"]["total"], 1);
        let csv = server
            .call(
                Method::GET,
                &format!("/api/v1/dashboard/stages?region={SLEMAN}"),
                Some(&analyst),
                None,
                &[("accept", "text/csv")],
            )
            .await;
        assert_eq!(csv.status, 200);
        let as_of = server
            .get(
                &format!("/dashboard/stages?region={SLEMAN}&as_of=2030-01-01"),
                &analyst,
            )
            .await;
        assert_eq!(as_of.status, 200, "{:?}", as_of.body);
        let transitions = server.get("/analytics/stage-transitions", &analyst).await;
        assert_eq!(transitions.status, 200, "{:?}", transitions.body);
        assert!(transitions.body.is_array(), "{:?}", transitions.body);
        let country = server.get("/dashboard/stages", &national).await;
        assert_eq!(country.status, 200, "{:?}", country.body);
        assert_eq!(country.body["region"]["total"], 3);
        assert_eq!(server.get("/regions/34.04", &analyst).await.status, 200);
        for text in [dashboard.body.to_string(), transitions.body.to_string()] {
            assert_nothing_named(&text, &[&seeded.story, &seeded.second]);
        }

        // Outside its kabupaten, or the whole country: 403, as for every regional reader.
        for path in [
            "/dashboard/stages?region=34",
            "/dashboard/stages?region=21.71",
            "/dashboard/stages",
            "/analytics/stage-transitions?region=21",
        ] {
            let reply = server.get(path, &analyst).await;
            assert_eq!(reply.status, 403, "{path}: {:?}", reply.body);
            assert!(reply.is_problem(), "{path}");
        }

        // One KIM: 403 inside its scope, 404 outside it (like one that does not exist).
        let story = &seeded.story;
        let batam = &seeded.batam;
        for path in [
            format!("/communities/{story}"),
            format!("/communities/{story}/events"),
            format!("/communities/{story}?as_of=2030-01-01"),
        ] {
            let reply = server.get(&path, &analyst).await;
            assert_eq!(reply.status, 403, "{path}: {:?}", reply.body);
            assert_nothing_named(&reply.body.to_string(), &[]);
        }
        for path in [
            format!("/communities/{batam}"),
            format!("/communities/{batam}/events"),
            format!("/communities/{}", uuid::Uuid::new_v4()),
        ] {
            assert_eq!(server.get(&path, &analyst).await.status, 404, "{path}");
        }

        // Lists of KIM (names), histories, exports with names, the ledger, the status: 403.
        for path in [
            "/communities",
            "/communities?region=34.04.01",
            "/communities?as_of=2030-01-01",
            "/exports/communities",
            "/exports/events",
            "/audit",
            &format!("/audit?community={story}"),
            "/audit/changes?from=2020-01-01&to=2030-01-01",
            "/ledger/checkpoint",
            "/ledger/checkpoints",
            "/projections",
        ] {
            // A KIM named by id in the audit trail answers as its history does: in scope, 403.
            let reply = server.get(path, &analyst).await;
            assert_eq!(reply.status, 403, "{path}: {:?}", reply.body);
        }

        // No command: forming, a command on a KIM in scope, a bimtek session, an import.
        let formed = server
            .post(
                "/communities",
                &analyst,
                crate::server::form_body(SLEMAN_DESA, 12),
            )
            .await;
        assert_eq!(formed.status, 403, "{:?}", formed.body);
        let suspend = server
            .post(
                &format!("/communities/{story}/suspend"),
                &analyst,
                json!({"effective_on": "2025-12-01", "reason": "Uji"}),
            )
            .await;
        assert_eq!(suspend.status, 403, "{:?}", suspend.body);
        let elsewhere = server
            .post(
                &format!("/communities/{batam}/suspend"),
                &analyst,
                json!({"effective_on": "2025-12-01", "reason": "Uji"}),
            )
            .await;
        assert_eq!(elsewhere.status, 404, "{:?}", elsewhere.body);
        let session = server
            .post(
                "/bimtek-sessions",
                &analyst,
                json!({"kind": "bimtek", "title": "Uji", "held_on": "2025-12-01",
                       "organizer_region": SLEMAN,
                       "communities": [{"id": story, "participants": 3}]}),
            )
            .await;
        assert_eq!(session.status, 403, "{:?}", session.body);
        let import = server
            .call(
                Method::POST,
                "/api/v1/imports",
                Some(&analyst),
                None,
                &[("content-type", "text/csv")],
            )
            .await;
        assert_eq!(import.status, 403, "{:?}", import.body);
        let admin = server.token("admin", "national").await;
        let unchanged = server.get(&format!("/communities/{story}"), &admin).await;
        assert_eq!(unchanged.body["status"], "active", "nothing was written");
        assert_eq!(unchanged.body["version"], 11, "{:?}", unchanged.body);
    }
);

both_backends!(
    the_analytics_export_is_pseudonymised_stable_and_scoped,
    |db: TestDb| async move {
        let backend = db.backend();
        let server = TestServer::on(db).await;
        let seeded = seed(&server).await;
        let ids = [
            seeded.story.as_str(),
            seeded.second.as_str(),
            seeded.batam.as_str(),
        ];
        let analyst = server.token("analyst", SLEMAN).await;

        // The analyst's kabupaten by default: JSON lines, a file named after it.
        let (status, headers, body) = export(&server, &analyst, "", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["content-type"], "application/x-ndjson");
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"simpul-analytics-34.04.jsonl\""
        );
        assert_nothing_named(&body, &ids);
        let all = lines(&body);
        let events: Vec<&str> = all.iter().map(|l| l["event"].as_str().unwrap()).collect();
        assert_eq!(
            events,
            [
                "CommunityFormed",
                "SkIssued",
                "RegistrationNumberAssigned",
                "BimtekAttended",
                "StageAdvanced",
                "CommunitySuspended",
                "CommunityReactivated",
                "CommunityFormed",
            ],
            "the progression events of Sleman's two KIM, in feed order; officers and activities \
             left out"
        );
        let positions: Vec<u64> = all
            .iter()
            .map(|l| l["position"].as_u64().unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        let story = &all[0]["kim"];
        assert!(
            all[..7].iter().all(|l| &l["kim"] == story),
            "one KIM, one pseudonym"
        );
        assert_ne!(all[7]["kim"], *story);
        assert_eq!(story.as_str().unwrap().len(), 32);
        assert_eq!(
            all[0],
            json!({"position": positions[0], "kim": story, "event": "CommunityFormed",
                   "desa_code": SLEMAN_DESA, "kecamatan_code": "34.04.01",
                   "regency_code": "34.04", "province_code": "34",
                   "formed_on": "2025-01-10"})
        );
        assert_eq!(all[1]["issued_on"], "2025-03-01");
        assert_eq!(all[2]["assigned_on"], "2025-03-15");
        assert_eq!(all[3]["held_on"], "2025-05-20");
        assert_eq!(all[3]["organizer_level"], "province");
        assert_eq!(all[3]["participants"], 25);
        assert_eq!(all[3]["kind"], "bimtek");
        assert_eq!(all[4]["from"], "kim1");
        assert_eq!(all[4]["to"], "kim2");
        assert_eq!(all[4]["assessed_on"], "2025-09-10");
        assert_eq!(all[5]["suspended_on"], "2025-10-01");
        assert_eq!(all[6]["reactivated_on"], "2025-11-01");
        assert_eq!(all[7]["kecamatan_code"], "34.04.02");

        // Stable: the same bytes again.
        let (_, _, again) = export(&server, &analyst, "", Some("*/*")).await;
        assert_eq!(again, body);

        // A kecamatan inside the scope; paging with `after` and `limit` (a KIM formed before
        // `after` keeps its region codes).
        let (status, headers, body) = export(&server, &analyst, "?region=34.04.02", None).await;
        assert_eq!(status, 200);
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"simpul-analytics-34.04.02.jsonl\""
        );
        assert_eq!(lines(&body), all[7..]);
        let (_, _, body) = export(&server, &analyst, "?limit=3", None).await;
        assert_eq!(lines(&body), all[..3]);
        let (_, headers, body) =
            export(&server, &analyst, &format!("?after={}", positions[2]), None).await;
        assert_eq!(lines(&body), all[3..]);
        assert_eq!(
            headers["content-disposition"],
            format!(
                "attachment; filename=\"simpul-analytics-34.04-after-{}.jsonl\"",
                positions[2]
            )
            .as_str()
        );

        // Outside the scope: 403; a malformed parameter 400; another type 406.
        for query in ["?region=34", "?region=21.71", "?region=21.71.01.1002"] {
            let (status, headers, body) = export(&server, &analyst, query, None).await;
            assert_eq!(status, 403, "{query}: {body}");
            assert!(headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json"));
        }
        for query in ["?region=3404", "?limit=0", "?after=minus", "?colour=red"] {
            let (status, _, body) = export(&server, &analyst, query, None).await;
            assert_eq!(status, 400, "{query}: {body}");
        }
        let (status, _, body) = export(&server, &analyst, "", Some("text/csv")).await;
        assert_eq!(status, 406);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["field"],
            "Accept"
        );

        // Auditor and admin download it (the whole country: Batam too), with the same
        // pseudonyms; the supervising and the KIM's own roles do not.
        let admin = server.token("admin", "national").await;
        let auditor = server.token("auditor", "national").await;
        for token in [&admin, &auditor] {
            let (status, headers, body) = export(&server, token, "", None).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                headers["content-disposition"],
                "attachment; filename=\"simpul-analytics-indonesia.jsonl\""
            );
            assert_nothing_named(&body, &ids);
            let national = lines(&body);
            assert_eq!(national.len(), 9);
            assert_eq!(national[8]["regency_code"], "21.71");
            let sleman: Vec<&Value> = national
                .iter()
                .filter(|l| l["regency_code"] == "34.04")
                .collect();
            assert_eq!(sleman, all.iter().collect::<Vec<_>>());
        }
        let regional_auditor = server.token("auditor", "21").await;
        let (status, _, body) = export(&server, &regional_auditor, "", None).await;
        assert_eq!(status, 200);
        assert_eq!(lines(&body).len(), 1);
        let pegiat = server.token("pegiat", &seeded.story).await;
        for (role, scope) in [
            ("national", "national"),
            ("province", "34"),
            ("regency", SLEMAN),
        ] {
            let token = server.token(role, scope).await;
            let (status, _, body) = export(&server, &token, "", None).await;
            assert_eq!(status, 403, "{role}: {body}");
        }
        let (status, _, _) = export(&server, &pegiat, "", None).await;
        assert_eq!(status, 403, "pegiat");
        let anonymous = server
            .call(Method::GET, "/api/v1/exports/analytics", None, None, &[])
            .await;
        assert_eq!(anonymous.status, 401);

        // Another installation (another master key) with the very same KIM id: another
        // pseudonym.
        let other = TestServer::on(TestDb::new(backend).await).await;
        other
            .executor()
            .execute(
                &seeded.story,
                form(SLEMAN_DESA, 12),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();
        let other_admin = other.token("admin", "national").await;
        let (status, _, body) = export(&other, &other_admin, "", None).await;
        assert_eq!(status, 200, "{body}");
        let elsewhere = lines(&body);
        assert_eq!(elsewhere.len(), 1);
        assert_eq!(elsewhere[0]["formed_on"], all[0]["formed_on"]);
        assert_ne!(elsewhere[0]["kim"], *story);
    }
);

both_backends!(
    an_analyst_signed_in_to_the_web_pages_sees_aggregates_only,
    |db: TestDb| async move {
        let server = TestServer::on(db).await;
        let seeded = seed(&server).await;
        let analyst = server.token("analyst", SLEMAN).await;
        let settled = server
            .get(
                &format!(
                    "/dashboard/stages?region={SLEMAN}&min_position={}",
                    seeded.position
                ),
                &analyst,
            )
            .await;
        assert_eq!(settled.status, 200);
        let signed = crate::web::sign_in(&server, &analyst).await;
        let session = signed.session.as_str();

        // Beranda and Wilayah: counts without links to lists it cannot read, no KIM list in the
        // navigation; a kecamatan shows its totals only.
        for path in [
            "/",
            "/wilayah/34.04",
            "/wilayah/34.04.01",
            "/wilayah/34.04?peta=kim3",
        ] {
            let (status, html, _) = crate::web::get(&server, path, session).await;
            assert_eq!(status, StatusCode::OK, "{path}: {html}");
            assert!(!html.contains("href=\"/kim"), "{path} links to a KIM list");
            assert!(!html.contains("href=\"/audit"), "{path}");
            assert!(html.contains("href=\"/wilayah/34.04\""), "{path}");
            assert_nothing_named(&html, &[&seeded.story, &seeded.second]);
        }

        // Pages of one KIM, lists, audit, status, bimtek: refused, never a 500; another
        // kabupaten's region: not found.
        for (path, expected) in [
            ("/kim".to_owned(), StatusCode::FORBIDDEN),
            ("/kim/unduh?format=csv".to_owned(), StatusCode::FORBIDDEN),
            (format!("/kim/{}", seeded.story), StatusCode::FORBIDDEN),
            (format!("/kim/{}", seeded.batam), StatusCode::NOT_FOUND),
            ("/audit".to_owned(), StatusCode::FORBIDDEN),
            ("/audit/unduh".to_owned(), StatusCode::FORBIDDEN),
            ("/status".to_owned(), StatusCode::FORBIDDEN),
            ("/bimtek".to_owned(), StatusCode::FORBIDDEN),
            ("/wilayah".to_owned(), StatusCode::NOT_FOUND),
            ("/wilayah/21.71".to_owned(), StatusCode::NOT_FOUND),
        ] {
            let (status, html, _) = crate::web::get(&server, &path, session).await;
            assert_eq!(status, expected, "{path}: {html}");
            assert_nothing_named(&html, &[]);
        }
    }
);

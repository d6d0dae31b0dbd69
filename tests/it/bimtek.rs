//! `POST /bimtek-sessions` (issue 14): one bimtek session recorded for many KIM at once, all or
//! nothing, over a real server on PostgreSQL and SQLite — the events and the read model, every
//! failing KIM listed with nothing written, the list's limits, roles and scopes, the
//! Idempotency-Key, and sessions racing each other and another process's writers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};
use simpul_domain::commands::RecordActivity;
use simpul_domain::events::ActivityKind;
use simpul_domain::text::Title;
use simpul_domain::{ActorRole, CommunityCommand};
use uuid::Uuid;

use crate::helpers::{context, date};
use crate::server::*;

/// Desa of Kabupaten Gunungkidul (34.03).
const GUNUNGKIDUL: [&str; 4] = [
    "34.03.01.2001",
    "34.03.01.2002",
    "34.03.02.2001",
    "34.03.03.2001",
];
/// A desa of Kabupaten Sleman (34.04): outside a Gunungkidul token's scope.
const SLEMAN_DESA: &str = "34.04.01.2001";

fn session(organizer: &str, communities: &[(&str, u32)]) -> Value {
    let communities: Vec<Value> = communities
        .iter()
        .map(|(id, participants)| json!({"id": id, "participants": participants}))
        .collect();
    json!({
        "kind": "bimtek",
        "title": "Bimtek Pengelolaan Media Sosial KIM",
        "held_on": "2025-09-10",
        "organizer_region": organizer,
        "communities": communities,
    })
}

/// The `BimtekAttended` events of a KIM's timeline.
async fn bimtek_events(server: &TestServer, token: &str, id: &str) -> Vec<Value> {
    let history = server
        .get(&format!("/communities/{id}/events"), token)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    history
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "BimtekAttended")
        .cloned()
        .collect()
}

/// Every sequence of a KIM's timeline, in order.
async fn sequences(server: &TestServer, token: &str, id: &str) -> Vec<u64> {
    let history = server
        .get(&format!("/communities/{id}/events"), token)
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["sequence"].as_u64().unwrap())
        .collect()
}

async fn post_session(
    server: &TestServer,
    token: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> Reply {
    server
        .call(
            Method::POST,
            "/api/v1/bimtek-sessions",
            Some(token),
            Some(body),
            headers,
        )
        .await
}

/// (1) A regency records one session for three of its KIM: one `BimtekAttended` each, one
/// session id, visible in the read model at the answered position; the Idempotency-Key
/// replays the answer and writes nothing more.
async fn one_session_for_three_kim(server: TestServer) {
    let regency = server.token("regency", "34.03").await;
    let mut ids = Vec::new();
    for village in &GUNUNGKIDUL[..3] {
        ids.push(server.form(&regency, village).await);
    }
    let before = server.store.count().await.unwrap();
    let body = session(
        "34.03",
        &[
            (ids[0].as_str(), 3),
            (ids[1].as_str(), 2),
            (ids[2].as_str(), 5),
        ],
    );
    let reply = post_session(
        &server,
        &regency,
        body.clone(),
        &[
            ("x-request-id", "bimtek-gk-2025-09"),
            ("idempotency-key", "sesi-gk-1"),
        ],
    )
    .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert!(reply.headers.get("idempotent-replayed").is_none());
    let session_id = reply.body["session_id"].as_str().unwrap().to_owned();
    let events = reply.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    let mut positions = Vec::new();
    for (event, id) in events.iter().zip(&ids) {
        assert_eq!(event["community_id"], id.as_str(), "in the request's order");
        assert_eq!(event["sequence"], 2, "formed, then the bimtek");
        positions.push(event["position"].as_u64().unwrap());
    }
    let position = reply.body["position"].as_u64().unwrap();
    assert_eq!(Some(&position), positions.iter().max());
    assert_eq!(server.store.count().await.unwrap(), before + 3);

    for (id, participants) in ids.iter().zip([3, 2, 5]) {
        let attended = bimtek_events(&server, &regency, id).await;
        assert_eq!(attended.len(), 1, "{id}");
        let event = &attended[0];
        assert_eq!(event["payload"]["session_id"], session_id.as_str());
        assert_eq!(event["payload"]["participants"], participants);
        assert_eq!(event["payload"]["organizer_region"], "34.03");
        assert_eq!(event["payload"]["held_on"], "2025-09-10");
        assert_eq!(event["request_id"], "bimtek-gk-2025-09");
        assert_eq!(event["role"], "regency");
    }

    // Read-your-writes: the list at the answered position counts the bimtek of each.
    let list = server
        .get(
            &format!("/communities?region=34.03&min_position={position}"),
            &regency,
        )
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let counts: HashMap<String, u64> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["community_id"].as_str().unwrap().to_owned(),
                row["bimtek_count"].as_u64().unwrap(),
            )
        })
        .collect();
    for id in &ids {
        assert_eq!(counts.get(id), Some(&1), "{id}: {counts:?}");
    }

    // The same key and body: the first answer again, nothing more written.
    let again = post_session(
        &server,
        &regency,
        body.clone(),
        &[("idempotency-key", "sesi-gk-1")],
    )
    .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, reply.body);
    assert_eq!(server.store.count().await.unwrap(), before + 3);
    // The same key with another body: 422, nothing written.
    let mut other = body;
    other["title"] = json!("Sarasehan KIM Gunungkidul");
    let reused = post_session(
        &server,
        &regency,
        other,
        &[("idempotency-key", "sesi-gk-1")],
    )
    .await;
    assert_eq!(reused.status, 422, "{:?}", reused.body);
    assert!(reused.is_problem());
    assert_eq!(server.store.count().await.unwrap(), before + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_session_for_three_kim_on_postgres() {
    one_session_for_three_kim(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_session_for_three_kim_on_sqlite() {
    one_session_for_three_kim(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

/// (2) A dissolved KIM, a KIM with no participants, a KIM outside the regency and one that
/// does not exist: one 422 listing each of them by index and id, as its single-KIM route would
/// answer it, and not one event written — not even for the KIM that could record it.
async fn failing_kim_write_nothing(server: TestServer) {
    let regency = server.token("regency", "34.03").await;
    let admin = server.token("admin", "national").await;
    let good = server.form(&regency, GUNUNGKIDUL[0]).await;
    let dissolved = server.form(&regency, GUNUNGKIDUL[1]).await;
    let empty = server.form(&regency, GUNUNGKIDUL[2]).await;
    let outside = server.form(&admin, SLEMAN_DESA).await;
    let missing = Uuid::new_v4().to_string();
    let reply = server
        .post(
            &format!("/communities/{dissolved}/dissolve"),
            &regency,
            json!({"effective_on": "2025-08-20", "reason": "Pengurus membubarkan diri"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let before = server.store.count().await.unwrap();
    let ids = [&good, &dissolved, &empty, &outside, &missing];

    let reply = post_session(
        &server,
        &regency,
        session(
            "34.03",
            &[
                (good.as_str(), 4),
                (dissolved.as_str(), 2),
                (empty.as_str(), 0),
                (outside.as_str(), 3),
                (missing.as_str(), 1),
            ],
        ),
        &[],
    )
    .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert!(reply.is_problem());
    assert_eq!(
        reply.body["type"],
        "https://simpul.id/problems/communities-rejected"
    );
    assert_eq!(reply.body["field"], "communities");
    let errors = reply.body["errors"].as_array().unwrap();
    let indexes: Vec<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        indexes,
        [1, 2, 3, 4],
        "every failing KIM, by index: {errors:?}"
    );
    for error in errors {
        let index = error["index"].as_u64().unwrap() as usize;
        assert_eq!(error["id"], ids[index].as_str());
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    // As the single-KIM route answers each: dissolved 409 on `status`, no participants 422 on
    // the entry's own field, outside the scope and missing alike 404 on the entry's id.
    assert_eq!(errors[0]["status"], 409);
    assert_eq!(errors[0]["type"], "https://simpul.id/problems/conflict");
    assert_eq!(errors[0]["field"], "status");
    assert_eq!(
        errors[0]["message"],
        "the KIM is dissolved and accepts no more commands"
    );
    assert_eq!(errors[1]["status"], 422);
    assert_eq!(
        errors[1]["type"],
        "https://simpul.id/problems/invalid-field"
    );
    assert_eq!(errors[1]["field"], "communities[2].participants");
    assert_eq!(
        errors[1]["message"],
        "a bimtek has at least one participant (field `communities[2].participants`)"
    );
    assert_eq!(
        reply.body["detail"],
        "4 of 5 KIM cannot record this bimtek session; nothing was recorded"
    );
    for (error, index) in errors[2..].iter().zip([3, 4]) {
        assert_eq!(error["status"], 404);
        assert_eq!(error["type"], "https://simpul.id/problems/not-found");
        assert_eq!(error["field"], format!("communities[{index}].id"));
    }
    assert_eq!(
        errors[2]["message"], errors[3]["message"],
        "outside the scope reads as missing"
    );
    assert_eq!(
        server.store.count().await.unwrap(),
        before,
        "nothing written"
    );
    assert!(bimtek_events(&server, &regency, &good).await.is_empty());

    // A session organised outside the KIM's region: every KIM refused on `organizer_region`.
    let reply = post_session(
        &server,
        &regency,
        session("34.04", &[(good.as_str(), 4), (empty.as_str(), 1)]),
        &[],
    )
    .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    let errors = reply.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|e| e["field"] == "organizer_region"));
    assert_eq!(
        server.store.count().await.unwrap(),
        before,
        "nothing written"
    );

    // Without the failing ones, the same session is recorded.
    let reply = post_session(
        &server,
        &regency,
        session("34.03", &[(good.as_str(), 4), (empty.as_str(), 1)]),
        &[],
    )
    .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(server.store.count().await.unwrap(), before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_kim_write_nothing_on_postgres() {
    failing_kim_write_nothing(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_kim_write_nothing_on_sqlite() {
    failing_kim_write_nothing(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

/// (3) The list itself: empty, a KIM twice (in any spelling of its id), more than 500 KIM — 400
/// naming `communities`; `If-Match` (a version of one KIM) — 400 naming it. Nothing written.
async fn the_list_is_checked(server: TestServer) {
    let regency = server.token("regency", "34.03").await;
    let a = server.form(&regency, GUNUNGKIDUL[0]).await;
    let b = server.form(&regency, GUNUNGKIDUL[1]).await;
    let before = server.store.count().await.unwrap();
    let shouting = a.to_uppercase();
    let bodies = [
        session("34.03", &[]),
        session(
            "34.03",
            &[(a.as_str(), 3), (b.as_str(), 2), (a.as_str(), 3)],
        ),
        session("34.03", &[(a.as_str(), 3), (shouting.as_str(), 1)]),
        session(
            "34.03",
            &(0..501)
                .map(|_| Uuid::new_v4().to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(|id| (id.as_str(), 1))
                .collect::<Vec<_>>(),
        ),
    ];
    for body in bodies {
        let count = body["communities"].as_array().unwrap().len();
        let reply = post_session(&server, &regency, body, &[]).await;
        assert_eq!(reply.status, 400, "{count} KIM: {:?}", reply.body);
        assert!(reply.is_problem());
        assert_eq!(reply.body["field"], "communities", "{count} KIM");
    }
    let reply = post_session(
        &server,
        &regency,
        session("34.03", &[(a.as_str(), 3)]),
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "If-Match");
    // A malformed id is the body's own 400, with its path.
    let mut malformed = session("34.03", &[(a.as_str(), 3)]);
    malformed["communities"][0]["id"] = json!("bukan-uuid");
    let reply = post_session(&server, &regency, malformed, &[]).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "communities[0].id");
    assert_eq!(
        server.store.count().await.unwrap(),
        before,
        "nothing written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_list_is_checked_on_postgres() {
    the_list_is_checked(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_list_is_checked_on_sqlite() {
    the_list_is_checked(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

/// (4) Who may: a province in scope records; another province finds none of the KIM; pegiat,
/// national and auditor tokens are 403 before any KIM is looked at, even their own.
async fn roles_and_scopes(server: TestServer) {
    let regency = server.token("regency", "34.03").await;
    let a = server.form(&regency, GUNUNGKIDUL[0]).await;
    let b = server.form(&regency, GUNUNGKIDUL[3]).await;
    let body = session("34", &[(a.as_str(), 6), (b.as_str(), 1)]);

    let before = server.store.count().await.unwrap();
    for (role, scope) in [
        ("pegiat", a.as_str()),
        ("national", "national"),
        ("auditor", "34"),
    ] {
        let token = server.token(role, scope).await;
        let reply = post_session(&server, &token, body.clone(), &[]).await;
        assert_eq!(reply.status, 403, "{role}: {:?}", reply.body);
        assert!(reply.is_problem());
    }
    let unauthenticated = server
        .call(
            Method::POST,
            "/api/v1/bimtek-sessions",
            None,
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(unauthenticated.status, 401);

    // Jawa Tengah's province sees none of DI Yogyakarta's KIM: each one "not found".
    let elsewhere = server.token("province", "33").await;
    let reply = post_session(&server, &elsewhere, body.clone(), &[]).await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    let errors = reply.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|e| e["status"] == 404));
    assert_eq!(
        server.store.count().await.unwrap(),
        before,
        "nothing written"
    );

    let province = server.token("province", "34").await;
    let reply = post_session(&server, &province, body, &[]).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let session_id = reply.body["session_id"].as_str().unwrap();
    for id in [&a, &b] {
        let attended = bimtek_events(&server, &province, id).await;
        assert_eq!(attended.len(), 1);
        assert_eq!(attended[0]["payload"]["session_id"], session_id);
        assert_eq!(attended[0]["role"], "province");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_and_scopes_on_postgres() {
    roles_and_scopes(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_and_scopes_on_sqlite() {
    roles_and_scopes(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

/// An activity recorded by "another process": an executor of its own on the same database,
/// whose appends the server's cache has not seen.
fn activity(title: &str) -> CommunityCommand {
    CommunityCommand::RecordActivity(RecordActivity {
        activity_id: Uuid::new_v4(),
        kind: ActivityKind::Aspiration,
        title: Title::parse(title).unwrap(),
        held_on: date("2025-09-01"),
        participants: Some(10),
    })
}

/// (5) Concurrency. First, deterministically: another process appends to one KIM after the
/// server cached it, so the session's first write finds that KIM's sequence taken — the whole
/// write fails, and it is decided again on fresh states: every KIM gets its event exactly once.
/// Then sessions over overlapping KIM race each other and another process's writers: every
/// session is applied to all of its KIM or to none, and no event is lost or doubled.
async fn racing_sessions(server: TestServer) {
    let regency = server.token("regency", "34.03").await;
    let mut ids = Vec::new();
    for village in GUNUNGKIDUL {
        ids.push(server.form(&regency, village).await);
    }
    let other = Arc::new(server.executor());
    let ctx = context(ActorRole::Pegiat);
    other
        .execute(&ids[1], activity("Aspirasi warga"), &ctx)
        .await
        .unwrap();
    let reply = post_session(
        &server,
        &regency,
        session(
            "34.03",
            &[
                (ids[0].as_str(), 2),
                (ids[1].as_str(), 2),
                (ids[2].as_str(), 2),
            ],
        ),
        &[],
    )
    .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let sequences_answered: Vec<u64> = reply.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sequences_answered,
        [2, 3, 2],
        "decided again after the conflict"
    );
    for id in &ids[..3] {
        assert_eq!(bimtek_events(&server, &regency, id).await.len(), 1, "{id}");
    }

    // Sessions over overlapping pairs and triples, all at once, while another process keeps
    // appending activities to two of the KIM.
    let server = Arc::new(server);
    let plans: Vec<Vec<usize>> = vec![
        vec![0, 1],
        vec![1, 2],
        vec![2, 3],
        vec![3, 0],
        vec![0, 1, 2, 3],
        vec![1, 3],
        vec![0, 2],
        vec![2, 1, 0],
    ];
    // Half of them through the server, half through a second process's write path (its own
    // executor, cache and turns) on the same database, so sessions also race sessions.
    let second = Arc::new(simpul_http::AppState::new(
        server.database(),
        server.keys(),
        simpul_regions::bundled().unwrap(),
    ));
    let principal = simpul_app::Principal {
        token_id: Uuid::new_v4(),
        name: "operator dinas kedua".to_owned(),
        role: ActorRole::Regency,
        scope: simpul_app::Scope::Region(crate::helpers::code("34.03")),
    };
    let mut tasks = Vec::new();
    for (n, plan) in plans.into_iter().enumerate() {
        let (server, regency, ids) = (server.clone(), regency.clone(), ids.clone());
        let (second, principal) = (second.clone(), principal.clone());
        tasks.push(tokio::spawn(async move {
            let listed: Vec<(&str, u32)> = plan.iter().map(|i| (ids[*i].as_str(), 1)).collect();
            if n % 2 == 0 {
                let reply = post_session(&server, &regency, session("34.03", &listed), &[]).await;
                return (plan, reply.status.as_u16(), reply.body);
            }
            let attendees = plan
                .iter()
                .map(|i| simpul_app::Attendance {
                    community_id: ids[*i].parse().unwrap(),
                    participants: 1,
                })
                .collect();
            let session = simpul_app::BimtekSession {
                kind: simpul_domain::events::BimtekKind::Bimtek,
                title: Title::parse("Bimtek KIM Gunungkidul").unwrap(),
                held_on: date("2025-09-10"),
                organizer_region: crate::helpers::code("34.03"),
                attendees,
            };
            let options = simpul_app::WriteOptions {
                request_id: format!("second-{n}"),
                ..Default::default()
            };
            match second
                .writes
                .record_bimtek_session(&principal, session, options)
                .await
            {
                Ok(simpul_app::SessionWritten::Recorded(recorded)) => {
                    (plan, 201, serde_json::to_value(recorded).unwrap())
                }
                Err(simpul_app::SessionError::Write(simpul_app::WriteError::App(
                    simpul_app::AppError::Conflict { .. },
                ))) => (plan, 409, Value::Null),
                other => panic!("unexpected {other:?}"),
            }
        }));
    }
    let writer = {
        let (other, ids) = (other.clone(), ids.clone());
        tokio::spawn(async move {
            let ctx = context(ActorRole::Pegiat);
            let mut written = 0;
            for n in 0..12 {
                let id = &ids[n % 2];
                if other
                    .execute(id, activity(&format!("Aspirasi {n}")), &ctx)
                    .await
                    .is_ok()
                {
                    written += 1;
                }
            }
            written
        })
    };
    let mut recorded: HashMap<String, Vec<usize>> = HashMap::new();
    for task in tasks {
        let (plan, status, body) = task.await.unwrap();
        match status {
            201 => {
                recorded.insert(body["session_id"].as_str().unwrap().to_owned(), plan);
            }
            // Lost every retry to the other process: nothing of it may be written.
            409 => {}
            other => panic!("unexpected {other}: {body:?}"),
        }
    }
    let activities = writer.await.unwrap();
    assert!(!recorded.is_empty(), "some sessions are recorded");

    // Each KIM's stream has no gap, and each session is on exactly the KIM it named.
    let mut sessions_of: HashMap<String, HashSet<String>> = HashMap::new();
    let mut total = 0;
    for (index, id) in ids.iter().enumerate() {
        let stored = sequences(&server, &regency, id).await;
        assert_eq!(
            stored,
            (1..=stored.len() as u64).collect::<Vec<_>>(),
            "{id}: a gap or a repeat"
        );
        total += stored.len();
        let attended = bimtek_events(&server, &regency, id).await;
        let mut seen = HashSet::new();
        for event in attended {
            let session = event["payload"]["session_id"].as_str().unwrap().to_owned();
            assert!(
                seen.insert(session.clone()),
                "{id}: session {session} twice"
            );
            sessions_of
                .entry(session)
                .or_default()
                .insert(index.to_string());
        }
    }
    for (session, plan) in &recorded {
        let expected: HashSet<String> = plan.iter().map(|i| i.to_string()).collect();
        assert_eq!(
            sessions_of.get(session),
            Some(&expected),
            "session {session}"
        );
    }
    // Besides the first session (three KIM), only the answered sessions were written.
    assert_eq!(
        sessions_of.len(),
        recorded.len() + 1,
        "a session half-applied"
    );
    let bimtek: usize = recorded.values().map(Vec::len).sum::<usize>() + 3;
    assert_eq!(
        total,
        4 + 1 + activities + bimtek,
        "formations, activities and bimtek"
    );
    assert_eq!(server.store.count().await.unwrap() as usize, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sessions_on_postgres() {
    racing_sessions(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_sessions_on_sqlite() {
    racing_sessions(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

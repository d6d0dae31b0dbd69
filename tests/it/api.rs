//! The HTTP API over a real server on a random port, against PostgreSQL and SQLite.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::server::*;

const BATAM_KELURAHAN: &str = "21.71.01.1002";
const SLEMAN_DESA: &str = "34.04.01.2001";

/// Seed 000: a KIM formed from Karang Taruna in Batam, its officers, SK, nomor induk and the
/// bimtek of 27 August 2025 with 38 participants, read back with actors and request ids.
async fn batam_story(server: TestServer) {
    let regency = server.token("regency", "21.71").await;
    let province = server.token("province", "21").await;
    let auditor = server.token("auditor", "21").await;
    let national = server.token("national", "national").await;

    let formed = server
        .call(
            Method::POST,
            "/api/v1/communities",
            Some(&regency),
            Some(form_body(BATAM_KELURAHAN, 38)),
            &[("x-request-id", "batam-form-1")],
        )
        .await;
    assert_eq!(
        formed.status, 422,
        "38 members breaks R1: {:?}",
        formed.body
    );
    assert_eq!(formed.body["rule"], "R1");

    let formed = server
        .call(
            Method::POST,
            "/api/v1/communities",
            Some(&regency),
            Some(form_body(BATAM_KELURAHAN, 25)),
            &[("x-request-id", "batam-form-2")],
        )
        .await;
    assert_eq!(formed.status, 201, "{:?}", formed.body);
    assert_eq!(formed.headers["x-request-id"], "batam-form-2");
    let id = formed.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        formed.headers["location"].to_str().unwrap(),
        format!("/api/v1/communities/{id}")
    );
    let pegiat = server.token("pegiat", &id).await;

    for (role, name) in [
        ("ketua", "Zul Arif Batam"),
        ("sekretaris", "Sekretaris Karang Taruna"),
        ("bendahara", "Bendahara Karang Taruna"),
    ] {
        let reply = server
            .post(
                &format!("/communities/{id}/officers"),
                &pegiat,
                officer_body(role, name),
            )
            .await;
        assert_eq!(reply.status, 200, "{role}: {:?}", reply.body);
    }
    let sk = server
        .post(
            &format!("/communities/{id}/sk"),
            &regency,
            json!({
                "number": "12/2025", "issued_on": "2025-08-10",
                "subject": "Pembentukan KIM Karang Taruna Bersatu",
                "issuing_office": BATAM_KELURAHAN, "signed_by": "Lurah Pemping",
                "roster_acknowledged": true
            }),
        )
        .await;
    assert_eq!(sk.status, 200, "{:?}", sk.body);
    let registration = server
        .post(
            &format!("/communities/{id}/registration"),
            &regency,
            json!({"number": "KIM-2171-0001", "regency": "21.71", "assigned_on": "2025-08-20"}),
        )
        .await;
    assert_eq!(registration.status, 200, "{:?}", registration.body);
    let bimtek = server
        .call(
            Method::POST,
            &format!("/api/v1/communities/{id}/bimtek"),
            Some(&province),
            Some(json!({
                "kind": "bimtek", "title": "Bimtek KIM Kota Batam",
                "held_on": "2025-08-27", "organizer_region": "21.71", "participants": 38
            })),
            &[("x-request-id", "bimtek-2025-08-27")],
        )
        .await;
    assert_eq!(bimtek.status, 200, "{:?}", bimtek.body);
    assert_eq!(bimtek.body["version"], 7);

    let state = server.get(&format!("/communities/{id}"), &auditor).await;
    assert_eq!(state.status, 200);
    assert_eq!(state.headers["etag"], "\"7\"");
    assert_eq!(state.body["legal"], true);
    assert_eq!(state.body["nomor_induk"], "KIM-2171-0001");
    assert_eq!(state.body["kabupaten_kota"]["name"], "Kota Batam");
    assert_eq!(state.body["bimtek_count"], 1);
    assert_eq!(state.body["officers"].as_array().unwrap().len(), 3);

    let history = server
        .get(&format!("/communities/{id}/events"), &auditor)
        .await;
    assert_eq!(history.status, 200);
    let events = history.body.as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "CommunityFormed",
            "OfficerAppointed",
            "OfficerAppointed",
            "OfficerAppointed",
            "SkIssued",
            "RegistrationNumberAssigned",
            "BimtekAttended"
        ]
    );
    assert_eq!(events[0]["request_id"], "batam-form-2");
    assert_eq!(events[0]["role"], "regency");
    assert_eq!(events[1]["role"], "pegiat");
    assert_eq!(
        events[1]["payload"]["name"], "Zul Arif Batam",
        "auditors read names"
    );
    assert_eq!(events[6]["request_id"], "bimtek-2025-08-27");
    assert_eq!(events[6]["payload"]["participants"], 38);
    assert_eq!(events[6]["role"], "province");
    assert!(events
        .iter()
        .all(|e| e["actor"].as_str().unwrap().starts_with("token:")));
    let positions: HashSet<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions.len(), 7);

    // The national viewer reads the state and the KIM's timeline, but not the names.
    let sealed = server.get(&format!("/communities/{id}"), &national).await;
    assert_eq!(sealed.status, 200);
    assert!(sealed.body["officers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|officer| officer["name"] == "[tersegel]"));
    let history = server
        .get(&format!("/communities/{id}/events"), &national)
        .await;
    assert_eq!(history.status, 200);
    let appointed: Vec<&serde_json::Value> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "OfficerAppointed")
        .collect();
    assert!(!appointed.is_empty());
    assert!(appointed
        .iter()
        .all(|event| event["payload"]["name"] == "[tersegel]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_batam_story_over_http_on_postgres() {
    batam_story(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_batam_story_over_http_on_sqlite() {
    batam_story(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

/// Every write endpoint with a body that passes authorization and then fails one deterministic
/// check (a date before the formation, or 2 members), so a permitted call answers exactly 422.
fn write_endpoints(id: &str) -> Vec<(&'static str, Method, String, Value)> {
    let old = "2000-01-01";
    let any = uuid::Uuid::new_v4();
    vec![
        (
            "form",
            Method::POST,
            "/communities".to_owned(),
            form_body(BATAM_KELURAHAN, 2),
        ),
        (
            "officers",
            Method::POST,
            format!("/communities/{id}/officers"),
            {
                let mut body = officer_body("kepala_bidang", "Kepala Bidang");
                body["appointed_on"] = json!(old);
                body["bidang"] = json!("Humas");
                body
            },
        ),
        (
            "dismiss",
            Method::POST,
            format!("/communities/{id}/officers/{any}/dismiss"),
            json!({"effective_on": old, "reason": "pindah"}),
        ),
        (
            "members",
            Method::PUT,
            format!("/communities/{id}/members"),
            json!({"member_count": 20, "effective_on": old}),
        ),
        (
            "sk",
            Method::POST,
            format!("/communities/{id}/sk"),
            json!({
            "number": "1/2000", "issued_on": old, "subject": "SK", "issuing_office": BATAM_KELURAHAN,
            "signed_by": "Lurah", "roster_acknowledged": true}),
        ),
        (
            "sk_revoke",
            Method::POST,
            format!("/communities/{id}/sk/revoke"),
            json!({"effective_on": old, "reason": "salah"}),
        ),
        (
            "registration",
            Method::POST,
            format!("/communities/{id}/registration"),
            json!({"number": "KIM-1", "regency": "21.71", "assigned_on": old}),
        ),
        (
            "bimtek",
            Method::POST,
            format!("/communities/{id}/bimtek"),
            json!({
            "kind": "bimtek", "title": "Bimtek", "held_on": old, "organizer_region": "21",
            "participants": 5}),
        ),
        (
            "activities",
            Method::POST,
            format!("/communities/{id}/activities"),
            json!({"kind": "dissemination", "title": "Diseminasi", "held_on": old}),
        ),
        (
            "media_channels",
            Method::POST,
            format!("/communities/{id}/media-channels"),
            json!({"kind": "website", "name": "kim.example", "registered_on": old}),
        ),
        (
            "media_channel_deactivate",
            Method::POST,
            format!("/communities/{id}/media-channels/{any}/deactivate"),
            json!({"effective_on": old, "reason": "tutup"}),
        ),
        (
            "enterprises",
            Method::POST,
            format!("/communities/{id}/enterprises"),
            json!({"name": "UMKM", "platform": "marketplace", "registered_on": old}),
        ),
        (
            "enterprise_deactivate",
            Method::POST,
            format!("/communities/{id}/enterprises/{any}/deactivate"),
            json!({"effective_on": old, "reason": "tutup"}),
        ),
        (
            "stage",
            Method::POST,
            format!("/communities/{id}/stage"),
            json!({"direction": "advance", "to": "kim2", "assessed_on": old, "evidence": [1]}),
        ),
        (
            "suspend",
            Method::POST,
            format!("/communities/{id}/suspend"),
            json!({"effective_on": old, "reason": "tidak aktif"}),
        ),
        (
            "reactivate",
            Method::POST,
            format!("/communities/{id}/reactivate"),
            json!({"effective_on": old, "reason": "aktif lagi"}),
        ),
        (
            "dissolve",
            Method::POST,
            format!("/communities/{id}/dissolve"),
            json!({"effective_on": old, "reason": "bubar"}),
        ),
    ]
}

/// What each role may do inside its scope (the issue's table).
fn permitted(role: &str, endpoint: &str) -> bool {
    if ["show", "region"].contains(&endpoint) {
        return true;
    }
    // A KIM's timeline is read by every role that reads the KIM (issue 14: supervisors read a
    // KIM's story); personal data in it stays sealed for national and province.
    if endpoint == "events" {
        return true;
    }
    match role {
        "admin" => true,
        "national" | "auditor" => false,
        "province" => endpoint == "bimtek",
        "regency" => [
            "form",
            "sk",
            "sk_revoke",
            "registration",
            "bimtek",
            "stage",
            "suspend",
            "reactivate",
            "dissolve",
        ]
        .contains(&endpoint),
        "pegiat" => [
            "officers",
            "dismiss",
            "members",
            "activities",
            "media_channels",
            "media_channel_deactivate",
            "enterprises",
            "enterprise_deactivate",
        ]
        .contains(&endpoint),
        _ => false,
    }
}

async fn authorization_matrix(server: TestServer) {
    let admin = server.token("admin", "national").await;
    let inside = server.form(&admin, BATAM_KELURAHAN).await;
    let outside = server.form(&admin, SLEMAN_DESA).await;
    // A reactivation needs a suspended KIM to get past the status check; use one for that row.
    let roles: Vec<(&str, String, bool)> = vec![
        ("admin", "national".to_owned(), false),
        ("national", "national".to_owned(), false),
        ("province", "21".to_owned(), true),
        ("regency", "21.71".to_owned(), true),
        ("pegiat", inside.clone(), true),
        ("auditor", "21".to_owned(), true),
    ];
    let mut checked = 0;
    for (role, scope, has_outside) in roles {
        let token = server.token(role, &scope).await;
        let mut targets = vec![(inside.clone(), true)];
        if has_outside {
            targets.push((outside.clone(), false));
        }
        for (id, in_scope) in targets {
            let mut calls = write_endpoints(&id);
            calls.push((
                "show",
                Method::GET,
                format!("/communities/{id}"),
                Value::Null,
            ));
            calls.push((
                "events",
                Method::GET,
                format!("/communities/{id}/events"),
                Value::Null,
            ));
            calls.push((
                "region",
                Method::GET,
                "/regions/21.71".to_owned(),
                Value::Null,
            ));
            for (endpoint, method, path, body) in calls {
                let body = (!body.is_null()).then_some(body);
                // Forming is judged by the new KIM's village: outside means another region.
                let (path, body) = if endpoint == "form" && !in_scope {
                    (path, Some(form_body(SLEMAN_DESA, 2)))
                } else {
                    (path, body)
                };
                let expected = if endpoint == "region" {
                    200
                } else if !in_scope {
                    if endpoint == "form" {
                        403
                    } else {
                        404
                    }
                } else if !permitted(role, endpoint) {
                    403
                } else if method == Method::GET {
                    200
                } else {
                    422
                };
                let full = format!("/api/v1{path}");
                let reply = server
                    .call(method.clone(), &full, Some(&token), body.clone(), &[])
                    .await;
                assert_eq!(
                    reply.status.as_u16(),
                    expected,
                    "{role} {scope} {endpoint} in_scope={in_scope}: {:?}",
                    reply.body
                );
                if expected >= 400 {
                    assert!(reply.is_problem(), "{role} {endpoint}: not problem+json");
                }
                let anonymous = server.call(method, &full, None, body, &[]).await;
                assert_eq!(anonymous.status, 401, "{endpoint} without a token");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 20 * (2 + 4 * 2));
    // Nothing in the matrix changed either community.
    let state = server.get(&format!("/communities/{inside}"), &admin).await;
    assert_eq!(state.body["version"], 1, "{:?}", state.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authorization_matrix_on_postgres() {
    authorization_matrix(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authorization_matrix_on_sqlite() {
    authorization_matrix(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

async fn bad_input(server: TestServer) {
    let admin = server.token("admin", "national").await;
    let id = server.form(&admin, BATAM_KELURAHAN).await;
    let url = |path: &str| format!("{}/api/v1{path}", server.base);
    // A fresh connection per request: after a 413 the server closes the connection without
    // reading the rest of the body, and a pooled connection reused by the next case would race.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let raw = |path: &str, content_type: &str, body: Vec<u8>| {
        client
            .post(url(path))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
    };
    let members = format!("/communities/{id}/activities");
    // (name, request, status, rule, field)
    type Case<'a> = (
        &'a str,
        reqwest::RequestBuilder,
        u16,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        ("malformed JSON", raw(&members, "application/json", b"{\"kind\": ".to_vec()), 400, None, None),
        ("wrong type", raw(&members, "application/json",
            br#"{"kind": "dissemination", "title": "T", "held_on": "2025-09-01", "participants": "many"}"#.to_vec()),
            400, None, Some("participants")),
        ("unknown field", raw(&members, "application/json",
            br#"{"kind": "dissemination", "title": "T", "held_on": "2025-09-01", "colour": "red"}"#.to_vec()),
            400, None, None),
        ("missing field", raw(&members, "application/json",
            br#"{"kind": "dissemination", "held_on": "2025-09-01"}"#.to_vec()), 400, None, None),
        ("not JSON", raw(&members, "text/plain", b"hello".to_vec()), 415, None, None),
        ("2 MiB body", raw(&members, "application/json", {
            let mut body = br#"{"kind": "dissemination", "title": ""#.to_vec();
            body.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
            body.extend(br#"", "held_on": "2025-09-01"}"#);
            body
        }), 413, None, None),
        ("malformed region code", raw("/communities", "application/json",
            serde_json::to_vec(&form_body("2171011002", 10)).unwrap()), 400, None, Some("village")),
        ("unknown region code", raw("/communities", "application/json",
            serde_json::to_vec(&form_body("21.71.01.1999", 10)).unwrap()), 422, Some("R2"), Some("village")),
        ("kecamatan instead of desa", raw("/communities", "application/json",
            serde_json::to_vec(&form_body("21.71.01", 10)).unwrap()), 422, Some("R2"), Some("village")),
        ("31 members", raw("/communities", "application/json",
            serde_json::to_vec(&form_body(BATAM_KELURAHAN, 31)).unwrap()), 422, Some("R1"), Some("member_count")),
    ];
    for (name, request, status, rule, field) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{name}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], status, "{name}");
        assert!(
            problem["type"].as_str().unwrap().starts_with("https://"),
            "{name}"
        );
        assert!(!problem["title"].as_str().unwrap().is_empty(), "{name}");
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{name}");
        if let Some(rule) = rule {
            assert_eq!(problem["rule"], rule, "{name}");
        }
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{name}: {problem}");
        }
    }
    // A bad token is a 401, an unknown route a 404 problem.
    let reply = server
        .get(&format!("/communities/{id}"), "simpul_not-a-token")
        .await;
    assert_eq!(reply.status, 401);
    assert!(reply.headers.contains_key("www-authenticate"));
    let reply = server.get("/no-such-thing", &admin).await;
    assert_eq!(reply.status, 404);
    assert!(reply.is_problem());

    // A command on a dissolved KIM: 409, and nothing appended.
    let dissolved = server
        .post(
            &format!("/communities/{id}/dissolve"),
            &admin,
            json!({"effective_on": "2025-09-01", "reason": "bubar"}),
        )
        .await;
    assert_eq!(dissolved.status, 200);
    let after = server
        .post(
            &format!("/communities/{id}/activities"),
            &admin,
            json!({"kind": "dissemination", "title": "T", "held_on": "2025-09-02"}),
        )
        .await;
    assert_eq!(after.status, 409, "{:?}", after.body);
    assert_eq!(after.body["field"], "status");
    let state = server.get(&format!("/communities/{id}"), &admin).await;
    assert_eq!(state.body["version"], 2, "refused input appended nothing");
    assert_eq!(state.body["status"], "dissolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_problem_on_postgres() {
    bad_input(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_problem_on_sqlite() {
    bad_input(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

async fn idempotency_and_versions(server: TestServer) {
    let admin = server.token("admin", "national").await;
    let id = server.form(&admin, BATAM_KELURAHAN).await;
    let path = format!("/api/v1/communities/{id}/activities");
    let body = json!({"kind": "networking", "title": "Temu KIM", "held_on": "2025-09-01"});
    let first = server
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(first.status, 200);
    let again = server
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body, "the first response again");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = server
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(json!({"kind": "networking", "title": "Lain", "held_on": "2025-09-01"})),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(other.status, 422);
    assert!(other.is_problem());
    let history = server
        .get(&format!("/communities/{id}/events"), &admin)
        .await;
    assert_eq!(
        history.body.as_array().unwrap().len(),
        2,
        "no new event on replay"
    );

    // The key's digest covers the method and the path as requested (the route is read from the
    // request, not retyped per handler): the same key and body sent to another KIM is another
    // request (422), and what is stored is SHA-256 of "POST /communities/<id>/activities",
    // a line break and the body's SHA-256 — as before, so keys recorded earlier still replay.
    let other_kim = server.form(&admin, BATAM_KELURAHAN).await;
    let elsewhere = server
        .call(
            Method::POST,
            &format!("/api/v1/communities/{other_kim}/activities"),
            Some(&admin),
            Some(body.clone()),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(elsewhere.status, 422, "{:?}", elsewhere.body);
    {
        use sha2::Digest as _;
        let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
        let body_digest = hex(&sha2::Sha256::digest(serde_json::to_vec(&body).unwrap()));
        let expected = hex(&sha2::Sha256::digest(
            format!("POST /communities/{id}/activities\n{body_digest}").as_bytes(),
        ));
        let stored: String = match server.store.database() {
            simpul_store::Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT request_hash FROM idempotency_keys WHERE key = 'k-1'")
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            simpul_store::Database::Sqlite { readers, .. } => {
                sqlx::query_scalar("SELECT request_hash FROM idempotency_keys WHERE key = 'k-1'")
                    .fetch_one(readers)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(stored, expected);
    }

    // A retried formation without a chosen id names the KIM the first request formed — in its
    // body and its `Location` — not an id generated for the retry.
    let form = crate::server::form_body(BATAM_KELURAHAN, 12);
    let headers = [("idempotency-key", "form-1")];
    let first = server
        .call(
            Method::POST,
            "/api/v1/communities",
            Some(&admin),
            Some(form.clone()),
            &headers,
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = server
        .call(
            Method::POST,
            "/api/v1/communities",
            Some(&admin),
            Some(form),
            &headers,
        )
        .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["location"], first.headers["location"]);
    let formed = first.body["id"].as_str().unwrap();
    assert_eq!(
        again.headers["location"].to_str().unwrap(),
        format!("/api/v1/communities/{formed}")
    );

    // If-Match: the current version passes, a stale one is 412 and appends nothing.
    let stale = server
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(body.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    let current = server
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(body),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(current.status, 200, "{:?}", current.body);
    assert_eq!(current.body["version"], 3);
    assert_eq!(current.headers["etag"], "\"3\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_and_if_match_on_postgres() {
    idempotency_and_versions(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_and_if_match_on_sqlite() {
    idempotency_and_versions(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

async fn sixteen_clients(server: TestServer) {
    let admin = server.token("admin", "national").await;
    let id = server.form(&admin, BATAM_KELURAHAN).await;
    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for client in 0..16 {
        let server = server.clone();
        let (admin, id) = (admin.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            for n in 0..10 {
                let activity = uuid::Uuid::new_v4();
                let reply = server
                    .post(
                        &format!("/communities/{id}/activities"),
                        &admin,
                        json!({"activity_id": activity, "kind": "aspiration",
                               "title": format!("Klien {client} #{n}"), "held_on": "2025-09-01"}),
                    )
                    .await;
                match reply.status.as_u16() {
                    200 => accepted.push(activity.to_string()),
                    409 => {}
                    other => panic!("unexpected {other}: {:?}", reply.body),
                }
            }
            accepted
        }));
    }
    let mut accepted = Vec::new();
    for task in tasks {
        accepted.extend(task.await.unwrap());
    }
    // One server takes a KIM's commands in turn: none of them loses a race.
    assert_eq!(accepted.len(), 160, "commands refused as conflicts");
    let history = server
        .get(&format!("/communities/{id}/events"), &admin)
        .await;
    let events = history.body.as_array().unwrap();
    assert_eq!(events.len(), 1 + accepted.len(), "lost or extra events");
    let stored: HashSet<&str> = events[1..]
        .iter()
        .map(|e| e["payload"]["activity_id"].as_str().unwrap())
        .collect();
    assert_eq!(stored.len(), accepted.len(), "an activity stored twice");
    for activity in &accepted {
        assert!(stored.contains(activity.as_str()));
    }
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=events.len() as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_clients_on_postgres() {
    sixteen_clients(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_clients_on_sqlite() {
    sixteen_clients(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_in_the_openapi_document_and_the_docs_are_served_locally() {
    let server = TestServer::spawn(simpul_store::Backend::Sqlite).await;
    let spec = server
        .call(Method::GET, "/api/openapi.json", None, None, &[])
        .await;
    assert_eq!(spec.status, 200);
    let paths = spec.body["paths"].as_object().unwrap();
    let expected = [
        ("post", "/communities"),
        ("get", "/communities/{id}"),
        ("get", "/communities/{id}/events"),
        ("post", "/communities/{id}/officers"),
        ("post", "/communities/{id}/officers/{person_id}/dismiss"),
        ("put", "/communities/{id}/members"),
        ("post", "/communities/{id}/sk"),
        ("post", "/communities/{id}/sk/revoke"),
        ("post", "/communities/{id}/registration"),
        ("post", "/communities/{id}/bimtek"),
        ("post", "/bimtek-sessions"),
        ("post", "/communities/{id}/activities"),
        ("post", "/communities/{id}/media-channels"),
        ("post", "/communities/{id}/media-channels/{cid}/deactivate"),
        ("post", "/communities/{id}/enterprises"),
        ("post", "/communities/{id}/enterprises/{eid}/deactivate"),
        ("post", "/communities/{id}/stage"),
        ("post", "/communities/{id}/suspend"),
        ("post", "/communities/{id}/reactivate"),
        ("post", "/communities/{id}/dissolve"),
        ("get", "/regions/{code}"),
        ("get", "/communities"),
        ("get", "/dashboard/stages"),
        ("get", "/projections"),
        ("get", "/audit"),
        ("get", "/audit/changes"),
        ("get", "/analytics/stage-transitions"),
        ("get", "/analytics/time-to-stage"),
        ("get", "/analytics/funnel"),
        ("get", "/analytics/bimtek-effect"),
        ("get", "/analytics/trends"),
        ("get", "/analytics/compare"),
        ("get", "/ledger/checkpoint"),
        ("get", "/ledger/checkpoints"),
        ("get", "/ledger/proofs/inclusion"),
        ("get", "/ledger/proofs/consistency"),
        ("get", "/exports/communities"),
        ("get", "/exports/events"),
        ("get", "/exports/analytics"),
        ("post", "/imports"),
        ("get", "/healthz"),
        ("get", "/readyz"),
    ];
    for (method, path) in expected {
        let operation = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
        assert!(operation.is_object(), "{method} {path} missing");
        if path.starts_with("/communities") {
            let responses = operation["responses"].as_object().unwrap();
            for status in ["401", "403", "404"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            assert!(
                operation["security"].is_array(),
                "{method} {path} lacks security"
            );
        }
    }
    let operations: usize = paths
        .values()
        .map(|item| {
            ["get", "post", "put", "delete", "patch"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert_eq!(
        operations,
        expected.len(),
        "a route is in the spec but not in this list"
    );
    assert!(spec.body["components"]["securitySchemes"]["bearer"].is_object());
    assert!(spec.body["components"]["schemas"]["Problem"].is_object());
    // Every documented route answers (no token → 401, not 404), so spec and router agree.
    let server_base = &server.base;
    for (method, path) in expected {
        let concrete = path
            .replace("{id}", "x")
            .replace("{person_id}", "x")
            .replace("{cid}", "x")
            .replace("{eid}", "x")
            .replace("{code}", "34");
        let url = format!("{server_base}/api/v1{concrete}");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let status = server
            .client
            .request(method, &url)
            .send()
            .await
            .unwrap()
            .status();
        let open = path.ends_with("healthz") || path.ends_with("readyz");
        assert_eq!(status.as_u16(), if open { 200 } else { 401 }, "{path}");
    }
    let docs = server.call(Method::GET, "/api/docs", None, None, &[]).await;
    assert_eq!(docs.status, 200);
    assert!(docs.body.as_str().unwrap().contains("swagger-ui-bundle.js"));
    let bundle = server
        .client
        .get(format!("{server_base}/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let health = server
        .call(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("x-request-id", "abc")],
        )
        .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.headers["x-request-id"], "abc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_with_retry_after_not_500() {
    // A pool towards a port where no server listens: every query fails to connect.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nothing")
        .unwrap();
    let database = simpul_store::Database::Postgres(pool);
    let keys = simpul_store::KeyStore::new(database.clone(), simpul_store::MasterKey::generate());
    let state = simpul_http::AppState::new(database, keys, simpul_regions::bundled().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(simpul_http::serve(listener, state, std::future::pending()));
    let client = reqwest::Client::new();

    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "5");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process itself is up");
    let write = client
        .post(format!("{base}/api/v1/communities"))
        .bearer_auth("simpul_anything")
        .json(&form_body(BATAM_KELURAHAN, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 503);
    assert!(write.headers().contains_key("retry-after"));
    assert_eq!(write.headers()["content-type"], "application/problem+json");
}

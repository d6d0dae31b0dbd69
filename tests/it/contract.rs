//! What the OpenAPI fuzzer found at the edge of the contract: positions beyond 2^63, NUL bytes in
//! query strings and ids, `min_position=0`. Each is a 4xx naming the field (or the right answer),
//! the same on both backends — never a 500 or a 503.

use crate::server::TestServer;

async fn edges_are_client_errors(backend: simpul_store::Backend) {
    let server = TestServer::spawn(backend).await;
    let admin = server.token("admin", "national").await;
    let id = server.form(&admin, crate::helpers::SLEMAN_DESA).await;
    let cases: [(&str, u16, Option<&str>); 12] = [
        (
            "/exports/events?after=9223372036854775808",
            400,
            Some("after"),
        ),
        (
            "/exports/events?after=18446744073709551615",
            400,
            Some("after"),
        ),
        (
            "/exports/analytics?after=9223372036854775808",
            400,
            Some("after"),
        ),
        ("/exports/analytics?region=%00", 400, Some("region")),
        ("/audit?cursor=9223372036854775808", 400, Some("cursor")),
        (
            "/communities?min_position=9223372036854775808",
            400,
            Some("min_position"),
        ),
        ("/communities?q=%00", 400, Some("q")),
        ("/communities?cursor=a%00b", 400, Some("cursor")),
        ("/audit?actor=%00", 400, Some("actor")),
        ("/communities/%00", 404, None),
        ("/communities/not-a-kim/events", 404, None),
        ("/communities?min_position=0", 200, None),
    ];
    for (path, status, field) in cases {
        let reply = server.get(path, &admin).await;
        assert_eq!(reply.status.as_u16(), status, "{path}: {:?}", reply.body);
        if let Some(field) = field {
            assert_eq!(reply.body["field"], field, "{path}");
            assert!(reply.is_problem(), "{path}");
        }
    }
    let reply = server
        .get(&format!("/communities/{id}?min_position=0"), &admin)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_edges_are_client_errors_on_postgres() {
    edges_are_client_errors(simpul_store::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contract_edges_are_client_errors_on_sqlite() {
    edges_are_client_errors(simpul_store::Backend::Sqlite).await;
}

async fn request_ids_and_personal_texts_are_bounded(backend: simpul_store::Backend) {
    use crate::server::officer_body;
    use reqwest::Method;
    let server = TestServer::spawn(backend).await;
    let admin = server.token("admin", "national").await;
    let id = server.form(&admin, crate::helpers::SLEMAN_DESA).await;

    // A request id of 300 characters, or one with non-ASCII bytes, is replaced: the answer echoes
    // the id the events store.
    let long = "r".repeat(300);
    for sent in [long.as_str(), "permintaan-ñ-1", "ok-id-123"] {
        let person = uuid::Uuid::new_v4().to_string();
        let mut body = officer_body("ketua", "Siti Aminah");
        body["person_id"] = serde_json::json!(person);
        let reply = server
            .call(
                Method::POST,
                &format!("/api/v1/communities/{id}/officers"),
                Some(&admin),
                Some(body),
                &[("x-request-id", sent)],
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let echoed = reply.headers["x-request-id"].to_str().unwrap().to_owned();
        if sent == "ok-id-123" {
            assert_eq!(echoed, sent, "a good id is kept");
        } else {
            assert_ne!(echoed, sent);
            assert!(echoed.len() <= 128 && echoed.is_ascii());
        }
        let history = server
            .get(&format!("/communities/{id}/events"), &admin)
            .await;
        let last = history.body.as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            last["request_id"],
            echoed.as_str(),
            "stored what was echoed"
        );
        // Make room for the next ketua.
        let dismissed = server
            .post(
                &format!("/communities/{id}/officers/{person}/dismiss"),
                &admin,
                serde_json::json!({"effective_on": "2025-09-01", "reason": "Pindah domisili"}),
            )
            .await;
        assert_eq!(dismissed.status, 200, "{:?}", dismissed.body);
    }

    // Names and contacts are bounded before they are sealed.
    let version = server
        .get(&format!("/communities/{id}"), &admin)
        .await
        .headers["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut huge_name = officer_body("sekretaris", &"a".repeat(1_000_000));
    huge_name["contact"] = serde_json::json!("0812");
    let mut long_contact = officer_body("sekretaris", "Budi");
    long_contact["contact"] = serde_json::json!("9".repeat(201));
    for (body, field) in [(huge_name, "name"), (long_contact, "contact")] {
        let reply = server
            .post(&format!("/communities/{id}/officers"), &admin, body)
            .await;
        assert_eq!(reply.status, 422, "{field}: {:?}", reply.body);
        assert_eq!(reply.body["field"], field);
    }
    let after = server
        .get(&format!("/communities/{id}"), &admin)
        .await
        .headers["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(after, version, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_ids_and_personal_texts_are_bounded_on_postgres() {
    request_ids_and_personal_texts_are_bounded(simpul_store::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_ids_and_personal_texts_are_bounded_on_sqlite() {
    request_ids_and_personal_texts_are_bounded(simpul_store::Backend::Sqlite).await;
}

// A client-chosen id on `POST /communities` that belongs to a KIM outside the token's scope: the
// answer says the id is taken and nothing about that KIM (its name, its region).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chosen_id_reveals_nothing_about_a_kim_out_of_scope() {
    let server = TestServer::spawn(simpul_store::Backend::Postgres).await;
    let sleman = server.token("regency", "34.04").await;
    let batam = server.token("regency", "21.71").await;
    let id = uuid::Uuid::new_v4();
    let mut body = crate::server::form_body(crate::helpers::SLEMAN_DESA, 12);
    body["id"] = serde_json::json!(id);
    body["name"] = serde_json::json!("KIM Rahasia Sleman");
    let created = server.post("/communities", &sleman, body.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);

    let mut foreign = crate::server::form_body("21.71.01.1002", 12);
    foreign["id"] = serde_json::json!(id);
    let reply = server.post("/communities", &batam, foreign).await;
    assert_eq!(reply.status, 409, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "id");
    let text = reply.body.to_string();
    assert!(
        !text.contains("Rahasia") && !text.contains("34.04") && !text.contains("Sleman"),
        "{text}"
    );
    // The same id inside the token's own scope is named, as before.
    let again = server.post("/communities", &sleman, body).await;
    assert_eq!(again.status, 409);
}

async fn person_keys(server: &TestServer) -> i64 {
    server.person_key_count().await
}

// An appointment the rules refuse leaves no key behind; a person_id of another KIM — or of an
// erased person elsewhere — is refused alike, saying nothing about that person.
async fn appointments_leak_no_keys_and_no_persons(backend: simpul_store::Backend) {
    use crate::server::officer_body;
    let server = TestServer::spawn(backend).await;
    let admin = server.token("admin", "national").await;
    let ours = server.form(&admin, crate::helpers::SLEMAN_DESA).await;
    let theirs = server.form(&admin, crate::helpers::SLEMAN_DESA).await;
    let keys_before = person_keys(&server).await;

    // R4: not eligible. Refused, and no key was kept.
    let mut ineligible = officer_body("ketua", "Bukan Calon");
    ineligible["eligibility"]["not_asn"] = serde_json::json!(false);
    let reply = server
        .post(&format!("/communities/{ours}/officers"), &admin, ineligible)
        .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(reply.body["rule"], "R4");
    assert_eq!(person_keys(&server).await, keys_before, "no orphan key");

    // A person of another KIM, then the same person erased: the same refusal both times.
    let person = uuid::Uuid::new_v4();
    let mut body = officer_body("ketua", "Orang Lain");
    body["person_id"] = serde_json::json!(person);
    let appointed = server
        .post(
            &format!("/communities/{theirs}/officers"),
            &admin,
            body.clone(),
        )
        .await;
    assert_eq!(appointed.status, 200, "{:?}", appointed.body);
    let foreign = server
        .post(
            &format!("/communities/{ours}/officers"),
            &admin,
            body.clone(),
        )
        .await;
    assert_eq!(foreign.status, 422, "{:?}", foreign.body);
    assert_eq!(foreign.body["field"], "person_id");
    server.erase(person).await;
    let erased = server
        .post(&format!("/communities/{ours}/officers"), &admin, body)
        .await;
    assert_eq!(erased.status, 422, "{:?}", erased.body);
    assert_eq!(erased.body, foreign.body, "erased or not, the same answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appointments_leak_no_keys_and_no_persons_on_postgres() {
    appointments_leak_no_keys_and_no_persons(simpul_store::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appointments_leak_no_keys_and_no_persons_on_sqlite() {
    appointments_leak_no_keys_and_no_persons(simpul_store::Backend::Sqlite).await;
}

// A known path with a method it does not have: 405 with `Allow` and a problem body, like every
// other error (it was an empty body), on the API and on the documents alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let server = TestServer::spawn(simpul_store::Backend::Sqlite).await;
    let admin = server.token("admin", "national").await;
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/api/v1/communities", "POST"),
        (reqwest::Method::PATCH, "/api/openapi.json", "GET"),
        (reqwest::Method::PUT, "/healthz", "GET"),
    ] {
        let reply = server
            .client
            .request(method.clone(), format!("{}{path}", server.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 405, "{method} {path}");
        let header = |name: &str| {
            reply
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("allow").contains(allow), "{method} {path}");
        assert_eq!(header("content-type"), "application/problem+json");
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["status"], 405);
        assert_eq!(
            body["type"],
            "https://simpul.id/problems/method-not-allowed"
        );
    }
}

// `GET /communities/{id}` reads the stream once: the events that authorise the request are the
// events shown (it read and folded them twice, once to authorise and once to answer).
async fn read_once(backend: simpul_store::Backend) {
    {
        let server = TestServer::spawn(backend).await;
        let admin = server.token("admin", "national").await;
        // Formed by another process: this server has no cached copy.
        let id = uuid::Uuid::new_v4().to_string();
        let form = simpul_domain::CommunityCommand::FormCommunity(
            simpul_domain::commands::FormCommunity {
                name: simpul_domain::text::CommunityName::parse("KIM Sleman").unwrap(),
                village: crate::helpers::code(crate::helpers::SLEMAN_DESA),
                formed_on: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
                origin_group: None,
                member_count: 12,
                initiated_by: Some("Karang Taruna".to_owned()),
                recorded_by_role: simpul_domain::ActorRole::Admin,
            },
        );
        let context = simpul_app::CommandContext {
            actor_id: "test".to_owned(),
            actor_role: simpul_domain::ActorRole::Admin,
            request_id: "read-once".to_owned(),
            expected_version: None,
        };
        server
            .executor()
            .execute(&id, form, &context)
            .await
            .unwrap();
        let before = server.store.community_reads();
        let reply = server.get(&format!("/communities/{id}"), &admin).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(server.store.community_reads() - before, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_community_is_read_once_to_authorise_and_show_on_postgres() {
    read_once(simpul_store::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_community_is_read_once_to_authorise_and_show_on_sqlite() {
    read_once(simpul_store::Backend::Sqlite).await;
}

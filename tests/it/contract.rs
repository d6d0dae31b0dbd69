//! What the OpenAPI fuzzer found at the edge of the contract: positions beyond 2^63, NUL bytes in
//! query strings and ids, `min_position=0`. Each is a 4xx naming the field (or the right answer),
//! the same on both backends — never a 500 or a 503.

use crate::server::TestServer;

async fn edges_are_client_errors(backend: simpul_store::Backend) {
    let server = TestServer::spawn(backend).await;
    let admin = server.token("admin", "national").await;
    let id = server.form(&admin, crate::helpers::SLEMAN_DESA).await;
    let cases: [(&str, u16, Option<&str>); 10] = [
        ("/exports/events?after=9223372036854775808", 400, Some("after")),
        ("/exports/events?after=18446744073709551615", 400, Some("after")),
        ("/audit?cursor=9223372036854775808", 400, Some("cursor")),
        ("/communities?min_position=9223372036854775808", 400, Some("min_position")),
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

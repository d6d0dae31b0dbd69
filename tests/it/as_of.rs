//! Reads "as of" a past time (issue 13): the dashboard and the list from `community_history`'s
//! states with their validity ranges, and the changes between two times with their events.

use serde_json::Value;
use simpul_domain::commands::SuspendCommunity;
use simpul_domain::{ActorRole, CommunityCommand};

use crate::helpers::*;
use crate::server::TestServer;

/// `recorded_at` of a KIM's event `sequence` (from its history), URL-encoded.
async fn recorded_at(server: &TestServer, token: &str, id: &str, sequence: usize) -> String {
    let history = server
        .get(&format!("/communities/{id}/events"), token)
        .await;
    history.body[sequence - 1]["recorded_at"]
        .as_str()
        .unwrap()
        .replace('+', "%2B")
}

fn totals(body: &Value, key: &str, value: &str) -> i64 {
    body["region"][key][value].as_i64().unwrap()
}

#[tokio::test]
async fn the_dashboard_the_list_and_the_changes_read_as_they_stood() {
    for backend in [
        simpul_store::Backend::Postgres,
        simpul_store::Backend::Sqlite,
    ] {
        let server = TestServer::spawn(backend).await;
        let auditor = server.token("auditor", "34").await;
        let outside = server.token("auditor", "11").await;
        let executor = server.executor();
        let (a, b) = (
            uuid::Uuid::now_v7().to_string(),
            uuid::Uuid::now_v7().to_string(),
        );
        for id in [&a, &b] {
            executor
                .execute(id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
                .await
                .unwrap();
        }
        let suspend = CommunityCommand::SuspendCommunity(SuspendCommunity {
            suspended_on: date("2025-09-01"),
            reason: reason("tidak aktif"),
        });
        let position = executor
            .execute(&a, suspend, &context(ActorRole::Regency))
            .await
            .unwrap()
            .position;
        let wait = format!("min_position={position}");
        let formed_b = recorded_at(&server, &auditor, &b, 1).await;
        let suspended = recorded_at(&server, &auditor, &a, 2).await;

        // When B was formed: two active KIM. After A's suspension: one active, one suspended.
        let then = server
            .get(
                &format!("/dashboard/stages?region=34&as_of={formed_b}&{wait}"),
                &auditor,
            )
            .await;
        assert_eq!(then.status, 200, "{:?}", then.body);
        assert_eq!(then.body["region"]["total"], 2);
        assert_eq!(totals(&then.body, "by_status", "active"), 2);
        let sleman = then.body["children"]
            .as_array()
            .unwrap()
            .iter()
            .find(|child| child["code"] == "34.04")
            .unwrap();
        assert_eq!(sleman["total"], 2);
        let now = server
            .get(
                &format!("/dashboard/stages?region=34&as_of={suspended}"),
                &auditor,
            )
            .await;
        assert_eq!(totals(&now.body, "by_status", "active"), 1);
        assert_eq!(totals(&now.body, "by_status", "suspended"), 1);
        // The current dashboard agrees with the latest state "as of" tomorrow.
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
        let current = server
            .get(&format!("/dashboard/stages?region=34&{wait}"), &auditor)
            .await;
        let dated = server
            .get(
                &format!("/dashboard/stages?region=34&as_of={tomorrow}"),
                &auditor,
            )
            .await;
        assert_eq!(current.body, dated.body);
        // Long ago: nothing yet.
        let empty = server
            .get("/dashboard/stages?region=34&as_of=2000-01-01", &auditor)
            .await;
        assert_eq!(empty.body["region"]["total"], 0);

        // The list as it stood, with its filters, keyset-paginated.
        let list = server
            .get(
                &format!("/communities?region=34.04&as_of={formed_b}&limit=1"),
                &auditor,
            )
            .await;
        assert_eq!(list.status, 200, "{:?}", list.body);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        let cursor = list.body["next_cursor"].as_str().unwrap().to_owned();
        let rest = server
            .get(
                &format!("/communities?region=34.04&as_of={formed_b}&limit=1&cursor={cursor}"),
                &auditor,
            )
            .await;
        assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(rest.body["next_cursor"], Value::Null);
        let suspended_then = server
            .get(
                &format!("/communities?as_of={suspended}&status=suspended"),
                &auditor,
            )
            .await;
        let items = suspended_then.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["community_id"], a.as_str());
        assert_eq!(items[0]["status"], "suspended");
        let before = server
            .get(
                &format!("/communities?as_of={formed_b}&status=suspended"),
                &auditor,
            )
            .await;
        assert!(before.body["items"].as_array().unwrap().is_empty());

        // The changes between two times: both formations and A's suspension, with their events.
        let changes = server
            .get(
                &format!("/audit/changes?from=2000-01-01&to={tomorrow}"),
                &auditor,
            )
            .await;
        assert_eq!(changes.status, 200, "{:?}", changes.body);
        let items = changes.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{items:?}");
        let suspension = items
            .iter()
            .find(|change| change["event_type"] == "CommunitySuspended")
            .unwrap();
        assert_eq!(suspension["community_id"], a.as_str());
        assert_eq!(suspension["changed"], "status");
        assert_eq!(suspension["status"], "suspended");
        assert_eq!(suspension["sequence"], 2);
        assert_eq!(suspension["position"].as_u64(), Some(position));
        // From just after B's formation: only the suspension.
        let after_b = server
            .get(
                &format!("/audit/changes?from={suspended}&to={tomorrow}"),
                &auditor,
            )
            .await;
        assert_eq!(after_b.body["items"].as_array().unwrap().len(), 1);
        // Another province's auditor sees none of them; bad requests name their field.
        let elsewhere = server
            .get(
                &format!("/audit/changes?from=2000-01-01&to={tomorrow}"),
                &outside,
            )
            .await;
        assert!(elsewhere.body["items"].as_array().unwrap().is_empty());
        for (path, field) in [
            ("/audit/changes?to=2030-01-01", "from"),
            ("/audit/changes?from=2030-01-01&to=2020-01-01", "from"),
            ("/dashboard/stages?region=34&as_of=kemarin", "as_of"),
            ("/communities?as_of=2024-12-31&q=maju", "q"),
        ] {
            let refused = server.get(path, &auditor).await;
            assert_eq!(refused.status, 400, "{path}: {:?}", refused.body);
            assert_eq!(refused.body["field"], field, "{path}");
        }
    }
}

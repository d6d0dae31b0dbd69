//! The ledger read model (issue 13): every event gets a dense ledger index in the feed's commit
//! order, assigned once, with the RFC 9162 leaf of its canonical bytes — checked here against an
//! independent rendering of those bytes with serde_json.

use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use simpul_domain::events::ActivityKind;
use simpul_domain::ActorRole;
use simpul_projections::ledger::{self, query};
use simpul_projections::{Driver, Projection, Runner};
use simpul_store::StoredEvent;

use crate::both_backends;
use crate::helpers::*;

fn ledger_projection() -> Arc<dyn Projection> {
    Arc::new(Driver(ledger::Ledger))
}

/// The leaf of an event, rendered independently of `simpul_ledger::canonical`: serde_json's
/// compact output of a sorted map is canonical JSON for ASCII keys, strings and integers.
fn independent_leaf(event: &StoredEvent) -> [u8; 32] {
    let metadata: std::collections::BTreeMap<&String, &String> = event.metadata.iter().collect();
    let fields: [Vec<u8>; 6] = [
        event.aggregate_id.as_bytes().to_vec(),
        event.sequence.to_be_bytes().to_vec(),
        event.event_type.as_bytes().to_vec(),
        event.event_version.as_bytes().to_vec(),
        serde_json::to_vec(&event.payload).unwrap(),
        serde_json::to_vec(&metadata).unwrap(),
    ];
    let mut bytes = b"simpul-event-v1".to_vec();
    for field in fields {
        bytes.extend_from_slice(&u32::try_from(field.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(&field);
    }
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(&bytes);
    hasher.finalize().into()
}

async fn catch_up(runner: &Runner, expected: usize) {
    let projection = ledger_projection();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        runner.catch_up(projection.as_ref()).await.unwrap();
        let size = query::size(runner.store().database()).await.unwrap();
        if size as usize >= expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ledger stuck at {size}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A desa in Aceh (province 11), beside Sleman's (province 34): two sub-logs.
const ACEH_DESA: &str = "11.01.02.2018";

async fn some_history(db: &TestDb, kim: usize) {
    let executor = db.executor();
    let keys = db.keys();
    for i in 0..kim {
        let desa = if i % 2 == 0 { SLEMAN_DESA } else { ACEH_DESA };
        let id = legal_ready(&executor, &keys, desa).await;
        let (_, command) = activity(ActivityKind::Dissemination);
        executor
            .execute(&id, command, &context(ActorRole::Pegiat))
            .await
            .unwrap();
    }
}

/// Checks the ledger against the feed: dense indexes, the feed's order, each event's leaf, its
/// province (from its community's formation) and dense index there, and the tree head.
async fn check_against_feed(db: &TestDb) -> Vec<query::Leaf> {
    let store = db.store();
    let size = query::size(&db.database).await.unwrap();
    let feed = read_feed(&store, 0, size as usize).await;
    let leaves = query::leaves(&db.database, 0, u64::MAX).await.unwrap();
    assert_eq!(leaves.len(), feed.len(), "one leaf per event");
    let mut provinces = std::collections::HashMap::new();
    let mut sizes = std::collections::HashMap::new();
    for (i, (leaf, event)) in leaves.iter().zip(&feed).enumerate() {
        assert_eq!(leaf.index, i as u64, "dense from 0");
        assert_eq!(leaf.position, event.position, "leaf {i} in feed order");
        assert_eq!(
            leaf.hash,
            independent_leaf(event),
            "leaf {i} of {}",
            event.position
        );
        if event.event_type == "CommunityFormed" {
            let village = event.payload["CommunityFormed"]["village"]
                .as_str()
                .unwrap();
            provinces.insert(event.aggregate_id.clone(), village[..2].to_owned());
        }
        let province = &provinces[&event.aggregate_id];
        assert_eq!(&leaf.province, province, "leaf {i}'s province");
        let next = sizes.entry(province.clone()).or_insert(0u64);
        assert_eq!(leaf.province_index, *next, "leaf {i} dense in its sub-log");
        *next += 1;
    }
    let hashes: Vec<[u8; 32]> = leaves.iter().map(|leaf| leaf.hash).collect();
    assert_eq!(
        query::head(&db.database, size).await.unwrap(),
        simpul_ledger::root(&hashes)
    );
    leaves
}

both_backends!(
    every_event_gets_a_dense_ledger_index_in_feed_order_once,
    |db: TestDb| async move {
        some_history(&db, 3).await;
        let runner = Runner::new(db.store());
        let first = read_feed(&db.store(), 0, 18).await.len();
        catch_up(&runner, first).await;
        let before = check_against_feed(&db).await;
        assert_eq!(before.len(), first);
        let provinces: std::collections::BTreeSet<&str> =
            before.iter().map(|leaf| leaf.province.as_str()).collect();
        assert_eq!(provinces.into_iter().collect::<Vec<_>>(), ["11", "34"]);

        // More events: the indexes given stay as they were, the new ones follow densely.
        some_history(&db, 2).await;
        let total = read_feed(&db.store(), 0, first + 12).await.len();
        catch_up(&runner, total).await;
        let after = check_against_feed(&db).await;
        assert_eq!(&after[..before.len()], &before[..]);
        assert_eq!(after.len(), total);

        // Rebuilt from the log, the ledger is identical (the feed's order is the ledger's).
        let projection = ledger_projection();
        runner
            .rebuild(projection.as_ref(), &|_, _| {})
            .await
            .unwrap();
        assert_eq!(
            query::leaves(&db.database, 0, u64::MAX).await.unwrap(),
            after
        );
        assert!(runner
            .verify(projection.as_ref(), 10)
            .await
            .unwrap()
            .is_empty());
    }
);

both_backends!(
    two_ledger_builders_at_once_leave_no_gap_and_no_duplicate,
    |db: TestDb| async move {
        let writers = {
            let executor = db.executor();
            let keys = db.keys();
            tokio::spawn(async move {
                for _ in 0..4 {
                    legal_ready(&executor, &keys, SLEMAN_DESA).await;
                }
            })
        };
        let build = |runner: Runner| {
            tokio::spawn(async move {
                let projection = ledger_projection();
                for _ in 0..40 {
                    runner.catch_up(projection.as_ref()).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        };
        let a = build(Runner::new(db.store()));
        let b = build(Runner::new(db.store()));
        writers.await.unwrap();
        a.await.unwrap();
        b.await.unwrap();
        let total = read_feed(&db.store(), 0, 20).await.len();
        catch_up(&Runner::new(db.store()), total).await;
        let leaves = check_against_feed(&db).await;
        assert_eq!(leaves.len(), total);
    }
);

fn policy(every: u64) -> simpul_app::ledger::CheckpointPolicy {
    simpul_app::ledger::CheckpointPolicy {
        every,
        interval: std::time::Duration::from_secs(3600),
    }
}

both_backends!(
    checkpoints_are_signed_tree_heads_cut_as_the_policy_says,
    |db: TestDb| async move {
        use simpul_app::ledger::Checkpointer;
        let key = simpul_ledger::LedgerKey::from_seed("simpul.test/ledger", &[9; 32]).unwrap();
        let verifier = key.verifier();
        let mut checkpointer =
            Checkpointer::new(db.database.clone(), key, "simpul.test/ledger", policy(1000))
                .await
                .unwrap();
        // Nothing to sign in an empty ledger.
        assert_eq!(checkpointer.cut().await.unwrap(), None);
        assert_eq!(query::latest_checkpoint(&db.database).await.unwrap(), None);

        some_history(&db, 2).await;
        let runner = Runner::new(db.store());
        let size = read_feed(&db.store(), 0, 12).await.len();
        catch_up(&runner, size).await;
        // Fewer new leaves than the policy's 1000, and the interval not passed: not due.
        assert_eq!(checkpointer.tick().await.unwrap(), None);
        assert_eq!(checkpointer.cut().await.unwrap(), Some(size as u64));
        let latest = query::latest_checkpoint(&db.database)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.size, size as u64);
        let checkpoint = verifier
            .open(&latest.note)
            .expect("signed by the ledger key");
        // Its extension line commits to each province's sub-log, recomputed here.
        let leaves = query::leaves(&db.database, 0, u64::MAX).await.unwrap();
        let mut sublogs = std::collections::BTreeMap::<String, Vec<[u8; 32]>>::new();
        for leaf in &leaves[..size] {
            sublogs
                .entry(leaf.province.clone())
                .or_default()
                .push(leaf.hash);
        }
        let mut expected = simpul_ledger::SubLogs::default();
        for (province, hashes) in &sublogs {
            expected.insert(province, hashes.len() as u64, simpul_ledger::root(hashes));
        }
        assert_eq!(sublogs.len(), 2);
        assert_eq!(latest.sublogs, expected.table());
        assert_eq!(checkpoint.extensions, vec![expected.extension_line()]);
        assert_eq!(checkpoint.size, size as u64);
        assert_eq!(checkpoint.origin, "simpul.test/ledger");
        assert_eq!(
            checkpoint.root,
            query::head(&db.database, size as u64).await.unwrap()
        );
        // No new leaf: no new checkpoint.
        assert_eq!(checkpointer.cut().await.unwrap(), None);

        // A policy of every 3 events cuts once 3 more have come, from where it left off.
        let key = simpul_ledger::LedgerKey::from_seed("simpul.test/ledger", &[9; 32]).unwrap();
        let mut every3 =
            Checkpointer::new(db.database.clone(), key, "simpul.test/ledger", policy(3))
                .await
                .unwrap();
        assert_eq!(every3.tick().await.unwrap(), None);
        some_history(&db, 1).await;
        let grown = read_feed(&db.store(), 0, size + 6).await.len();
        catch_up(&runner, grown).await;
        assert_eq!(every3.tick().await.unwrap(), Some(grown as u64));
        let note = query::latest_checkpoint(&db.database)
            .await
            .unwrap()
            .unwrap()
            .note;
        let checkpoint = verifier.open(&note).unwrap();
        assert_eq!(
            checkpoint.root,
            query::head(&db.database, grown as u64).await.unwrap()
        );
        let leaves: Vec<[u8; 32]> = query::leaves(&db.database, 0, u64::MAX)
            .await
            .unwrap()
            .iter()
            .map(|leaf| leaf.hash)
            .collect();
        // The new head extends the old one.
        let proof = simpul_ledger::consistency_proof(&leaves, size, grown).unwrap();
        simpul_ledger::verify_consistency(
            size as u64,
            grown as u64,
            &simpul_ledger::root(&leaves[..size]),
            &checkpoint.root,
            &proof,
        )
        .unwrap();
    }
);

#[tokio::test]
async fn the_latest_checkpoint_is_served_to_auditors_and_admins_only() {
    let server = crate::server::TestServer::spawn(simpul_store::Backend::Sqlite).await;
    let admin = server.token("admin", "national").await;
    let auditor = server.token("auditor", "34").await;
    let regency = server.token("regency", "34.04").await;
    assert_eq!(server.get("/ledger/checkpoint", &auditor).await.status, 404);

    let formed = server
        .post(
            "/communities",
            &regency,
            crate::server::form_body(SLEMAN_DESA, 12),
        )
        .await;
    assert_eq!(formed.status, 201);
    let database = server.database();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while query::size(&database).await.unwrap() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the ledger did not follow"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let key = simpul_ledger::LedgerKey::from_seed("simpul.test/ledger", &[3; 32]).unwrap();
    let verifier = key.verifier();
    let mut checkpointer =
        simpul_app::ledger::Checkpointer::new(database, key, "simpul.test/ledger", policy(1))
            .await
            .unwrap();
    assert_eq!(checkpointer.tick().await.unwrap(), Some(1));

    for token in [&admin, &auditor] {
        let reply = server.get("/ledger/checkpoint", token).await;
        assert_eq!(reply.status, 200);
        assert!(reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let note = reply.body.as_str().unwrap();
        assert_eq!(verifier.open(note).unwrap().size, 1);
    }
    let refused = server.get("/ledger/checkpoint", &regency).await;
    assert_eq!(refused.status, 403);
    assert!(refused.is_problem());
}

/// Waits until the server's ledger holds `size` leaves.
async fn ledger_reaches(database: &simpul_store::Database, size: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while query::size(database).await.unwrap() < size {
        assert!(
            std::time::Instant::now() < deadline,
            "the ledger did not follow"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn base64_hash(value: &serde_json::Value) -> [u8; 32] {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap();
    bytes.try_into().unwrap()
}

fn hashes(value: &serde_json::Value) -> Vec<[u8; 32]> {
    value.as_array().unwrap().iter().map(base64_hash).collect()
}

#[tokio::test]
async fn checkpoints_and_proofs_are_served_within_the_auditors_scope() {
    for backend in [
        simpul_store::Backend::Postgres,
        simpul_store::Backend::Sqlite,
    ] {
        let server = crate::server::TestServer::spawn(backend).await;
        let admin = server.token("admin", "national").await;
        let national = server.token("auditor", "national").await;
        let yogya = server.token("auditor", "34").await;
        let sleman = server.token("auditor", "34.04").await;
        let regency = server.token("regency", "34.04").await;
        let database = server.database();
        let key = simpul_ledger::LedgerKey::from_seed("simpul.test/ledger", &[3; 32]).unwrap();
        let verifier = key.verifier();
        let mut checkpointer = simpul_app::ledger::Checkpointer::new(
            database.clone(),
            key,
            "simpul.test/ledger",
            policy(1),
        )
        .await
        .unwrap();

        // One KIM in Sleman (34), one in Aceh (11); a checkpoint; one more in Sleman; another.
        let body = crate::server::form_body(SLEMAN_DESA, 12);
        let first = server.post("/communities", &regency, body.clone()).await;
        assert_eq!(first.status, 201);
        let first = first.body["id"].as_str().unwrap().to_owned();
        let aceh = crate::server::form_body(ACEH_DESA, 12);
        assert_eq!(server.post("/communities", &admin, aceh).await.status, 201);
        ledger_reaches(&database, 2).await;
        assert_eq!(checkpointer.tick().await.unwrap(), Some(2));
        assert_eq!(
            server.post("/communities", &regency, body).await.status,
            201
        );
        ledger_reaches(&database, 3).await;
        assert_eq!(checkpointer.tick().await.unwrap(), Some(3));

        // The history and the audit trail show each event's ledger index.
        let leaves = query::leaves(&database, 0, 3).await.unwrap();
        let index_of = |position: u64| {
            leaves
                .iter()
                .find(|leaf| leaf.position == position)
                .map(|leaf| leaf.index)
                .unwrap()
        };
        let history = server
            .get(&format!("/communities/{first}/events"), &sleman)
            .await;
        assert_eq!(history.status, 200);
        let entry = &history.body.as_array().unwrap()[0];
        assert_eq!(
            entry["ledger_index"].as_u64(),
            Some(index_of(entry["position"].as_u64().unwrap()))
        );
        let audit = server.get("/audit", &admin).await;
        let rows = audit.body["items"].as_array().unwrap();
        assert_eq!(rows.len(), 3);
        for row in rows {
            assert_eq!(
                row["ledger_index"].as_u64(),
                Some(index_of(row["position"].as_u64().unwrap()))
            );
        }

        // Every auditor lists the checkpoints; each note verifies and commits to its table.
        let listed = server.get("/ledger/checkpoints", &sleman).await;
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        let items = listed.body["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 2);
        assert_eq!(listed.body["next_from"], serde_json::Value::Null);
        let mut heads = Vec::new();
        for item in &items {
            let checkpoint = verifier.open(item["note"].as_str().unwrap()).unwrap();
            assert_eq!(checkpoint.size, item["size"].as_u64().unwrap());
            assert_eq!(checkpoint.root, base64_hash(&item["root"]));
            let table = simpul_ledger::SubLogs::parse(item["sublogs"].as_str().unwrap()).unwrap();
            assert!(table.is_committed_by(&checkpoint.extensions));
            heads.push((checkpoint, table));
        }
        let later = server.get("/ledger/checkpoints?from=3", &national).await;
        assert_eq!(later.body["items"].as_array().unwrap().len(), 1);
        let (latest, table) = &heads[1];
        assert_eq!(table.get("34").unwrap().0, 2);
        assert_eq!(table.get("11").unwrap().0, 1);

        // Global inclusion: every leaf of the latest checkpoint, for a national scope.
        for token in [&admin, &national] {
            for index in 0..3u64 {
                let proof = server
                    .get(
                        &format!("/ledger/proofs/inclusion?index={index}&size=3"),
                        token,
                    )
                    .await;
                assert_eq!(proof.status, 200, "{:?}", proof.body);
                simpul_ledger::verify_inclusion(
                    &base64_hash(&proof.body["leaf_hash"]),
                    index,
                    3,
                    &hashes(&proof.body["path"]),
                    &latest.root,
                )
                .unwrap();
            }
        }
        // A regional auditor: its province's sub-log, not the global tree nor another province.
        for token in [&yogya, &sleman] {
            assert_eq!(
                server
                    .get("/ledger/proofs/inclusion?index=0&size=3", token)
                    .await
                    .status,
                403
            );
            assert_eq!(
                server
                    .get("/ledger/proofs/inclusion?index=0&size=1&province=11", token)
                    .await
                    .status,
                403
            );
            let (size, head) = table.get("34").unwrap();
            for index in 0..size {
                let proof = server
                    .get(
                        &format!("/ledger/proofs/inclusion?index={index}&size={size}&province=34"),
                        token,
                    )
                    .await;
                assert_eq!(proof.status, 200, "{:?}", proof.body);
                simpul_ledger::verify_inclusion(
                    &base64_hash(&proof.body["leaf_hash"]),
                    index,
                    size,
                    &hashes(&proof.body["path"]),
                    &head,
                )
                .unwrap();
            }
            let consistent = server
                .get("/ledger/proofs/consistency?from=1&to=2&province=34", token)
                .await;
            assert_eq!(consistent.status, 200);
        }
        // The later checkpoint extends the earlier one.
        let proof = server
            .get("/ledger/proofs/consistency?from=2&to=3", &admin)
            .await;
        assert_eq!(proof.status, 200, "{:?}", proof.body);
        simpul_ledger::verify_consistency(
            2,
            3,
            &heads[0].0.root,
            &latest.root,
            &hashes(&proof.body["path"]),
        )
        .unwrap();

        // Bad requests name their field; a role without the ledger is refused.
        for (path, field) in [
            ("/ledger/proofs/inclusion?index=3&size=3", "index"),
            ("/ledger/proofs/inclusion?index=0&size=9", "size"),
            (
                "/ledger/proofs/inclusion?index=0&size=1&province=3x",
                "province",
            ),
            (
                "/ledger/proofs/inclusion?index=0&size=1&province=34.04",
                "province",
            ),
            ("/ledger/proofs/consistency?from=3&to=2", "from"),
            ("/ledger/proofs/consistency?from=0&to=2", "from"),
            ("/ledger/proofs/consistency?from=1&to=7", "to"),
            ("/ledger/checkpoints?from=5&to=4", "from"),
            ("/ledger/proofs/inclusion?size=3", "index"),
            ("/ledger/proofs/consistency?from=1", "to"),
        ] {
            let refused = server.get(path, &admin).await;
            assert_eq!(refused.status, 400, "{path}: {:?}", refused.body);
            assert!(refused.is_problem());
            assert_eq!(refused.body["field"], field, "{path}");
        }
        assert_eq!(
            server.get("/ledger/checkpoints", &regency).await.status,
            403
        );
    }
}

#[tokio::test]
async fn a_kim_reads_as_it_stood_at_a_time_or_a_ledger_index() {
    for backend in [
        simpul_store::Backend::Postgres,
        simpul_store::Backend::Sqlite,
    ] {
        let server = crate::server::TestServer::spawn(backend).await;
        let regency = server.token("regency", "34.04").await;
        let auditor = server.token("auditor", "34").await;
        let formed = server
            .post(
                "/communities",
                &regency,
                crate::server::form_body(SLEMAN_DESA, 12),
            )
            .await;
        assert_eq!(formed.status, 201);
        let id = formed.body["id"].as_str().unwrap().to_owned();
        let pegiat = server.token("pegiat", &id).await;
        for members in [20, 25] {
            let reply = server
                .call(
                    reqwest::Method::PUT,
                    &format!("/api/v1/communities/{id}/members"),
                    Some(&pegiat),
                    Some(
                        serde_json::json!({"member_count": members, "effective_on": "2025-09-01"}),
                    ),
                    &[],
                )
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
        ledger_reaches(&server.database(), 3).await;
        let history = server
            .get(&format!("/communities/{id}/events"), &auditor)
            .await;
        let entries = history.body.as_array().unwrap().clone();
        assert_eq!(entries.len(), 3);
        let index = |i: usize| entries[i]["ledger_index"].as_u64().unwrap();

        // At a ledger index: the state after that event, stamped with it.
        let then = server
            .get(
                &format!("/communities/{id}?at_index={}", index(1)),
                &auditor,
            )
            .await;
        assert_eq!(then.status, 200, "{:?}", then.body);
        assert_eq!(then.body["member_count"], 20);
        assert_eq!(then.body["version"], 2);
        assert_eq!(then.body["as_of"]["ledger_index"].as_u64(), Some(index(1)));
        // At the time the first event was recorded: the KIM as formed.
        let first_time = entries[0]["recorded_at"].as_str().unwrap();
        let then = server
            .get(
                &format!("/communities/{id}?as_of={}", first_time.replace('+', "%2B")),
                &auditor,
            )
            .await;
        assert_eq!(then.status, 200, "{:?}", then.body);
        assert_eq!(then.body["member_count"], 12);
        assert_eq!(then.body["as_of"]["recorded_at"], entries[0]["recorded_at"]);
        // A date: to the end of that day. Tomorrow sees everything; long ago, nothing (404).
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
        let now = server
            .get(&format!("/communities/{id}?as_of={tomorrow}"), &auditor)
            .await;
        assert_eq!(now.body["member_count"], 25);
        assert_eq!(now.body["as_of"]["ledger_index"].as_u64(), Some(index(2)));
        let before = server
            .get(&format!("/communities/{id}?as_of=2000-01-01"), &auditor)
            .await;
        assert_eq!(before.status, 404);
        // Without a moment, no stamp: the current state as before.
        let current = server.get(&format!("/communities/{id}"), &auditor).await;
        assert!(current.body.get("as_of").is_none());
        // The history up to a ledger index.
        let upto = server
            .get(
                &format!("/communities/{id}/events?at_index={}", index(0)),
                &auditor,
            )
            .await;
        assert_eq!(upto.body.as_array().unwrap().len(), 1);
        // Bad moments name their field.
        for (query, field) in [
            ("as_of=31-12-2024", "as_of"),
            ("as_of=2024-12-31&at_index=1", "at_index"),
            ("at_index=9223372036854775808", "at_index"),
        ] {
            let refused = server
                .get(&format!("/communities/{id}?{query}"), &auditor)
                .await;
            assert_eq!(refused.status, 400, "{query}");
            assert_eq!(refused.body["field"], field, "{query}");
        }
    }
}

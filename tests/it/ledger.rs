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

async fn some_history(db: &TestDb, kim: usize) {
    let executor = db.executor();
    let keys = db.keys();
    for _ in 0..kim {
        let id = legal_ready(&executor, &keys, SLEMAN_DESA).await;
        let (_, command) = activity(ActivityKind::Dissemination);
        executor
            .execute(&id, command, &context(ActorRole::Pegiat))
            .await
            .unwrap();
    }
}

/// Checks the ledger against the feed: dense indexes, the feed's order, each event's leaf, and
/// the tree head over them.
async fn check_against_feed(db: &TestDb) -> Vec<query::Leaf> {
    let store = db.store();
    let size = query::size(&db.database).await.unwrap();
    let feed = read_feed(&store, 0, size as usize).await;
    let leaves = query::leaves(&db.database, 0, u64::MAX).await.unwrap();
    assert_eq!(leaves.len(), feed.len(), "one leaf per event");
    for (i, (leaf, event)) in leaves.iter().zip(&feed).enumerate() {
        assert_eq!(leaf.index, i as u64, "dense from 0");
        assert_eq!(leaf.position, event.position, "leaf {i} in feed order");
        assert_eq!(
            leaf.hash,
            independent_leaf(event),
            "leaf {i} of {}",
            event.position
        );
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
        let (latest, note) = query::latest_checkpoint(&db.database)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest, size as u64);
        let checkpoint = verifier.open(&note).expect("signed by the ledger key");
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
        let (_, note) = query::latest_checkpoint(&db.database)
            .await
            .unwrap()
            .unwrap();
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

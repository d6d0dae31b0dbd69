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

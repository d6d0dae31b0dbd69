//! The global feed: commit order, late commits, no skips, no repeats.

use std::collections::HashSet;

use simpul_domain::events::ActivityKind;
use simpul_domain::ActorRole;
use simpul_store::Database;

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    feed_returns_every_event_once_in_order,
    |db: TestDb| async move {
        let executor = db.executor();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let id = uuid::Uuid::new_v4().to_string();
            executor
                .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
                .await
                .unwrap();
            for _ in 0..4 {
                let (_, command) = activity(ActivityKind::Dissemination);
                executor
                    .execute(&id, command, &context(ActorRole::Pegiat))
                    .await
                    .unwrap();
            }
            ids.push(id);
        }
        let feed = read_feed(&db.store(), 0, 15).await;
        assert_eq!(feed.len(), 15);
        let positions: HashSet<u64> = feed.iter().map(|e| e.position).collect();
        assert_eq!(positions.len(), 15, "a position repeated");
        // Per community, the feed keeps sequence order.
        for id in &ids {
            let sequences: Vec<u64> = feed
                .iter()
                .filter(|e| &e.aggregate_id == id)
                .map(|e| e.sequence)
                .collect();
            assert_eq!(sequences, vec![1, 2, 3, 4, 5]);
        }
        // Resuming from the middle gives exactly the rest.
        let rest = read_feed(&db.store(), feed[6].position, 8).await;
        assert_eq!(rest, feed[7..].to_vec());
        // Metadata says who, role, request and edition (R11).
        let first = &feed[0].metadata;
        assert_eq!(first["actor_role"], "regency");
        assert!(first["request_id"].starts_with("req-"));
        assert_eq!(first["region_edition"], simpul_regions::EDITION);
        assert!(first.contains_key("recorded_at"));
    }
);

/// A transaction takes its position, stays open while later ones commit, then commits: the
/// reader must not return the later events before it (that would skip it) nor twice after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_late_commit_is_neither_skipped_nor_repeated() {
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = &db.database else {
        unreachable!()
    };
    let executor = db.executor();
    let store = db.store();
    let early = uuid::Uuid::new_v4().to_string();
    executor
        .execute(&early, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
        .await
        .unwrap();
    let before = read_feed(&store, 0, 1).await;
    assert_eq!(before.len(), 1);

    // The late writer: BEGIN, insert one event (taking a position), and hold it open.
    let mut late = pool.begin().await.unwrap();
    let late_position: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('Community', 'late-writer', 1, 'ActivityRecorded', '1.0', '{}', '{\"actor_id\":\"late\"}')
         RETURNING position",
    )
    .fetch_one(&mut *late)
    .await
    .unwrap();

    // Later writers commit while it is open.
    let later = uuid::Uuid::new_v4().to_string();
    executor
        .execute(&later, form(SLEMAN_DESA, 11), &context(ActorRole::Regency))
        .await
        .unwrap();
    let (_, command) = activity(ActivityKind::Networking);
    executor
        .execute(&later, command, &context(ActorRole::Pegiat))
        .await
        .unwrap();
    let later_positions: Vec<u64> = store
        .stream(&later)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert!(later_positions.iter().all(|p| *p > late_position as u64));

    // While it is open, the reader holds back everything after it.
    let cursor = before[0].position;
    let during = store.read_all(cursor, 100).await.unwrap();
    assert!(
        during.is_empty(),
        "the feed ran past an open transaction: {:?}",
        during.iter().map(|e| e.position).collect::<Vec<_>>()
    );

    late.commit().await.unwrap();
    let after = read_feed(&store, cursor, 3).await;
    let positions: Vec<u64> = after.iter().map(|e| e.position).collect();
    assert_eq!(positions.len(), 3, "{positions:?}");
    assert_eq!(
        positions[0], late_position as u64,
        "late event must come first"
    );
    assert_eq!(&positions[1..], &later_positions[..]);
    // Reading again from the end gives nothing: no repeats.
    assert!(store.read_all(positions[2], 100).await.unwrap().is_empty());
}

/// SQLite has one writer: a writer that holds the write lock makes the others wait their turn
/// (no SQLITE_BUSY), and the feed's order is the commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_wait_their_turn_and_the_feed_follows_commit_order() {
    let db = TestDb::new(simpul_store::Backend::Sqlite).await;
    let Database::Sqlite { writer, .. } = &db.database else {
        unreachable!()
    };
    let executor = std::sync::Arc::new(db.executor());
    let first = uuid::Uuid::new_v4().to_string();
    executor
        .execute(&first, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
        .await
        .unwrap();

    // Hold the single writer connection inside an open transaction.
    let mut held = writer.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position)
         VALUES ('Community', 'held-writer', 1, 'ActivityRecorded', '1.0', '{}', '{}',
                 (SELECT COALESCE(MAX(position), 0) + 1 FROM events))",
    )
    .execute(&mut *held)
    .await
    .unwrap();

    let waiting = {
        let executor = executor.clone();
        tokio::spawn(async move {
            let id = uuid::Uuid::new_v4().to_string();
            executor
                .execute(&id, form(SLEMAN_DESA, 12), &context(ActorRole::Regency))
                .await
                .map(|outcome| (id, outcome))
        })
    };
    // The waiting writer cannot finish while the lock is held.
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    held.commit().await.unwrap();
    let (second, outcome) = waiting.await.unwrap().expect("the waiting writer succeeds");

    let feed = read_feed(&db.store(), 0, 3).await;
    let ids: Vec<&str> = feed.iter().map(|e| e.aggregate_id.as_str()).collect();
    assert_eq!(ids, vec![first.as_str(), "held-writer", second.as_str()]);
    assert_eq!(outcome.position, feed[2].position);
    let positions: Vec<u64> = feed.iter().map(|e| e.position).collect();
    assert_eq!(positions, vec![1, 2, 3]);
}

/// A writer with the *higher* transaction id and the *lower* position, committing after one with
/// a lower transaction id and a higher position: the feed gives the latter first and then the
/// former — a reader of `position > after ORDER BY position` would skip it — and a read model
/// that has applied the latter has not yet "reached" the former, although its number is lower.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_lower_position_committed_later_is_neither_skipped_nor_reached_early() {
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = &db.database else {
        unreachable!()
    };
    let store = db.store();
    let early = uuid::Uuid::new_v4().to_string();
    db.executor()
        .execute(&early, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
        .await
        .unwrap();
    let cursor = read_feed(&store, 0, 1).await[0].position;
    // A copy of the early formation under another id: an event every read model can apply.
    const COPY: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                            event_version, payload, metadata)
        SELECT aggregate_type, $2, 1, event_type, event_version, payload, metadata
          FROM events WHERE aggregate_id = $1 AND sequence = 1
        RETURNING position";

    // B takes its transaction id first; A then takes a higher one and the lower position; B
    // takes the higher position and commits first.
    let mut b = pool.begin().await.unwrap();
    let b_txid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *b)
        .await
        .unwrap();
    let mut a = pool.begin().await.unwrap();
    let a_position: i64 = sqlx::query_scalar(COPY)
        .bind(&early)
        .bind(uuid::Uuid::new_v4().to_string())
        .fetch_one(&mut *a)
        .await
        .unwrap();
    let a_txid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *a)
        .await
        .unwrap();
    let b_position: i64 = sqlx::query_scalar(COPY)
        .bind(&early)
        .bind(uuid::Uuid::new_v4().to_string())
        .fetch_one(&mut *b)
        .await
        .unwrap();
    b.commit().await.unwrap();
    assert!(a_position < b_position);
    assert!(a_txid.parse::<u64>().unwrap() > b_txid.parse::<u64>().unwrap());

    // B is final (its transaction is below A's): the feed gives it; A is held back. (Other
    // tests' transactions on the same cluster may hold B back for a moment too: read until it
    // comes.)
    let positions = |events: Vec<simpul_store::StoredEvent>| -> Vec<u64> {
        events.iter().map(|e| e.position).collect()
    };
    let during = positions(read_feed(&store, cursor, 1).await);
    assert_eq!(during, [b_position as u64]);
    let runner = simpul_projections::Runner::new(store.clone());
    let regions = simpul_regions::bundled().unwrap();
    let summary = simpul_projections::all(regions)
        .into_iter()
        .find(|p| p.name() == "community_summary")
        .unwrap();
    let reached = |position: i64| {
        let store = store.clone();
        async move {
            simpul_projections::has_reached(&store, "community_summary", position as u64)
                .await
                .unwrap()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !reached(b_position).await {
        runner.catch_up(summary.as_ref()).await.unwrap();
        assert!(std::time::Instant::now() < deadline, "B never applied");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // A commits: after B comes A, though its position is lower; and the read model, at B, has
    // not reached A until it applies it.
    a.commit().await.unwrap();
    let after = positions(read_feed(&store, b_position as u64, 1).await);
    assert_eq!(
        after,
        [a_position as u64],
        "the late, lower position comes after"
    );
    assert!(!reached(a_position).await, "reached before it was applied");
    while !reached(a_position).await {
        runner.catch_up(summary.as_ref()).await.unwrap();
        assert!(std::time::Instant::now() < deadline, "A never applied");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(store
        .read_all(a_position as u64, 100)
        .await
        .unwrap()
        .is_empty());
}

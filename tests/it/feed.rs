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
/// reader gives the later ones at once (an open transaction holds no reader back) and the late
/// one after them once it commits — never skipped, never twice.
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

    // While it is open, the reader gives what committed and nothing of it: it is not final.
    let cursor = before[0].position;
    let during = read_feed(&store, cursor, 2).await;
    let during: Vec<u64> = during.iter().map(|e| e.position).collect();
    assert_eq!(
        during, later_positions,
        "the committed writers are not held back"
    );

    // It commits: it comes after them, although its position is lower; nothing is repeated.
    late.commit().await.unwrap();
    let last_seen = during[during.len() - 1];
    let after = read_feed(&store, last_seen, 1).await;
    let positions: Vec<u64> = after.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        [late_position as u64],
        "the late event comes once, after what was read before it committed"
    );
    assert!(store.read_all(positions[0], 100).await.unwrap().is_empty());
    let whole: Vec<u64> = read_feed(&store, cursor, 3)
        .await
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(whole, [later_positions.clone(), positions].concat());
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

    // B committed: the feed gives it; A, still open, is not in the feed yet.
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

/// Readers wait for no open transaction (issue 13): not one in another database of the cluster
/// (PostgreSQL's xmin horizon is cluster-wide), not one holding a transaction id in this database
/// without writing events (a rebuild's `CREATE INDEX`), not an open import that has written
/// events. A command's event is in the feed, and a read model has reached it, as soon as it is
/// committed — asked once, no waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_open_transactions_anywhere_hold_no_reader_back() {
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let elsewhere = TestDb::new(simpul_store::Backend::Postgres).await;
    let (Database::Postgres(pool), Database::Postgres(other_pool)) =
        (&db.database, &elsewhere.database)
    else {
        unreachable!()
    };
    let store = db.store();
    let executor = db.executor();
    let first = uuid::Uuid::new_v4().to_string();
    executor
        .execute(&first, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
        .await
        .unwrap();
    let cursor = read_feed(&store, 0, 1).await[0].position;

    // Another database's long transaction.
    let mut other = other_pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *other)
        .await
        .unwrap();
    // A transaction here that holds an id and builds an index, as a rebuild does.
    let mut index_builder = pool.begin().await.unwrap();
    for statement in [
        "CREATE TABLE scratch_index_build (n int)",
        "CREATE INDEX ON scratch_index_build (n)",
    ] {
        sqlx::query(statement)
            .execute(&mut *index_builder)
            .await
            .unwrap();
    }
    // An import that has written its events and not committed.
    let mut import = pool.begin().await.unwrap();
    let imported: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata)
         SELECT aggregate_type, $2, 1, event_type, event_version, payload, metadata
           FROM events WHERE aggregate_id = $1 AND sequence = 1
         RETURNING position",
    )
    .bind(&first)
    .bind(uuid::Uuid::new_v4().to_string())
    .fetch_one(&mut *import)
    .await
    .unwrap();

    let (_, command) = activity(ActivityKind::Networking);
    let written = executor
        .execute(&first, command, &context(ActorRole::Pegiat))
        .await
        .unwrap();
    let feed: Vec<u64> = store
        .read_all(cursor, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(
        feed,
        [written.position],
        "the committed event is in the feed at once"
    );
    let runner = simpul_projections::Runner::new(store.clone());
    let summary = simpul_projections::all(simpul_regions::bundled().unwrap())
        .into_iter()
        .find(|p| p.name() == "community_summary")
        .unwrap();
    runner.catch_up(summary.as_ref()).await.unwrap();
    assert!(
        simpul_projections::has_reached(&store, "community_summary", written.position)
            .await
            .unwrap(),
        "read-your-writes answers at once"
    );

    // The import commits: its event comes after, once.
    import.commit().await.unwrap();
    let feed: Vec<u64> = store
        .read_all(written.position, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(feed, [imported as u64]);
    index_builder.rollback().await.unwrap();
    other.rollback().await.unwrap();
}

/// A database from before the feed's commit order (migration `…80_feed_commits`): the migration
/// keeps the order the feed served until then, (txid, position), so a checkpoint taken before
/// it resumes at the same place — here a checkpoint at B, whose transaction began before A's
/// but whose position is higher; A must still come next, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_the_commit_order_migration_keeps_the_order_already_served() {
    const FEED_COMMITS: i64 = 20261209000080;
    let server = test_server_url();
    let name = format!("simpul_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = replace_database(&server, &name);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for migration in simpul_store::POSTGRES_MIGRATOR.iter() {
        if migration.version < FEED_COMMITS {
            sqlx::raw_sql(&migration.sql).execute(&pool).await.unwrap();
        }
    }
    let insert = |id: &'static str| sqlx::query_scalar::<_, i64>(INSERT_ACTIVITY).bind(id);
    let first = insert("first").fetch_one(&pool).await.unwrap();
    let mut b = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *b)
        .await
        .unwrap();
    let mut a = pool.begin().await.unwrap();
    let a_position = insert("a").fetch_one(&mut *a).await.unwrap();
    let b_position = insert("b").fetch_one(&mut *b).await.unwrap();
    b.commit().await.unwrap();
    a.commit().await.unwrap();
    let last = insert("last").fetch_one(&pool).await.unwrap();
    let served_before: Vec<i64> =
        sqlx::query_scalar("SELECT position FROM events ORDER BY txid, position")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(served_before, [first, b_position, a_position, last]);

    let migration = simpul_store::POSTGRES_MIGRATOR
        .iter()
        .find(|m| m.version == FEED_COMMITS)
        .unwrap();
    sqlx::raw_sql(&migration.sql).execute(&pool).await.unwrap();
    pool.close().await;
    let database = Database::connect(&simpul_store::DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    let store = simpul_store::EventStore::new(database.clone());
    let feed: Vec<i64> = read_feed(&store, 0, 4)
        .await
        .iter()
        .map(|e| e.position as i64)
        .collect();
    assert_eq!(feed, served_before, "the order served before the migration");
    let resumed: Vec<i64> = read_feed(&store, b_position as u64, 2)
        .await
        .iter()
        .map(|e| e.position as i64)
        .collect();
    assert_eq!(
        resumed,
        [a_position, last],
        "a checkpoint at B resumes with A"
    );
    // New commits come after every migrated one.
    let Database::Postgres(pool) = &database else {
        unreachable!()
    };
    let new = insert("new").fetch_one(pool).await.unwrap();
    let after: Vec<i64> = read_feed(&store, last as u64, 1)
        .await
        .iter()
        .map(|e| e.position as i64)
        .collect();
    assert_eq!(after, [new]);
    database.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}

/// A raw event row (PostgreSQL): the feed's tests write the events table directly.
const INSERT_ACTIVITY: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence,
        event_type, event_version, payload, metadata)
    VALUES ('Community', $1, 1, 'ActivityRecorded', '1.0', '{}', '{}') RETURNING position";

/// A transaction that has written an event of `id`, drawn its commit number (its commit trigger
/// fired early, `SET CONSTRAINTS ALL IMMEDIATE`) and stays open, holding the feed's commit lock
/// shared: (the transaction, the event's position).
async fn open_commit(
    pool: &sqlx::PgPool,
    id: &str,
) -> (sqlx::Transaction<'static, sqlx::Postgres>, i64) {
    let mut tx = pool.begin().await.unwrap();
    let position: i64 = sqlx::query_scalar(INSERT_ACTIVITY)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SET CONSTRAINTS ALL IMMEDIATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    (tx, position)
}

/// Requests for the feed's commit lock (3, 0) in this database not granted yet.
async fn commit_lock_waiters(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
            AND classid = 3 AND objid = 0 AND database =
                (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The reader's horizon (migration `…80_feed_commits`): a transaction that has drawn its commit
/// number but is not visible yet (here its commit trigger fired early, `SET CONSTRAINTS ALL
/// IMMEDIATE`, and it stays open) must not be overtaken by a later commit with a higher number.
/// The read waits for it — on the feed's commit lock, seen in `pg_locks` — and then gives both,
/// in commit-number order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_reader_waits_for_a_commit_under_way_and_never_overtakes_it() {
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = &db.database else {
        unreachable!()
    };
    let store = db.store();
    let first: i64 = sqlx::query_scalar(INSERT_ACTIVITY)
        .bind("first")
        .fetch_one(pool)
        .await
        .unwrap();
    let cursor = read_feed(&store, 0, 1).await[0].position;
    assert_eq!(cursor, first as u64);

    // X draws its commit number and stays open, holding the commit lock shared.
    let (x, x_position) = open_commit(pool, "x").await;
    // Y commits after it, with the next number.
    let y_position: i64 = sqlx::query_scalar(INSERT_ACTIVITY)
        .bind("y")
        .fetch_one(pool)
        .await
        .unwrap();
    let seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT c.seq FROM events e JOIN feed_commits c ON c.batch = e.commit_batch
          WHERE e.position = $1",
    )
    .bind(y_position)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(seqs.len(), 1, "Y is committed");

    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.read_all(cursor, 100).await })
    };
    // The read waits on the commit lock: a request for (3, 0) not granted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if commit_lock_waiters(pool).await > 0 {
            break;
        }
        assert!(!reader.is_finished(), "the read did not wait for X");
        assert!(
            std::time::Instant::now() < deadline,
            "the read never asked for the lock"
        );
        tokio::task::yield_now().await;
    }
    assert!(!reader.is_finished());
    x.commit().await.unwrap();
    let read: Vec<i64> = reader
        .await
        .unwrap()
        .unwrap()
        .iter()
        .map(|e| e.position as i64)
        .collect();
    assert_eq!(
        read,
        [x_position, y_position],
        "X, then Y: nothing overtaken"
    );
}

/// Every page of a big commit (an import's) is read by an index range from where the last page
/// stopped: no page walks the log from its start and filters by commit. The feed's query
/// bounded a commit's rows by `commit_batch = …`, and on the ledger benchmark's data (50,000 +
/// 450,000 events) the planner answered with a scan of the position index from the first event,
/// throwing away every row of the commits before (`docs/benchmarks.md`, the feed's page fix).
/// Rows as wide as real events' (payloads of a few hundred bytes) are what make the planner
/// prefer that scan: with them, the old query threw away 35,000 rows for a page here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_page_of_a_big_commit_reads_only_its_own_rows() {
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = &db.database else {
        unreachable!()
    };
    let insert = |first: i64, count: i64| {
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'Community', 'bulk-' || c, 1, 'ActivityRecorded', '1.0',
                    json_build_object('title', repeat('x', 400)), '{\"actor_id\":\"bulk\"}'
               FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) AS c",
        )
        .bind(first)
        .bind(count)
    };
    insert(0, 20_000).execute(pool).await.unwrap();
    insert(20_000, 30_000).execute(pool).await.unwrap();
    sqlx::query("ANALYZE events").execute(pool).await.unwrap();
    let horizon: i64 = sqlx::query_scalar("SELECT simpul_feed_horizon()")
        .fetch_one(pool)
        .await
        .unwrap();
    let positions: Vec<i64> = sqlx::query_scalar("SELECT position FROM events ORDER BY position")
        .fetch_all(pool)
        .await
        .unwrap();
    let sql = include_str!("../../crates/simpul-store/src/sql/postgres/read_all.sql");
    // Resume in the first commit, at the start of the second and in the middle of it.
    for after in [positions[10_000], positions[19_999], positions[35_000]] {
        let explain = format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}");
        let plan: serde_json::Value = sqlx::query_scalar(&explain)
            .bind(after)
            .bind(1000_i64)
            .bind(horizon)
            .fetch_one(pool)
            .await
            .unwrap();
        let mut removed = 0;
        let mut nodes = vec![&plan[0]["Plan"]];
        while let Some(node) = nodes.pop() {
            removed += node["Rows Removed by Filter"].as_i64().unwrap_or(0);
            nodes.extend(node["Plans"].as_array().into_iter().flatten());
        }
        assert_eq!(
            removed, 0,
            "a page after position {after} threw away {removed} rows: {plan:#}"
        );
        let page = db
            .store()
            .read_all(u64::try_from(after).unwrap(), 1000)
            .await
            .unwrap();
        assert_eq!(page.len(), 1000);
        assert_eq!(page[0].position, u64::try_from(after).unwrap() + 1);
    }
}

/// Readers of one store asking for the feed's horizon at the same moment share PostgreSQL's
/// answer (`crates/simpul-store/src/horizon.rs`): each call takes the commit lock exclusively and
/// makes the writers committing meanwhile wait, so a server whose read models all wake after a
/// commit must not take it once per read model. Here X holds the commit lock; a first reader's
/// call waits for it; seven more readers ask meanwhile. When X commits, the first call returns
/// and one more call (started after the seven asked) serves all seven: 8 readers, 2 calls, and
/// every reader sees X. Before the change every reader made its own call (8).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_readers_asking_at_once_share_one_horizon_call() {
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = &db.database else {
        unreachable!()
    };
    let store = db.store();
    sqlx::query_scalar::<_, i64>(INSERT_ACTIVITY)
        .bind("first")
        .fetch_one(pool)
        .await
        .unwrap();
    let cursor = read_feed(&store, 0, 1).await[0].position;
    let (asked, calls) = store.horizon_counts();
    assert_eq!(asked, calls, "one reader at a time: a call each");
    let counts = |store: &simpul_store::EventStore| {
        let (a, c) = store.horizon_counts();
        (a - asked, c - calls)
    };

    // X draws its commit number and stays open, holding the commit lock shared.
    let (x, x_position) = open_commit(pool, "x").await;

    let read = |store: simpul_store::EventStore| {
        tokio::spawn(async move { store.read_all(cursor, 100).await })
    };
    let mut readers = vec![read(store.clone())];
    // The first reader's call waits on the commit lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if commit_lock_waiters(pool).await == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the read never asked for the lock"
        );
        tokio::task::yield_now().await;
    }
    readers.extend((0..7).map(|_| read(store.clone())));
    // All eight have asked; only the first call is under way.
    while counts(&store).0 < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "the readers never asked"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(
        counts(&store),
        (8, 1),
        "one call under way for eight readers"
    );
    x.commit().await.unwrap();
    for reader in readers {
        let read: Vec<i64> = reader
            .await
            .unwrap()
            .unwrap()
            .iter()
            .map(|e| e.position as i64)
            .collect();
        assert_eq!(read, [x_position], "every reader sees X");
    }
    assert_eq!(counts(&store), (8, 2), "8 readers, 2 calls");
}

//! Backup and restore (issue 13): the feed's commit order survives `pg_dump` / `pg_restore` into
//! a **new** PostgreSQL cluster — one whose transaction counter knows nothing of the old one's.
//!
//! Events are written on the test server (with a transaction that takes its position early and
//! commits late, so that commit order is not position order), the read models and the ledger
//! caught up; the database is dumped (`pg_dump -Fc`), a fresh cluster is made with `initdb` on a
//! spare port and the dump restored into it (`pg_restore`, as `docs/operations.md` says). Then:
//! the feed gives every restored event in the same order; events written after the restore come
//! after them; a rebuild of every read model gives the very rows it had before; the ledger keeps
//! its leaves and tree head, numbers the new events after them, and `audit verify` passes on the
//! restored cluster against a checkpoint signed before the dump. Skipped (with a message)
//! where the PostgreSQL server binaries are missing.

use simpul_domain::events::ActivityKind;
use simpul_domain::ActorRole;
use simpul_store::{Database, DatabaseUrl, EventStore, StoredEvent};

use crate::faults::harness::PgCluster;
use crate::helpers::*;

/// The read models' tables, each read as sorted row texts.
const READ_MODEL_TABLES: [&str; 7] = [
    "community_summary",
    "stage_dashboard",
    "stage_dashboard_members",
    "audit_trail",
    "stage_transitions",
    "stage_transition_members",
    "ledger_leaves",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_feed_order_ledger_and_read_models_survive_a_restore_into_a_new_cluster() {
    let Some(cluster) = PgCluster::create().await else {
        return;
    };
    let source = TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = &source.database else {
        unreachable!()
    };
    let executor = source.executor();
    let keys = source.keys();

    let mut communities = Vec::new();
    for _ in 0..4 {
        let id = legal_ready(&executor, &keys, SLEMAN_DESA).await;
        for _ in 0..3 {
            let (_, command) = activity(ActivityKind::Dissemination);
            executor
                .execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
        }
        communities.push(id);
    }
    // Commit order that is not position order: B starts first, A takes the lower position, B
    // the higher one; B commits, then A.
    const COPY: &str = "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                            event_version, payload, metadata)
        SELECT aggregate_type, $2, 1, event_type, event_version, payload, metadata
          FROM events WHERE aggregate_id = $1 AND sequence = 1
        RETURNING position";
    let mut b = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *b)
        .await
        .unwrap();
    let mut a = pool.begin().await.unwrap();
    let a_position: i64 = sqlx::query_scalar(COPY)
        .bind(&communities[0])
        .bind(uuid::Uuid::new_v4().to_string())
        .fetch_one(&mut *a)
        .await
        .unwrap();
    let b_position: i64 = sqlx::query_scalar(COPY)
        .bind(&communities[0])
        .bind(uuid::Uuid::new_v4().to_string())
        .fetch_one(&mut *b)
        .await
        .unwrap();
    b.commit().await.unwrap();
    a.commit().await.unwrap();
    assert!(a_position < b_position);

    let store = source.store();
    let before = whole_feed(&store).await;
    let index_of = |position: i64| before.iter().position(|e| e.position == position as u64);
    assert!(
        index_of(b_position).unwrap() < index_of(a_position).unwrap(),
        "B committed first: it comes before A in the feed, though its position is higher"
    );
    catch_up_all(&store).await;
    let models_before = read_models(&source.database).await;
    let ledger_size = simpul_projections::ledger::query::size(&source.database)
        .await
        .unwrap();
    assert_eq!(ledger_size, before.len() as u64);
    let head_before = simpul_projections::ledger::query::head(&source.database, ledger_size)
        .await
        .unwrap();
    // A signed checkpoint before the dump, kept by an auditor.
    let key = || simpul_ledger::LedgerKey::from_seed("simpul.test/ledger", &[4; 32]).unwrap();
    let policy = simpul_app::ledger::CheckpointPolicy {
        every: 1,
        interval: std::time::Duration::from_secs(3600),
    };
    let mut checkpointer = simpul_app::ledger::Checkpointer::new(
        source.database.clone(),
        key(),
        "simpul.test/ledger",
        policy,
    )
    .await
    .unwrap();
    assert_eq!(checkpointer.cut().await.unwrap(), Some(ledger_size));
    let kept = simpul_projections::ledger::query::latest_checkpoint(&source.database)
        .await
        .unwrap()
        .unwrap()
        .note;

    // pg_dump, a fresh cluster, pg_restore: the documented procedure.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("simpul.dump");
    let dumped = cluster
        .client("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&dump)
        .arg(&source.url)
        .output()
        .unwrap();
    assert!(
        dumped.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let target_url = cluster.create_database("simpul_restored").await;
    let restored = cluster
        .client("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--dbname"])
        .arg(&target_url)
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "pg_restore failed: {}",
        String::from_utf8_lossy(&restored.stderr)
    );
    check_restored(
        &run_restored(&target_url).await,
        &before,
        &models_before,
        head_before,
    )
    .await;

    // The rebuilt read models of the restored log are those of the original.
    let target = run_restored(&target_url).await;
    let target_store = EventStore::new(target.clone());
    let runner = simpul_projections::Runner::new(target_store.clone());
    for projection in simpul_projections::all(simpul_regions::bundled().unwrap()) {
        runner
            .rebuild(projection.as_ref(), &|_, _| {})
            .await
            .unwrap();
    }
    assert_eq!(
        read_models(&target).await,
        models_before,
        "a rebuild of the restored log differs from the original read models"
    );

    // Written after the restore: after every restored event, in the feed and in the ledger.
    let executor = simpul_app::CommandExecutor::new(target_store.clone(), services());
    let mut written = Vec::new();
    for id in &communities {
        let (_, command) = activity(ActivityKind::Dissemination);
        let appended = executor
            .execute(id, command, &context(ActorRole::Pegiat))
            .await
            .unwrap();
        written.extend(appended.appended.iter().map(|a| a.position));
    }
    let after = whole_feed(&target_store).await;
    assert_eq!(
        positions(&after[..before.len()]),
        positions(&before),
        "the restored events keep their order"
    );
    assert_eq!(
        positions(&after[before.len()..]),
        written,
        "events written after the restore come after every restored event, in commit order"
    );
    let resumed = target_store
        .read_all(before[before.len() - 1].position, 100)
        .await
        .unwrap();
    assert_eq!(
        positions(&resumed),
        written,
        "resuming after the last restored event"
    );
    catch_up_all(&target_store).await;
    let size = simpul_projections::ledger::query::size(&target)
        .await
        .unwrap();
    assert_eq!(size, after.len() as u64);
    let leaves = simpul_projections::ledger::query::leaves(&target, 0, size)
        .await
        .unwrap();
    let leaf_positions: Vec<u64> = leaves.iter().map(|l| l.position).collect();
    assert_eq!(
        leaf_positions,
        positions(&after),
        "ledger index = feed order"
    );
    assert_eq!(
        simpul_projections::ledger::query::head(&target, ledger_size)
            .await
            .unwrap(),
        head_before,
        "the tree head at the restored size is unchanged"
    );
    // `audit verify` on the restored cluster, after a new checkpoint: every leaf, sub-log and
    // signed checkpoint holds, and the log still extends the checkpoint kept before the dump.
    let mut checkpointer =
        simpul_app::ledger::Checkpointer::new(target.clone(), key(), "simpul.test/ledger", policy)
            .await
            .unwrap();
    assert_eq!(checkpointer.cut().await.unwrap(), Some(size));
    let report = simpul_app::ledger::verify::verify(
        &target_store,
        &simpul_app::ledger::verify::VerifyOptions {
            verifier: key().verifier(),
            checkpoint: Some(kept),
        },
    )
    .await
    .unwrap();
    assert_eq!(report.events, size);
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.given, Some(ledger_size));
    target.close().await;
    drop(cluster);
}

/// What a server's first start on the restored database does: open it (migrations included).
async fn run_restored(url: &str) -> Database {
    Database::connect_and_migrate(&DatabaseUrl::parse(url).unwrap())
        .await
        .unwrap()
}

async fn check_restored(
    target: &Database,
    before: &[StoredEvent],
    models_before: &[Vec<String>],
    head_before: simpul_ledger::Hash,
) {
    let store = EventStore::new(target.clone());
    let feed = whole_feed(&store).await;
    assert_eq!(
        positions(&feed),
        positions(before),
        "the restored feed gives every event, in the same order"
    );
    assert_eq!(feed, before, "the restored events are the same events");
    assert_eq!(read_models(target).await, models_before);
    let size = simpul_projections::ledger::query::size(target)
        .await
        .unwrap();
    assert_eq!(
        simpul_projections::ledger::query::head(target, size)
            .await
            .unwrap(),
        head_before
    );
    // The read models, at their restored checkpoints, have nothing left to apply.
    let runner = simpul_projections::Runner::new(store);
    for projection in simpul_projections::all(simpul_regions::bundled().unwrap()) {
        assert_eq!(runner.catch_up(projection.as_ref()).await.unwrap(), 0);
    }
    target.close().await;
}

/// The whole feed from 0, read in small pages without waiting (what the feed gives now).
async fn whole_feed(store: &EventStore) -> Vec<StoredEvent> {
    let mut events: Vec<StoredEvent> = Vec::new();
    loop {
        let after = events.last().map(|e| e.position).unwrap_or(0);
        let page = store.read_all(after, 7).await.unwrap();
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

async fn catch_up_all(store: &EventStore) {
    let runner = simpul_projections::Runner::new(store.clone());
    for projection in simpul_projections::all(simpul_regions::bundled().unwrap()) {
        runner.catch_up(projection.as_ref()).await.unwrap();
    }
}

fn positions(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

/// Every read model table's rows as sorted texts, and the checkpoints' positions.
async fn read_models(database: &Database) -> Vec<Vec<String>> {
    let Database::Postgres(pool) = database else {
        unreachable!()
    };
    let mut tables = Vec::new();
    for table in READ_MODEL_TABLES {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM {table} t ORDER BY 1"))
                .fetch_all(pool)
                .await
                .unwrap();
        tables.push(rows);
    }
    let checkpoints: Vec<String> = sqlx::query_scalar(
        "SELECT name || ' ' || position || ' ' || events FROM projection_checkpoints ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    tables.push(checkpoints);
    tables
}

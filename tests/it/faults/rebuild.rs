//! Scenario 2: `kill -9` of `simpul projections rebuild --all` while it fills its scratch
//! space. The live read models stay whole, and the next rebuild leaves no scratch behind.

use std::collections::HashSet;
use std::time::Duration;

use simpul_store::Database;

use super::harness::*;
use crate::both_backends;
use crate::helpers::TestDb;

/// The rebuild's scratch space: PostgreSQL schemas named `simpul_shadow_…`; SQLite files beside
/// the database whose names contain `.rebuild-` or `.shadow-`.
pub async fn scratch_spaces(db: &TestDb) -> Vec<String> {
    match &db.database {
        Database::Postgres(pool) => sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'simpul\\_shadow\\_%'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Database::Sqlite { .. } => {
            let file = std::path::PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
            let dir = file.parent().unwrap();
            std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.contains(".rebuild-") || name.contains(".shadow-"))
                .collect()
        }
    }
}

/// A scratch space's name without SQLite's journal suffixes.
fn base_name(name: &str) -> String {
    ["-journal", "-wal", "-shm"]
        .iter()
        .fold(name, |name, suffix| {
            name.strip_suffix(suffix).unwrap_or(name)
        })
        .to_owned()
}

async fn kill_during_rebuild(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(&db.url, dir.path());
    // DI Yogyakarta at scale 1 (~11k events), then the read models caught up once.
    site.run_ok(&[
        "demo",
        "seed",
        "--scale",
        "1",
        "--region",
        "34",
        "--no-projections",
    ])
    .await;
    site.run_ok(&["projections", "rebuild", "--all"]).await;
    let events = count_rows(&db.database, "events").await;
    assert!(events > 10_000, "the seed wrote only {events} events");
    let before = site.status().await;
    assert!(
        scratch_spaces(&db).await.is_empty(),
        "a finished rebuild left scratch space behind: {:?}",
        scratch_spaces(&db).await
    );

    // A second rebuild, killed mid-way: once the first read model's scratch space has come and
    // gone and another one's is being filled (the first one is swapped in by then).
    let mut rebuild = site.spawn(&["projections", "rebuild", "--all"], "rebuild.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut first: Option<HashSet<String>> = None;
    let scratch = loop {
        if let Some(status) = rebuild.try_wait().unwrap() {
            panic!(
                "the rebuild finished ({status}) before it could be killed (scratch seen: \
                 {first:?})"
            );
        }
        let scratch = scratch_spaces(&db).await;
        let bases: HashSet<String> = scratch.iter().map(|name| base_name(name)).collect();
        match &first {
            None if !bases.is_empty() => first = Some(bases),
            Some(first) if bases.iter().any(|base| !first.contains(base)) => break scratch,
            _ => {}
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no second scratch space after 90 s of rebuilding (first: {first:?})"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    rebuild.kill().unwrap();
    rebuild.wait().unwrap();
    eprintln!(
        "faults/rebuild ({:?}): killed with scratch {scratch:?}",
        db.backend()
    );

    // The live read models are whole: at the same positions (the one already swapped in was
    // rebuilt to the same end), caught up, and equal to a fresh rebuild.
    assert_eq!(count_rows(&db.database, "events").await, events);
    let after = site.status().await;
    assert_eq!(before.len(), after.len());
    for (before, after) in before.iter().zip(&after) {
        assert_eq!(before["name"], after["name"]);
        assert_eq!(before["position"], after["position"], "{after}");
        assert_eq!(after["lag_events"], 0, "{after}");
        assert_eq!(after["state"], "running", "{after}");
    }
    site.verify().await;

    // The next rebuild runs through and leaves no scratch space.
    site.run_ok(&["projections", "rebuild", "--all"]).await;
    assert_eq!(
        scratch_spaces(&db).await,
        Vec::<String>::new(),
        "scratch space left after a complete rebuild"
    );
    site.wait_caught_up(Duration::from_secs(30)).await;
    site.verify().await;
}

both_backends!(kill_9_of_projections_rebuild, |db: TestDb| async move {
    kill_during_rebuild(db).await;
});

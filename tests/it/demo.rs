//! `simpul demo seed`: deterministic, bulk-written, indistinguishable from the same commands sent
//! one by one, consistent with its read models, and resumable after being killed.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use simpul_app::demo::BulkSeeder;
use simpul_app::CommandContext;
use simpul_demo::DemoConfig;
use simpul_domain::sealed::SealedText;
use simpul_projections::Runner;
use simpul_store::{Database, KeyStore, MasterKey, Unsealed};

use crate::both_backends;
use crate::helpers::*;
use crate::projections::{dashboard_totals, digests, settle};

fn seed_args<'a>(region: &'a str, seed: &'a str) -> Vec<&'a str> {
    vec![
        "demo", "seed", "--scale", "1", "--seed", seed, "--region", region,
    ]
}

// The same seed twice, into two databases: byte-identical events, ids included; another seed
// differs. Seeding the same database again finds the seed complete and writes nothing; a
// different seed whose ids collide (the same --seed at another --scale) is refused.
both_backends!(same_seed_same_events, |db: TestDb| async move {
    let other = TestDb::new(db.backend()).await;
    let key = MasterKey::generate().to_base64();
    for target in [&db, &other] {
        let out = simpul_binary_async(
            &seed_args("34.02", "7"),
            &[("DATABASE_URL", &target.url), ("SIMPUL_MASTER_KEY", &key)],
        )
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let first = db.events_table_text().await;
    assert!(first.contains("CommunityFormed") && first.contains("OfficerAppointed"));
    assert_eq!(first, other.events_table_text().await);
    let before = db.store().count().await.unwrap();
    let again = simpul_binary_async(
        &seed_args("34.02", "7"),
        &[("DATABASE_URL", &db.url), ("SIMPUL_MASTER_KEY", &key)],
    )
    .await;
    assert_eq!(again.status.code(), Some(0));
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains(&format!(
            "this seed is already fully stored ({before} events); nothing to do"
        )),
        "{said}"
    );
    assert_eq!(db.events_table_text().await, first);
    // Same KIM ids (they depend on --seed, not on --scale), other events: refused, nothing written.
    let colliding = simpul_binary_async(
        &[
            "demo", "seed", "--scale", "2", "--seed", "7", "--region", "34.02",
        ],
        &[("DATABASE_URL", &db.url), ("SIMPUL_MASTER_KEY", &key)],
    )
    .await;
    assert_eq!(colliding.status.code(), Some(1));
    let said = String::from_utf8_lossy(&colliding.stderr);
    assert!(said.contains("already holds"), "{said}");
    assert!(said.contains("nothing was written"), "{said}");
    assert_eq!(db.events_table_text().await, first);

    let third = TestDb::new(db.backend()).await;
    let out = simpul_binary_async(
        &seed_args("34.02", "8"),
        &[("DATABASE_URL", &third.url), ("SIMPUL_MASTER_KEY", &key)],
    )
    .await;
    assert!(out.status.success());
    assert_ne!(first, third.events_table_text().await);
});

// `demo seed --scale 1` over DI Yogyakarta: the dashboard shows the 2025 counts of the source
// article, and every read model equals a rebuild (`projections verify` exits 0).
both_backends!(
    di_yogyakarta_counts_appear_on_the_dashboard,
    |db: TestDb| async move {
        let env = [("DATABASE_URL", db.url.as_str())];
        let out = simpul_binary_async(&seed_args("34", "1"), &env).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let count_of = dashboard_totals(&db.database).await;
        for (regency, count) in [
            ("34.04", 40),
            ("34.71", 0),
            ("34.02", 4),
            ("34.01", 40),
            ("34.03", 142),
        ] {
            assert_eq!(count_of(regency), count, "{regency}");
        }
        assert_eq!(count_of("34"), 226);
        let verify = simpul_binary_async(&["projections", "verify", "--all"], &env).await;
        assert!(
            verify.status.success(),
            "{}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
    }
);

// The bulk path writes exactly what the executor writes when the same commands are sent one by
// one (decided again, at the same recorded time, with the same actors and request ids).
both_backends!(bulk_equals_one_by_one, |db: TestDb| async move {
    let config = DemoConfig::new(1, 3, simpul_demo::DEFAULT_UNTIL).unwrap();
    let regions = simpul_regions::bundled().unwrap();
    let plan = simpul_demo::plan_regency(&config, &services(), regions, &code("34.02"), 4).unwrap();
    let master = MasterKey::generate();

    let mut seeder = BulkSeeder::new(
        db.store(),
        simpul_store::KeyStore::new(db.database.clone(), master.clone()),
        services(),
        config,
    )
    .with_chunk_events(50);
    seeder.push(&plan).await.unwrap();
    seeder.flush().await.unwrap();
    assert_eq!(seeder.outcome().communities, 4);

    let other = TestDb::new(db.backend()).await;
    let executor = other.executor();
    let appends = seeder.appends_of(&plan).unwrap();
    for (step, append) in plan.steps.iter().zip(&appends) {
        let context = CommandContext {
            actor_id: step.actor_id.clone(),
            actor_role: step.actor_role,
            request_id: append.metadata.request_id.clone(),
            expected_version: Some(append.after_sequence),
        };
        executor
            .execute_at(
                &step.community_id.to_string(),
                step.command.clone(),
                &context,
                Some(step.at),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        db.events_table_text().await,
        other.events_table_text().await
    );
    settle(&Runner::new(db.store())).await;
    settle(&Runner::new(other.store())).await;
    assert_eq!(digests(&db.database).await, digests(&other.database).await);
});

/// `demo seed --scale 1 --region 34 --no-projections`: DI Yogyakarta, about 11k events.
const YOGYAKARTA: [&str; 7] = [
    "demo",
    "seed",
    "--scale",
    "1",
    "--region",
    "34",
    "--no-projections",
];

/// The seed over DI Yogyakarta into `db`, as a child process of its own.
fn spawn_seed(db: &TestDb, key: &str, data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_simpul"))
        .args(YOGYAKARTA)
        .env_remove("DATABASE_URL")
        .env_remove("SIMPUL_MASTER_KEY")
        .env_remove("SIMPUL_DATA_DIR")
        .env("DATABASE_URL", &db.url)
        .env("SIMPUL_MASTER_KEY", key)
        .env("SIMPUL_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simpul binary starts")
}

/// Starts the seed into `db` and kills it (SIGKILL) as soon as the store holds more than
/// `threshold` events. The events stored after the kill if it came mid-seed (some, not all of
/// `total`); `None` if the seed finished first.
async fn seed_killed_midway(
    db: &TestDb,
    key: &str,
    data: &Path,
    threshold: u64,
    total: u64,
) -> Option<u64> {
    let store = db.store();
    let mut child = spawn_seed(db, key, data);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if store.count().await.unwrap() > threshold {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the seed failed: {status}");
            return None;
        }
        assert!(
            Instant::now() < deadline,
            "the seed stored no more than {threshold} events in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let stored = store.count().await.unwrap();
    (status.signal() == Some(9) && stored > 0 && stored < total).then_some(stored)
}

/// The ids of the persons with a key.
async fn person_ids(database: &Database) -> BTreeSet<String> {
    let rows: Vec<String> = match database {
        Database::Postgres(pool) => sqlx::query_scalar("SELECT person_id::text FROM person_keys")
            .fetch_all(pool)
            .await
            .unwrap(),
        Database::Sqlite { readers, .. } => sqlx::query_scalar("SELECT person_id FROM person_keys")
            .fetch_all(readers)
            .await
            .unwrap(),
    };
    rows.into_iter().collect()
}

/// Streams whose sequences are not exactly 1..=n.
async fn broken_streams(database: &Database) -> Vec<String> {
    let sql = "SELECT aggregate_id FROM events GROUP BY aggregate_type, aggregate_id \
               HAVING MIN(sequence) <> 1 OR MAX(sequence) <> COUNT(*) \
                   OR COUNT(DISTINCT sequence) <> COUNT(*)";
    match database {
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Database::Sqlite { readers, .. } => {
            sqlx::query_scalar(sql).fetch_all(readers).await.unwrap()
        }
    }
}

/// Every officer's sealed name in the log opens with the person's stored key.
async fn every_name_opens(db: &TestDb, master: &str, total: u64) {
    let events = read_feed(&db.store(), 0, total as usize).await;
    let names: Vec<SealedText> = events
        .iter()
        .filter(|event| event.event_type == "OfficerAppointed")
        .map(|event| {
            serde_json::from_value(event.payload["OfficerAppointed"]["name"].clone()).unwrap()
        })
        .collect();
    assert!(!names.is_empty());
    let persons: Vec<uuid::Uuid> = names.iter().map(|name| name.person_id).collect();
    let keys = KeyStore::new(db.database.clone(), MasterKey::from_base64(master).unwrap())
        .keys_of(&persons)
        .await
        .unwrap();
    for name in &names {
        assert!(
            matches!(keys.open(name).unwrap(), Unsealed::Plain(_)),
            "person {} has no key",
            name.person_id
        );
    }
}

// Killed (SIGKILL) part-way, the same `demo seed` run again completes it: the store then holds
// exactly the events of an uninterrupted seed (per KIM and sequence: type, payload, metadata),
// each once, every stream contiguous from 1, the same persons' keys, every name opening. A third
// run finds the seed complete and writes nothing.
both_backends!(
    a_killed_seed_resumes_to_the_same_events,
    |db: TestDb| async move {
        let key = MasterKey::generate().to_base64();
        let data = tempfile::tempdir().unwrap();
        let env = |db: &TestDb| {
            vec![
                ("DATABASE_URL".to_owned(), db.url.clone()),
                ("SIMPUL_MASTER_KEY".to_owned(), key.clone()),
                (
                    "SIMPUL_DATA_DIR".to_owned(),
                    data.path().display().to_string(),
                ),
            ]
        };
        let run = |db: &TestDb| {
            let env = env(db);
            async move {
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                simpul_binary_async(&YOGYAKARTA, &env).await
            }
        };

        // The reference: one uninterrupted seed into a database of its own.
        let reference = TestDb::new(db.backend()).await;
        let out = run(&reference).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let total = reference.store().count().await.unwrap();
        assert!(total > 10_000, "{total}");
        let expected = reference.events_table_text().await;
        let expected_rows: BTreeSet<&str> = expected.lines().collect();

        // Kill a seed mid-way; should it finish before the kill, retry on a fresh database with a
        // lower threshold (the first batch alone holds 1,250 events).
        let mut target = Some(db);
        let mut killed = None;
        for threshold in [2_000, 1_000, 0] {
            let db = match target.take() {
                Some(db) => db,
                None => TestDb::new(reference.backend()).await,
            };
            match seed_killed_midway(&db, &key, data.path(), threshold, total).await {
                Some(stored) => {
                    eprintln!("killed after {stored} of {total} events (threshold {threshold})");
                    killed = Some((db, stored));
                    break;
                }
                None => eprintln!("the seed finished before the kill (threshold {threshold})"),
            }
        }
        let (db, stored) = killed.expect("the seed finished before it could be killed mid-way");
        // A strict subset of the reference's events.
        let partial = db.events_table_text().await;
        assert_eq!(partial.lines().count() as u64, stored);
        assert!(partial.lines().all(|row| expected_rows.contains(row)));
        // Some KIM were cut part-way (a kabupaten/kota's steps are in time order, so its KIM
        // grow together across transactions), not only whole ones left out.
        let lengths = |text: &str| {
            let mut lengths = std::collections::BTreeMap::<String, usize>::new();
            for row in text.lines() {
                let id = row.split('|').next().unwrap_or_default().to_owned();
                *lengths.entry(id).or_default() += 1;
            }
            lengths
        };
        let full = lengths(&expected);
        assert!(lengths(&partial)
            .iter()
            .any(|(id, length)| full.get(id).is_some_and(|full| length < full)));

        // The same command again completes the seed.
        let out = run(&db).await;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains(&format!(
                "resumed: {stored} events of this seed were already stored"
            )),
            "{said}"
        );
        assert_eq!(db.store().count().await.unwrap(), total);
        assert!(
            db.events_table_text().await == expected,
            "the events differ from one seed's"
        );
        assert_eq!(broken_streams(&db.database).await, Vec::<String>::new());
        assert_eq!(
            broken_streams(&reference.database).await,
            Vec::<String>::new()
        );
        let persons = person_ids(&db.database).await;
        assert_eq!(persons, person_ids(&reference.database).await);
        every_name_opens(&db, &key, total).await;

        // Once more: complete, nothing to do, nothing written.
        let out = run(&db).await;
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{said}");
        assert!(
            said.contains(&format!(
                "this seed is already fully stored ({total} events); nothing to do"
            )),
            "{said}"
        );
        assert_eq!(db.store().count().await.unwrap(), total);
        assert!(db.events_table_text().await == expected);
        assert_eq!(person_ids(&db.database).await, persons);
    }
);

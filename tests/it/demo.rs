//! `simpul demo seed`: deterministic, bulk-written, indistinguishable from the same commands sent
//! one by one, and consistent with its read models.

use simpul_app::demo::BulkSeeder;
use simpul_app::CommandContext;
use simpul_demo::DemoConfig;
use simpul_projections::Runner;
use simpul_store::MasterKey;

use crate::both_backends;
use crate::helpers::*;
use crate::projections::{dashboard_totals, digests, settle};

fn seed_args<'a>(region: &'a str, seed: &'a str) -> Vec<&'a str> {
    vec![
        "demo", "seed", "--scale", "1", "--seed", seed, "--region", region,
    ]
}

// The same seed twice, into two databases: byte-identical events, ids included; another seed
// differs. Seeding the same database again is refused and writes nothing.
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
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds"));
    assert_eq!(db.store().count().await.unwrap(), before);

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

//! Read models: incremental equals rebuild equals the aggregates, the DI Yogyakarta counts, and a
//! poison event stopping one projection while the others go on.

use std::collections::BTreeMap;

use simpul_domain::commands::{AdvanceStage, SuspendCommunity, UpdateMemberCount};
use simpul_domain::events::ActivityKind;
use simpul_domain::{ActorRole, CommunityCommand, RegionCode, Stage};
use simpul_projections::{Memory, Projection, ProjectionError, Runner};
use simpul_store::Database;

use crate::both_backends;
use crate::helpers::*;

const SUMMARY_COLUMNS: &str = "community_id, name, desa_code, desa_name, kecamatan_code, \
    kecamatan_name, regency_code, regency_name, province_code, province_name, stage, status, \
    legal, sk_number, sk_date, nomor_induk, member_count, active_officers, bimtek_count, \
    last_bimtek_on, media_channels, e_businesses, formed_on, last_event_at, version, state";

/// Every row of `table` as text, in primary-key order: the read model's digest.
pub async fn rows(
    db: &Database,
    table: &str,
    columns: &str,
    order: &str,
) -> Vec<Vec<Option<String>>> {
    let select = columns
        .split(',')
        .map(|c| format!("CAST({} AS text)", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {select} FROM {table} ORDER BY {order}");
    let width = columns.split(',').count();
    use sqlx::Row as _;
    match db {
        Database::Postgres(pool) => sqlx::query(&sql)
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|row| {
                (0..width)
                    .map(|i| row.get::<Option<String>, _>(i))
                    .collect()
            })
            .collect(),
        Database::Sqlite { readers, .. } => sqlx::query(&sql)
            .fetch_all(readers)
            .await
            .unwrap()
            .iter()
            .map(|row| {
                (0..width)
                    .map(|i| row.get::<Option<String>, _>(i))
                    .collect()
            })
            .collect(),
    }
}

pub type Rows = Vec<Vec<Option<String>>>;

/// Every read model's rows: (summary, dashboard, audit trail + stage transitions, the per-KIM
/// progression rows of `stage_transitions`: members then bimtek).
pub async fn digests(db: &Database) -> (Rows, Rows, Rows, Rows) {
    let mut others = rows(
        db,
        "audit_trail",
        "position, recorded_at, community_id, sequence, desa_code, regency_code, province_code, \
         event_type, actor, role, request_id, reason, summary",
        "position",
    )
    .await;
    others.extend(
        rows(
            db,
            "stage_transitions",
            "position, community_id, desa_code, from_stage, to_stage, at, days_in_previous, \
             bimtek_before, policy_version",
            "position",
        )
        .await,
    );
    (
        rows(db, "community_summary", SUMMARY_COLUMNS, "community_id").await,
        rows(
            db,
            "stage_dashboard",
            "region_code, level, stage, status, legal, count",
            "region_code, stage, status, legal",
        )
        .await,
        others,
        progression_rows(db).await,
    )
}

/// The rows `stage_transitions` keeps per KIM for progression analytics: its members, then the
/// bimtek they attended.
pub async fn progression_rows(db: &Database) -> Rows {
    rows(
        db,
        "stage_transition_members",
        "community_id, desa_code, district_code, regency_code, province_code, stage, \
         stage_since, bimtek_count, formed_on, formed_stage, kim2_on, kim3_on, kim4_on, \
         dissolved_on, stage_changes, bimtek_dates",
        "community_id",
    )
    .await
}

fn projections() -> Vec<std::sync::Arc<dyn Projection>> {
    simpul_projections::all(simpul_regions::bundled().unwrap())
}

/// Catches every projection up to every committed event. The feed holds back events above the
/// oldest open transaction on the server (other tests' included), so wait until none is left.
/// KIM per region code on the dashboard, over every stage, status and legal state.
pub async fn dashboard_totals(db: &Database) -> impl Fn(&str) -> u64 {
    let dashboard = rows(
        db,
        "stage_dashboard",
        "region_code, level, stage, status, legal, count",
        "region_code, stage, status, legal",
    )
    .await;
    move |region: &str| -> u64 {
        dashboard
            .iter()
            .filter(|r| r[0].as_deref() == Some(region))
            .map(|r| r[5].as_deref().unwrap().parse::<u64>().unwrap())
            .sum()
    }
}

pub async fn settle(runner: &Runner) {
    let names: Vec<&str> = projections().iter().map(|p| p.name()).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        for projection in projections() {
            runner.catch_up(projection.as_ref()).await.unwrap();
        }
        let status = simpul_projections::status(runner.store(), &names)
            .await
            .unwrap();
        if status.iter().all(|s| s.lag_events == 0) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "projections stuck: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

both_backends!(
    incremental_read_models_equal_a_rebuild_and_the_aggregates,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        // Small batches while commands arrive: many checkpoints, many partial folds.
        let runner = Runner::new(db.store()).with_batch_size(3);
        let mut ids = Vec::new();
        for (n, village) in [SLEMAN_DESA, "34.02.01.2001", "21.71.01.1002", SLEMAN_DESA]
            .into_iter()
            .enumerate()
        {
            let id = legal_ready(&executor, &keys, village).await;
            settle(&runner).await;
            let regency = RegionCode::parse(village)
                .unwrap()
                .ancestor_at(simpul_domain::RegionLevel::Regency)
                .unwrap();
            executor
                .execute(
                    &id,
                    assign_number(&format!("KIM-{n}"), regency.as_str()),
                    &context(ActorRole::Regency),
                )
                .await
                .unwrap();
            let (_, command) = activity(ActivityKind::DevelopmentAgent);
            let evidence = executor
                .execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap()
                .version;
            if n % 2 == 0 {
                executor
                    .execute(
                        &id,
                        CommunityCommand::AdvanceStage(AdvanceStage {
                            to: Stage::Kim2,
                            assessed_on: date("2025-06-01"),
                            evidence: vec![evidence],
                            assessed_by_role: ActorRole::Regency,
                        }),
                        &context(ActorRole::Regency),
                    )
                    .await
                    .unwrap();
            }
            settle(&runner).await;
            executor
                .execute(
                    &id,
                    CommunityCommand::UpdateMemberCount(UpdateMemberCount {
                        member_count: 20 + n as u32,
                        effective_on: date("2025-07-01"),
                    }),
                    &context(ActorRole::Pegiat),
                )
                .await
                .unwrap();
            if n == 3 {
                executor
                    .execute(
                        &id,
                        CommunityCommand::SuspendCommunity(SuspendCommunity {
                            suspended_on: date("2025-08-01"),
                            reason: reason("tidak aktif"),
                        }),
                        &context(ActorRole::Regency),
                    )
                    .await
                    .unwrap();
            }
            ids.push(id);
        }
        settle(&runner).await;
        let incremental = digests(&db.database).await;
        assert_eq!(incremental.0.len(), 4);
        let events = db.store().count().await.unwrap() as usize;
        assert_eq!(
            incremental.2.len(),
            events + 2,
            "one audit row per event, two transitions"
        );

        // The oracle: each row agrees with the aggregate loaded from the log.
        for row in &incremental.0 {
            let id = row[0].clone().unwrap();
            let (community, version) = db.store().load(&id).await.unwrap();
            assert_eq!(
                row[10].as_deref(),
                Some(community.stage().as_str()),
                "stage of {id}"
            );
            assert_eq!(
                row[11].as_deref(),
                Some(community.status().as_str()),
                "status of {id}"
            );
            assert_eq!(
                row[16].as_deref(),
                Some(community.member_count().to_string().as_str())
            );
            assert_eq!(row[24].as_deref(), Some(version.to_string().as_str()));
        }
        // Sleman (34.04) has two KIM, one at KIM 2 and active, one at KIM 1 and suspended.
        let sleman: BTreeMap<(String, String), String> = incremental
            .1
            .iter()
            .filter(|r| r[0].as_deref() == Some("34.04"))
            .map(|r| {
                (
                    (r[2].clone().unwrap(), r[3].clone().unwrap()),
                    r[5].clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(sleman.len(), 2, "{sleman:?}");
        assert_eq!(sleman[&("kim2".to_owned(), "active".to_owned())], "1");
        assert_eq!(sleman[&("kim1".to_owned(), "suspended".to_owned())], "1");

        // A rebuild from position 0 gives identical tables.
        for projection in projections() {
            Runner::new(db.store())
                .rebuild(projection.as_ref(), &|_, _| {})
                .await
                .unwrap();
        }
        assert_eq!(digests(&db.database).await, incremental);
        let status =
            simpul_projections::status(&db.store(), &["community_summary", "stage_dashboard"])
                .await
                .unwrap();
        for projection in status {
            assert_eq!(projection.state, "running");
            assert_eq!(projection.lag_events, 0, "{projection:?}");
            assert_eq!(projection.events, db.store().count().await.unwrap());
        }
    }
);

// Seed 000's DI Yogyakarta counts for 2025, with the real codes.
both_backends!(
    the_di_yogyakarta_dashboard_shows_the_2025_counts,
    |db: TestDb| async move {
        let regions = simpul_regions::bundled().unwrap();
        let executor = db.executor();
        let expected = [("34.04", 40), ("34.02", 4), ("34.01", 40), ("34.03", 142)];
        for (regency, count) in expected {
            // Spread the KIM over the kabupaten's real desa/kelurahan.
            let villages: Vec<String> = regions
                .children(&RegionCode::parse(regency).unwrap())
                .iter()
                .flat_map(|district| regions.children(&district.code))
                .map(|village| village.code.to_string())
                .collect();
            for n in 0..count {
                let id = uuid::Uuid::new_v4().to_string();
                executor
                    .execute(
                        &id,
                        form(&villages[n % villages.len()], 10),
                        &context(ActorRole::Regency),
                    )
                    .await
                    .unwrap();
            }
        }
        settle(&Runner::new(db.store())).await;
        let count_of = dashboard_totals(&db.database).await;
        assert_eq!(count_of("34"), 226);
        for (regency, count) in expected {
            assert_eq!(count_of(regency), count as u64, "{regency}");
        }
        assert_eq!(count_of("34.71"), 0, "Kota Yogyakarta has no KIM");
        // Kecamatan level adds up to the kabupaten.
        let sleman_districts: u64 = simpul_regions::bundled()
            .unwrap()
            .children(&code("34.04"))
            .iter()
            .map(|district| count_of(district.code.as_str()))
            .sum();
        assert_eq!(sleman_districts, 40);
    }
);

// An event that one read model cannot apply stops that one at the event, keeps its checkpoint
// before it, reports position, event id and error; the other read model goes on.
both_backends!(
    a_poison_event_stops_one_projection_and_not_the_others,
    |db: TestDb| async move {
        let executor = db.executor();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
            .await
            .unwrap();
        // A well-formed event whose sequence skips ahead: the summary's fold notices the gap.
        let payload = serde_json::json!({"ActivityRecorded": {
        "activity_id": uuid::Uuid::new_v4(), "kind": "dissemination", "title": "Lompat",
        "held_on": "2025-06-01", "participants": null}});
        let metadata = r#"{"actor_id":"x","actor_role":"regency","request_id":"r","recorded_at":"2025-06-01T00:00:00Z","region_edition":"e"}"#;
        match &db.database {
            Database::Postgres(pool) => {
                sqlx::query("INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                         VALUES ('Community', $1, 5, 'ActivityRecorded', '1.0', $2::json, $3::json)")
                .bind(&id).bind(payload.to_string()).bind(metadata)
                .execute(pool).await.unwrap();
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query("INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position)
                         VALUES ('Community', ?1, 5, 'ActivityRecorded', '1.0', ?2, ?3, (SELECT MAX(position) + 1 FROM events))")
                .bind(&id).bind(payload.to_string()).bind(metadata)
                .execute(writer).await.unwrap();
            }
        }
        let later = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&later, form(SLEMAN_DESA, 12), &context(ActorRole::Regency))
            .await
            .unwrap();
        let feed = read_feed(&db.store(), 0, 3).await;
        let poison = feed[1].position;

        let runner = Runner::new(db.store());
        let all = projections();
        let find = |name: &str| all.iter().find(|p| p.name() == name).unwrap().clone();
        let (summary, dashboard) = (find("community_summary"), find("stage_dashboard"));
        match runner.catch_up(summary.as_ref()).await {
            Err(ProjectionError::Event {
                position, event, ..
            }) => {
                assert_eq!(position, poison);
                assert_eq!(event, format!("{id}#5"));
            }
            other => panic!("expected a stop at the poison event, got {other:?}"),
        }
        // It stays stopped, and says where and why.
        assert!(matches!(
            runner.catch_up(summary.as_ref()).await,
            Err(ProjectionError::Stopped(_))
        ));
        runner.catch_up(dashboard.as_ref()).await.unwrap();
        let status =
            simpul_projections::status(&db.store(), &["community_summary", "stage_dashboard"])
                .await
                .unwrap();
        assert_eq!(status[0].state, "failed");
        assert_eq!(
            status[0].position, feed[0].position,
            "checkpoint kept before the event"
        );
        assert_eq!(status[0].error_position, Some(poison));
        assert_eq!(
            status[0].error_event.as_deref(),
            Some(format!("{id}#5").as_str())
        );
        assert!(status[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("sequence 5"));
        assert_eq!(status[0].lag_events, 2);
        assert_eq!(status[1].state, "running");
        assert_eq!(status[1].events, 3, "the dashboard went on past it");
        let summary_rows = rows(
            &db.database,
            "community_summary",
            "community_id",
            "community_id",
        )
        .await;
        assert_eq!(
            summary_rows,
            vec![vec![Some(id.clone())]],
            "only the event before the poison"
        );
    }
);

/// A read model that writes a batch's rows and then fails before the runner commits — the crash
/// between write and commit — on the calls `fails` picks (0 = first batch).
struct Faulty {
    inner: std::sync::Arc<dyn Projection>,
    calls: std::sync::atomic::AtomicU32,
    fails: fn(u32) -> bool,
}

impl Faulty {
    fn new(inner: std::sync::Arc<dyn Projection>, fails: fn(u32) -> bool) -> Self {
        Self {
            inner,
            calls: std::sync::atomic::AtomicU32::new(0),
            fails,
        }
    }

    fn after_write(&self) -> Result<(), ProjectionError> {
        let call = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if (self.fails)(call) {
            Err(ProjectionError::Storage(
                "simulated crash before commit".to_owned(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl Projection for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn tables(&self) -> &'static [&'static str] {
        self.inner.tables()
    }
    async fn apply_postgres(
        &self,
        tx: &mut sqlx::PgConnection,
        events: &[simpul_store::StoredEvent],
        memory: &mut Memory,
    ) -> Result<(), ProjectionError> {
        self.inner.apply_postgres(tx, events, memory).await?;
        self.after_write()
    }
    async fn apply_sqlite(
        &self,
        tx: &mut sqlx::SqliteConnection,
        events: &[simpul_store::StoredEvent],
        memory: &mut Memory,
    ) -> Result<(), ProjectionError> {
        self.inner.apply_sqlite(tx, events, memory).await?;
        self.after_write()
    }
}

both_backends!(
    a_crash_between_write_and_commit_leaves_nothing_half_applied,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        for village in [SLEMAN_DESA, "34.02.01.2001"] {
            legal_ready(&executor, &keys, village).await;
        }
        // Wait until the feed shows all ten events (other tests' open transactions can hold
        // the horizon back for a moment), so every batch below is a full one.
        read_feed(&db.store(), 0, 10).await;
        let runner = Runner::new(db.store()).with_batch_size(4);
        // First batch commits, the second writes its rows and "crashes" before committing.
        for projection in projections() {
            runner.step(projection.as_ref()).await.unwrap();
            let crashing = Faulty::new(projection.clone(), |call| call == 0);
            assert!(matches!(
                runner.step(&crashing).await,
                Err(ProjectionError::Storage(_))
            ));
            let status = simpul_projections::status(&db.store(), &[projection.name()])
                .await
                .unwrap();
            assert_eq!(
                status[0].events,
                4,
                "{}: the crashed batch left its checkpoint",
                projection.name()
            );
        }
        // Restart: catch up, and compare with a rebuild from 0.
        settle(&runner).await;
        let resumed = digests(&db.database).await;
        for projection in projections() {
            runner
                .rebuild(projection.as_ref(), &|_, _| {})
                .await
                .unwrap();
        }
        assert_eq!(digests(&db.database).await, resumed);
        assert_eq!(resumed.0.len(), 2);
    }
);

// Rebuild while commands keep arriving and the live read models keep following: after the swap
// nothing is missing and nothing doubled.
both_backends!(
    a_rebuild_while_commands_arrive_swaps_in_without_losing_an_event,
    |db: TestDb| async move {
        let executor = std::sync::Arc::new(db.executor());
        let mut ids = Vec::new();
        for village in [SLEMAN_DESA, "34.02.01.2001", "21.71.01.1002"] {
            let id = uuid::Uuid::now_v7().to_string();
            executor
                .execute(&id, form(village, 10), &context(ActorRole::Regency))
                .await
                .unwrap();
            ids.push(id);
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let follower = tokio::spawn(Runner::new(db.store()).run(projections(), stopped));
        let writers: Vec<_> = ids
            .iter()
            .cloned()
            .map(|id| {
                let executor = executor.clone();
                tokio::spawn(async move {
                    for _ in 0..40 {
                        let (_, command) = activity(ActivityKind::Networking);
                        executor
                            .execute(&id, command, &context(ActorRole::Pegiat))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        let indexes_before = index_definitions(&db).await;
        let runner = Runner::new(db.store()).with_batch_size(7);
        for projection in projections() {
            runner
                .rebuild(projection.as_ref(), &|_, _| {})
                .await
                .unwrap();
        }
        // The swapped-in tables have every index the live ones had (rebuilt at the end).
        assert_eq!(index_definitions(&db).await, indexes_before);
        // … and the planner's statistics, gathered before the swap.
        assert_eq!(tables_without_statistics(&db).await, Vec::<String>::new());
        for writer in writers {
            writer.await.unwrap();
        }
        settle(&runner).await;
        let _ = stop.send(true);
        follower.await.unwrap();
        let after_swap = digests(&db.database).await;
        for row in &after_swap.0 {
            let (_, version) = db.store().load(row[0].as_deref().unwrap()).await.unwrap();
            assert_eq!(row[24].as_deref(), Some("41"), "version of {:?}", row[0]);
            assert_eq!(version, 41);
        }
        assert_eq!(after_swap.2.len(), 3 * 41, "one audit row per event");
        for projection in projections() {
            runner
                .rebuild(projection.as_ref(), &|_, _| {})
                .await
                .unwrap();
        }
        assert_eq!(digests(&db.database).await, after_swap);
    }
);

both_backends!(
    verify_finds_tampering_and_an_interrupted_rebuild_leaves_live_tables_alone,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        for village in [SLEMAN_DESA, "34.02.01.2001"] {
            legal_ready(&executor, &keys, village).await;
        }
        let runner = Runner::new(db.store());
        settle(&runner).await;
        let summary = projections()
            .into_iter()
            .find(|p| p.name() == "community_summary")
            .unwrap();
        assert!(runner
            .verify(summary.as_ref(), 10)
            .await
            .unwrap()
            .is_empty());

        let live = digests(&db.database).await;
        // An interrupted rebuild: the third batch crashes before its commit.
        let interrupted = Faulty::new(summary.clone(), |call| call >= 2);
        let small = Runner::new(db.store()).with_batch_size(1);
        assert!(small.rebuild(&interrupted, &|_, _| {}).await.is_err());
        assert_eq!(digests(&db.database).await, live, "the live tables changed");

        // Tamper with one live row: verify names it.
        let sql = "UPDATE community_summary SET member_count = 99";
        match &db.database {
            Database::Postgres(pool) => {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(sql).execute(writer).await.unwrap();
            }
        }
        let differences = runner.verify(summary.as_ref(), 10).await.unwrap();
        assert_eq!(differences.len(), 4, "{differences:?}");
        assert!(differences
            .iter()
            .any(|d| d.starts_with("community_summary - ") && d.contains("99")));
        // A rebuild repairs it.
        runner.rebuild(summary.as_ref(), &|_, _| {}).await.unwrap();
        assert!(runner
            .verify(summary.as_ref(), 10)
            .await
            .unwrap()
            .is_empty());
    }
);

/// Each read-model table's index columns (PostgreSQL; empty on SQLite), names aside.
async fn index_definitions(db: &TestDb) -> Vec<String> {
    let Database::Postgres(pool) = &db.database else {
        return Vec::new();
    };
    let mut definitions: Vec<String> = sqlx::query_scalar(
        "SELECT tablename || ': ' || regexp_replace(indexdef, '^.* USING ', '')
           FROM pg_indexes WHERE schemaname = 'public'
            AND tablename IN ('community_summary', 'stage_dashboard', 'stage_dashboard_members',
                              'audit_trail', 'stage_transitions', 'stage_transition_members')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    definitions.sort();
    definitions
}

/// Read-model tables never analyzed since they were created (PostgreSQL keeps `reltuples` at -1
/// until the first `ANALYZE` or `VACUUM`; empty on SQLite).
async fn tables_without_statistics(db: &TestDb) -> Vec<String> {
    let Database::Postgres(pool) = &db.database else {
        return Vec::new();
    };
    sqlx::query_scalar(
        "SELECT relname::text FROM pg_class
          WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND reltuples < 0
            AND relname IN ('community_summary', 'stage_dashboard', 'stage_dashboard_members',
                            'audit_trail', 'stage_transitions', 'stage_transition_members')
          ORDER BY relname",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Advisory locks of whole sessions (one per running projection) in this test's database.
async fn session_locks(db: &TestDb) -> i64 {
    let Database::Postgres(pool) = &db.database else {
        unreachable!("PostgreSQL only")
    };
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn wait_until_reached(db: &TestDb, position: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !simpul_projections::has_reached(&db.store(), "community_summary", position)
        .await
        .unwrap()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "community_summary never reached {position}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

// Two servers on one PostgreSQL: only one runner per projection holds its lock and writes; when
// it stops, the other takes over and goes on from the checkpoint.
#[tokio::test]
async fn a_second_runner_waits_for_the_lock_and_takes_over() {
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let executor = db.executor();
    let id = uuid::Uuid::now_v7().to_string();
    let first = executor
        .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
        .await
        .unwrap();
    let (stop_a, stopped_a) = tokio::sync::watch::channel(false);
    let a = tokio::spawn(Runner::new(db.store()).run(projections(), stopped_a));
    wait_until_reached(&db, first.position).await;
    assert_eq!(
        session_locks(&db).await,
        simpul_projections::READ_MODELS.len() as i64,
        "one lock per projection"
    );

    let (stop_b, stopped_b) = tokio::sync::watch::channel(false);
    let b = tokio::spawn(Runner::new(db.store()).run(projections(), stopped_b));
    // B keeps asking (every second) and never gets a lock while A holds them.
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(
            session_locks(&db).await,
            simpul_projections::READ_MODELS.len() as i64
        );
    }
    let _ = stop_a.send(true);
    a.await.unwrap();

    let (_, command) = activity(ActivityKind::Networking);
    let second = executor
        .execute(&id, command, &context(ActorRole::Pegiat))
        .await
        .unwrap();
    wait_until_reached(&db, second.position).await;
    // Each of B's projections takes its lock on its own next try (at most a second apart).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while session_locks(&db).await != simpul_projections::READ_MODELS.len() as i64 {
        assert!(
            std::time::Instant::now() < deadline,
            "B holds every lock now"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = stop_b.send(true);
    b.await.unwrap();
    let status = simpul_projections::status(&db.store(), &["community_summary"])
        .await
        .unwrap();
    assert_eq!(status[0].events, 2, "each event applied once");
}

/// Log lines written while a test runs (its own subscriber, on its own thread).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// A runner whose LISTEN connection dies and cannot come back (the database takes no new
// connection) says so, once, and follows the feed by polling. The failure was swallowed (and the
// dead listener answered at once, forever, spinning the loop).
#[tokio::test(flavor = "current_thread")]
async fn a_runner_that_loses_its_listen_connection_says_so_once_and_polls() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    // A current-thread runtime: the runner's tasks log through this thread's subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = &db.database else {
        unreachable!("a PostgreSQL test database")
    };
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let store = db.store();
    let regions = simpul_regions::bundled().unwrap();
    let summary: Vec<_> = simpul_projections::all(regions)
        .into_iter()
        .filter(|p| p.name() == "community_summary")
        .collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(Runner::new(store.clone()).run(summary, stopped));

    // (Not from a connection to the database itself: PostgreSQL refuses to lock that one out.)
    let admin = sqlx::PgPool::connect(&test_server_url()).await.unwrap();
    const LISTENER: &str =
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let listener: i32 = loop {
        let found: Option<i32> = sqlx::query_scalar(LISTENER)
            .bind(&name)
            .fetch_optional(&admin)
            .await
            .unwrap();
        if let Some(pid) = found {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the runner never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // No new connection, and none idle in the pool: the listener cannot come back. (The
    // runner's lock session stays: it holds an advisory lock.)
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND (pid = $2 OR pid NOT IN
                (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted))",
    )
    .bind(&name)
    .bind(listener)
    .execute(&admin)
    .await
    .unwrap();
    let said = || {
        String::from_utf8(captured.0.lock().unwrap().clone())
            .unwrap()
            .contains("lost the LISTEN connection")
    };
    while !said() {
        assert!(
            std::time::Instant::now() < deadline,
            "the loss was never logged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Connections again: the read model follows by polling.
    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&admin)
        .await
        .unwrap();
    let position = db
        .executor()
        .execute(
            &uuid::Uuid::new_v4().to_string(),
            form(SLEMAN_DESA, 12),
            &context(ActorRole::Regency),
        )
        .await
        .unwrap()
        .position;
    while !simpul_projections::has_reached(&store, "community_summary", position)
        .await
        .unwrap()
    {
        assert!(std::time::Instant::now() < deadline, "never caught up");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    runner.await.unwrap();
    admin.close().await;
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        log.matches("lost the LISTEN connection").count(),
        1,
        "{log}"
    );
}

// The status counts what a read model has not applied yet, and says 0 once it has — without
// counting the whole log when it is caught up (docs/benchmarks.md, `/status`).
both_backends!(
    status_counts_the_events_a_read_model_has_not_applied,
    |db: TestDb| async move {
        let executor = db.executor();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form("34.02.01.2001", 20), &context(ActorRole::Regency))
            .await
            .unwrap();
        let runner = Runner::new(db.store());
        let regions = simpul_regions::bundled().unwrap();
        let summary = simpul_projections::all(regions)
            .into_iter()
            .find(|p| p.name() == "community_summary")
            .unwrap();
        runner.catch_up(summary.as_ref()).await.unwrap();
        let lag = |status: Vec<simpul_projections::ProjectionStatus>| {
            status.iter().map(|s| s.lag_events).collect::<Vec<_>>()
        };
        let names = ["community_summary", "audit_trail"];
        let status = simpul_projections::status(&db.store(), &names)
            .await
            .unwrap();
        assert_eq!(lag(status), [0, 1]);

        for _ in 0..2 {
            let (_, command) = activity(ActivityKind::ConventionalForum);
            executor
                .execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
        }
        let status = simpul_projections::status(&db.store(), &names)
            .await
            .unwrap();
        assert_eq!(lag(status), [2, 3]);

        runner.catch_up(summary.as_ref()).await.unwrap();
        let status = simpul_projections::status(&db.store(), &names)
            .await
            .unwrap();
        assert_eq!(lag(status), [0, 3]);
    }
);

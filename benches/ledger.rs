//! The verifiable ledger and the reads "as of" (issue 13), each against a baseline in the same
//! run (PostgreSQL):
//! - ledger build (the `ledger` read model rebuilt from the log) events/s against SHA-256 of the
//!   same canonical bytes alone (in memory), and against reading the feed alone;
//! - `audit verify` events/s over the whole log, against reading the feed alone;
//! - command latency (8 writers) with every read model following, against the same without the
//!   ledger, rounds alternating (`SIMPUL_BENCH_ROUNDS`, default 10, after one unmeasured);
//! - the dashboard and a list page "as of" a date (`community_history`) against the current
//!   dashboard (the incrementally kept `stage_dashboard`).
//!
//! Run: `cargo bench --bench ledger` (`SIMPUL_BENCH_COMMUNITIES`, default 50 000 KIM of 10 events
//! each — about the KIM count of the scale-10 demo; `SIMPUL_BENCH_SECONDS` per latency round,
//! default 5; `SIMPUL_TEST_DATABASE_URL` names the server; the bench creates and drops its
//! database).

use std::sync::Arc;
use std::time::{Duration, Instant};

use simpul_app::ledger::verify::{verify, VerifyOptions};
use simpul_app::ledger::{CheckpointPolicy, Checkpointer};
use simpul_app::{CommandExecutor, Principal, Reads};
use simpul_domain::{CommunityServices, RegionCode, RegionLevel};
use simpul_ledger::{canonical_event, leaf_hash, EventFields, LedgerKey};
use simpul_projections::{Driver, Projection, Runner};
use simpul_store::{Database, DatabaseUrl, EventStore};

#[path = "common.rs"]
mod common;

use common::percentile;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() -> anyhow::Result<()> {
    let communities = env_number("SIMPUL_BENCH_COMMUNITIES", 50_000);
    let seconds = env_number("SIMPUL_BENCH_SECONDS", 5);
    common::with_database("simpul_bench_ledger", |url| async move {
        bench(&url, communities, seconds).await
    })
    .await
}

async fn bench(url: &str, communities: u64, seconds: u64) -> anyhow::Result<()> {
    let db = Database::connect_and_migrate(&DatabaseUrl::parse(url)?).await?;
    let Database::Postgres(pool) = &db else {
        anyhow::bail!("PostgreSQL only");
    };
    let regions = simpul_regions::bundled()?;
    let villages: Vec<String> = regions
        .at_level(RegionLevel::Village)
        .take(5000)
        .map(|v| v.code.to_string())
        .collect();
    sqlx::query(include_str!("rebuild_formed.sql"))
        .bind(&villages)
        .bind(i64::try_from(communities)?)
        .execute(pool)
        .await?;
    sqlx::query(include_str!("rebuild_activities.sql"))
        .bind(i64::try_from(communities)?)
        .execute(pool)
        .await?;
    let store = EventStore::new(db.clone());
    let total = store.count().await?;
    println!("log: {total} events of {communities} KIM");

    // Reading the feed alone (the ceiling of anything that follows it), keeping the events.
    let started = Instant::now();
    let (mut cursor, mut events) = (0, Vec::with_capacity(usize::try_from(total)?));
    loop {
        let batch = store.read_all(cursor, 5000).await?;
        let Some(last) = batch.last() else { break };
        cursor = last.position;
        events.extend(batch);
    }
    let read_rate = events.len() as f64 / started.elapsed().as_secs_f64();

    // SHA-256 of the same canonical bytes alone: rendered first, then only hashed.
    let bytes: Vec<Vec<u8>> = events
        .iter()
        .map(|event| {
            let metadata = serde_json::to_value(&event.metadata)?;
            Ok(canonical_event(&EventFields {
                community_id: &event.aggregate_id,
                sequence: event.sequence,
                event_type: &event.event_type,
                event_version: &event.event_version,
                payload: &event.payload,
                metadata: &metadata,
            })?)
        })
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let mut sink = 0u8;
    for item in &bytes {
        sink ^= leaf_hash(item)[0];
    }
    let hash_rate = bytes.len() as f64 / started.elapsed().as_secs_f64();
    drop(bytes);
    drop(events);

    // The ledger built from the log (a rebuild: shadow tables, then swap).
    let runner = Runner::new(store.clone());
    let ledger: Arc<dyn Projection> = Arc::new(Driver(simpul_projections::ledger::Ledger));
    let started = Instant::now();
    let built = runner.rebuild(ledger.as_ref(), &|_, _| {}).await?;
    let build_rate = built as f64 / started.elapsed().as_secs_f64();
    println!(
        "ledger build: {build_rate:.0} events/s; SHA-256 alone {hash_rate:.0}/s (ratio {:.2}×); feed read alone {read_rate:.0}/s ({:.2}×) [{sink}]",
        build_rate / hash_rate,
        build_rate / read_rate
    );

    // audit verify over the whole log, with one checkpoint at its end.
    let key = LedgerKey::from_seed("bench/ledger", &[1; 32])?;
    let verifier = key.verifier();
    let policy = CheckpointPolicy {
        every: 1,
        interval: Duration::from_secs(3600),
    };
    let mut checkpointer = Checkpointer::new(db.clone(), key, "bench/ledger", policy).await?;
    checkpointer.cut().await?;
    // Three runs; the median is reported (the machine is noisy).
    let mut rates = Vec::new();
    let mut events = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let report = verify(
            &store,
            &VerifyOptions {
                verifier: verifier.clone(),
                checkpoint: None,
            },
        )
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
        rates.push(report.events as f64 / started.elapsed().as_secs_f64());
        events = report.events;
    }
    rates.sort_by(f64::total_cmp);
    let verify_rate = rates[1];
    println!(
        "audit verify: {verify_rate:.0} events/s, median of 3 ({:.0}–{:.0}; {events} events); feed read alone {read_rate:.0}/s ({:.2}×)",
        rates[0],
        rates[2],
        verify_rate / read_rate
    );

    // The other read models, built once (the bulk path), so the reads below and the runs that
    // follow start level.
    for projection in simpul_projections::all(regions) {
        if projection.name() != simpul_projections::ledger::NAME {
            runner.rebuild(projection.as_ref(), &|_, _| {}).await?;
        }
    }

    // Reads as of a date against the current dashboard.
    let executor = Arc::new(CommandExecutor::new(
        store.clone(),
        CommunityServices::new(Arc::new(regions)),
    ));
    let reads = Reads::new(executor.clone(), regions);
    let operator = Principal::operator();
    let at = chrono::DateTime::parse_from_rfc3339("2025-06-30T00:00:00Z")?.to_utc();
    let province = RegionCode::parse(&villages[0][..2])?;
    let mut timings: [(&str, Vec<Duration>); 4] = [
        ("current dashboard (national)", Vec::new()),
        ("dashboard as of (national)", Vec::new()),
        ("dashboard as of (province)", Vec::new()),
        ("list page as of (province, 50)", Vec::new()),
    ];
    for _ in 0..100 {
        let started = Instant::now();
        reads.dashboard(&operator, None).await?;
        timings[0].1.push(started.elapsed());
        let started = Instant::now();
        reads.dashboard_at(&operator, None, Some(at)).await?;
        timings[1].1.push(started.elapsed());
        let started = Instant::now();
        reads
            .dashboard_at(&operator, Some(&province), Some(at))
            .await?;
        timings[2].1.push(started.elapsed());
        let started = Instant::now();
        let query = simpul_app::CommunityQuery {
            region: Some(province.clone()),
            limit: 50,
            ..Default::default()
        };
        reads.communities_at(&operator, query, at).await?;
        timings[3].1.push(started.elapsed());
    }
    for (name, values) in &mut timings {
        let p50 = percentile(values, 0.5);
        let p99 = percentile(values, 0.99);
        println!("{name}: p50 {p50:.1} ms, p99 {p99:.1} ms");
    }

    // Command latency with the ledger following, against without it: after a VACUUM ANALYZE
    // (the seed's and the build's writes leave autovacuum work that would land on the first
    // round) and one round unmeasured, `SIMPUL_BENCH_ROUNDS` rounds (default 10) alternating
    // without / with, each pair's p99 ratio reported and their median.
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    let rounds = env_number("SIMPUL_BENCH_ROUNDS", 10);
    let mut with_ledger = Vec::new();
    let mut without = Vec::new();
    let mut pair_ratios = Vec::new();
    let mut last_without_p99 = f64::NAN;
    for round in 0..=rounds {
        let follow_ledger = round % 2 == 0;
        let projections: Vec<Arc<dyn Projection>> = simpul_projections::all(regions)
            .into_iter()
            .filter(|p| follow_ledger || p.name() != simpul_projections::ledger::NAME)
            .collect();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let follower = tokio::spawn(Runner::new(store.clone()).run(projections, stopped));
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut writers = Vec::new();
        for writer in 0..8u64 {
            let executor = executor.clone();
            writers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let kim = format!("bench-{}", 1 + (writer * 997 + n * 13) % communities);
                    n += 1;
                    let command = common::networking_activity((2025, 3, 1))?;
                    let started = Instant::now();
                    executor
                        .execute(&kim, command, &common::writer_context())
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    latencies.push(started.elapsed());
                }
                Ok::<_, anyhow::Error>(latencies)
            }));
        }
        let mut latencies = Vec::new();
        for writer in writers {
            latencies.extend(writer.await??);
        }
        let _ = stop.send(true);
        follower.await?;
        if round == 0 {
            continue; // warm-up
        }
        let count = latencies.len();
        let p99 = percentile(&mut latencies.clone(), 0.99);
        println!(
            "  round {round} ({}): {count} commands, p50 {:.2} ms, p99 {p99:.2} ms",
            if follow_ledger {
                "with the ledger"
            } else {
                "without"
            },
            percentile(&mut latencies.clone(), 0.5),
        );
        if follow_ledger {
            pair_ratios.push(p99 / last_without_p99);
            with_ledger.extend(latencies);
        } else {
            last_without_p99 = p99;
            without.extend(latencies);
        }
    }
    let (with_count, without_count) = (with_ledger.len(), without.len());
    let with_p99 = percentile(&mut with_ledger, 0.99);
    let without_p99 = percentile(&mut without, 0.99);
    pair_ratios.sort_by(f64::total_cmp);
    println!(
        "command p99, 8 writers: with the ledger following {with_p99:.2} ms ({with_count} commands), without {without_p99:.2} ms ({without_count}); ratio {:.2}× (p50 {:.2} vs {:.2} ms); per pair of rounds {:?}, median {:.2}×",
        with_p99 / without_p99,
        percentile(&mut with_ledger, 0.5),
        percentile(&mut without, 0.5),
        pair_ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>(),
        pair_ratios.get(pair_ratios.len() / 2).copied().unwrap_or(f64::NAN),
    );
    Ok(())
}

//! Benchmarks at national scale (issue 6), PostgreSQL, one run per scale:
//! - `demo seed` events/s (planning + `append_bulk`) against a raw `COPY` of the same rows into
//!   an events-shaped table (the baseline);
//! - rebuild of every read model;
//! - dashboard, community list and audit queries, p50/p99, cold (first pass, new connections)
//!   and warm;
//! - command append p50/p99 and throughput with 8 writers while a rebuild runs;
//! - process RSS idle and under that load (executor, runner and pools live in this process,
//!   as in `simpul serve`; the process has also held the baseline's COPY dump, so read RSS as
//!   an upper bound).
//!
//! Run: `SIMPUL_BENCH_SCALES=1,10 cargo bench --bench scale` (default `1`);
//! `SIMPUL_TEST_DATABASE_URL` names the server; the bench creates and drops its databases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use simpul_app::demo::{seed, BulkSeeder};
use simpul_app::CommandExecutor;
use simpul_demo::DemoConfig;
use simpul_domain::CommunityServices;
use simpul_projections::{audit_trail, community_summary, stage_dashboard, Runner};
use simpul_store::{Database, DatabaseUrl, EventStore, KeyStore, MasterKey};

#[path = "common.rs"]
mod common;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

fn rss_mib() -> u64 {
    common::rss_kib() / 1024
}

fn percentiles(values: &mut [Duration]) -> (f64, f64) {
    (
        common::percentile(values, 0.5),
        common::percentile(values, 0.99),
    )
}

async fn run() -> anyhow::Result<()> {
    let scales: Vec<u32> = std::env::var("SIMPUL_BENCH_SCALES")
        .unwrap_or_else(|_| "1".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    for scale in scales {
        common::with_database(
            "simpul_scale",
            |url| async move { bench(&url, scale).await },
        )
        .await?;
    }
    Ok(())
}

async fn bench(url: &str, scale: u32) -> anyhow::Result<()> {
    let db = Database::connect_and_migrate(&DatabaseUrl::parse(url)?).await?;
    let Database::Postgres(pool) = &db else {
        anyhow::bail!("PostgreSQL only");
    };
    let regions = simpul_regions::bundled()?;
    let services = CommunityServices::new(Arc::new(regions));
    let store = EventStore::new(db.clone());
    let keys = KeyStore::new(db.clone(), MasterKey::generate());
    let rss_start = rss_mib();
    println!("\n## scale {scale}\n");

    // 1. Generator through append_bulk.
    let config = DemoConfig::new(scale, 1, simpul_demo::DEFAULT_UNTIL)?;
    let mut seeder = BulkSeeder::new(store.clone(), keys, services.clone(), config);
    let started = Instant::now();
    let outcome = seed(&mut seeder, regions, None, &|_, _| {}).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let events = outcome.written.events;
    let seed_rate = events as f64 / seed_seconds;

    // Baseline: the same rows, already rendered, with one raw COPY into an events-shaped table.
    // Same columns, primary key, identity position, txid default and indexes (no trigger).
    sqlx::query("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        .execute(pool)
        .await?;
    let mut dump = Vec::new();
    {
        let mut connection = pool.acquire().await?;
        let mut out = connection
            .copy_out_raw(
                "COPY (SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                              payload, metadata FROM events ORDER BY position)
                 TO STDOUT WITH (FORMAT csv)",
            )
            .await?;
        use futures::StreamExt as _;
        while let Some(chunk) = out.next().await {
            dump.extend_from_slice(&chunk?);
        }
    }
    let started = Instant::now();
    {
        let mut tx = pool.begin().await?;
        let mut copy = tx
            .copy_in_raw(
                "COPY raw_events (aggregate_type, aggregate_id, sequence, event_type,
                                  event_version, payload, metadata) FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        for chunk in dump.chunks(1 << 20) {
            copy.send(chunk).await?;
        }
        copy.finish().await?;
        tx.commit().await?;
    }
    let copy_rate = events as f64 / started.elapsed().as_secs_f64();
    drop(dump);
    sqlx::query("DROP TABLE raw_events").execute(pool).await?;

    // 2. Rebuild every read model.
    let runner = Runner::new(store.clone());
    let mut rebuilds = Vec::new();
    for projection in simpul_projections::all(regions) {
        let started = Instant::now();
        let applied = runner.rebuild(projection.as_ref(), &|_, _| {}).await?;
        rebuilds.push((
            projection.name(),
            applied as f64 / started.elapsed().as_secs_f64(),
        ));
    }
    let rss_idle = rss_mib();

    // 3. Queries, cold (a fresh pool, first pass) then warm.
    let province_codes: Vec<String> = {
        let mut codes: Vec<String> = regions
            .children(&simpul_domain::RegionCode::parse("35")?)
            .iter()
            .map(|r| r.code.to_string())
            .collect();
        codes.push("35".to_owned());
        codes
    };
    let mut report = Vec::new();
    for pass in ["cold", "warm"] {
        let qdb = Database::connect(&DatabaseUrl::parse(url)?).await?;
        let rounds = if pass == "cold" { 50 } else { 300 };
        let (mut dash, mut list, mut audit) = (Vec::new(), Vec::new(), Vec::new());
        let provinces: Vec<String> = regions
            .provinces()
            .into_iter()
            .map(|p| p.code.to_string())
            .collect();
        for round in 0..rounds {
            let province = &provinces[round % provinces.len()];
            let started = Instant::now();
            stage_dashboard::query::cells(&qdb, &province_codes).await?;
            dash.push(started.elapsed());
            let started = Instant::now();
            community_summary::query::list(
                &qdb,
                &community_summary::query::ListFilter {
                    region: Some(province.clone()),
                    stage: Some("kim3".to_owned()),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await?;
            list.push(started.elapsed());
            let started = Instant::now();
            audit_trail::query::list(
                &qdb,
                &audit_trail::query::AuditFilter {
                    region: Some(province.clone()),
                    event_type: Some("StageAdvanced".to_owned()),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await?;
            audit.push(started.elapsed());
        }
        report.push((
            pass,
            percentiles(&mut dash),
            percentiles(&mut list),
            percentiles(&mut audit),
        ));
        qdb.close().await;
    }

    // 4. 8 writers appending while a rebuild of community_summary runs.
    let executor = Arc::new(CommandExecutor::new(store.clone(), services.clone()));
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT community_id FROM community_summary WHERE status = 'active' ORDER BY community_id LIMIT 800",
    )
    .fetch_all(pool)
    .await?;
    let ids = Arc::new(ids);
    let rebuild_runner = Runner::new(store.clone());
    let summary = simpul_projections::all(regions)
        .into_iter()
        .find(|p| p.name() == "community_summary")
        .context("community_summary")?;
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_idle));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..8usize {
        let executor = executor.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in 0..150usize {
                let id = &ids[(writer * 150 + n) % ids.len().max(1)];
                let command = common::networking_activity((2026, 1, 15))?;
                let context = common::writer_context();
                let t = Instant::now();
                executor.execute(id, command, &context).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>((latencies, Instant::now()))
        }));
    }
    let sampler_peak = peak.clone();
    let rebuild = async {
        rebuild_runner
            .rebuild(summary.as_ref(), &|_, _| {
                sampler_peak.fetch_max(rss_mib(), std::sync::atomic::Ordering::Relaxed);
            })
            .await
    };
    let rebuilt = rebuild.await?;
    let mut appends = Vec::new();
    let mut write_seconds: f64 = 0.0;
    for task in tasks {
        let (latencies, finished) = task.await??;
        appends.extend(latencies);
        write_seconds = write_seconds.max((finished - started).as_secs_f64());
    }
    let throughput = appends.len() as f64 / write_seconds;
    let (a50, a99) = percentiles(&mut appends);
    let rss_load = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(rss_mib());

    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
            .fetch_one(pool)
            .await?;
    println!(
        "data: {} KIM, {events} events, database {size}",
        outcome.communities
    );
    println!("| what | value |");
    println!("|---|---|");
    println!(
        "| demo seed (plan + decide + append_bulk) | {seed_rate:.0} events/s ({seed_seconds:.1} s) |"
    );
    println!("| raw COPY of the same rows (baseline) | {copy_rate:.0} events/s |");
    println!("| seed / raw COPY | {:.2}× |", seed_rate / copy_rate);
    for (name, rate) in &rebuilds {
        println!("| rebuild `{name}` | {rate:.0} events/s |");
    }
    for (pass, dash, list, audit) in &report {
        println!(
            "| queries {pass}: dashboard p50/p99 | {:.2} / {:.2} ms |",
            dash.0, dash.1
        );
        println!(
            "| queries {pass}: community list p50/p99 | {:.2} / {:.2} ms |",
            list.0, list.1
        );
        println!(
            "| queries {pass}: audit p50/p99 | {:.2} / {:.2} ms |",
            audit.0, audit.1
        );
    }
    println!(
        "| 8 writers during a community_summary rebuild ({rebuilt} events): append p50/p99 | {a50:.1} / {a99:.1} ms, {throughput:.0} commands/s |"
    );
    println!("| RSS at start / idle after rebuilds / peak under load | {rss_start} / {rss_idle} / {rss_load} MiB |");
    Ok(())
}

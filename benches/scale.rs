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
use simpul_app::demo::{seed, BulkSeeder, CHUNK_EVENTS};
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
    let import_rows: usize = std::env::var("SIMPUL_BENCH_IMPORT_ROWS")
        .ok()
        .and_then(|rows| rows.trim().parse().ok())
        .unwrap_or(20_000);
    if import_rows > 0 {
        common::with_database("simpul_import", |url| async move {
            import_bench(&url, import_rows).await
        })
        .await?;
    }
    Ok(())
}

/// The baselines of a bulk write: the rows of `events`, dumped as CSV to a scratch file (so memory
/// does not grow with the scale), then raw `COPY`s of them into an events-shaped table — same
/// columns, primary key, identity position, `txid` default and indexes (no trigger) — once in
/// one transaction, once in transactions of [`CHUNK_EVENTS`] rows as the seed writes. Returns
/// events/s of each `COPY` alone: (one transaction, chunked).
async fn raw_copy_rates(
    pool: &sqlx::PgPool,
    events: u64,
    chunked: bool,
) -> anyhow::Result<(f64, f64)> {
    use futures::StreamExt as _;
    use std::io::Write as _;

    let dump_path = std::env::temp_dir().join(format!("simpul-bench-{}.csv", std::process::id()));
    {
        let mut dump = std::io::BufWriter::new(std::fs::File::create(&dump_path)?);
        let mut connection = pool.acquire().await?;
        let mut out = connection
            .copy_out_raw(
                "COPY (SELECT aggregate_type, aggregate_id, sequence, event_type, event_version,
                              payload, metadata FROM events ORDER BY position)
                 TO STDOUT WITH (FORMAT csv)",
            )
            .await?;
        while let Some(chunk) = out.next().await {
            dump.write_all(&chunk?)?;
        }
        dump.flush()?;
    }
    let whole = raw_copy_seconds(pool, &dump_path, usize::MAX).await;
    let chunked = if chunked {
        raw_copy_seconds(pool, &dump_path, CHUNK_EVENTS)
            .await
            .map(|seconds| events as f64 / seconds)
    } else {
        Ok(f64::NAN)
    };
    std::fs::remove_file(&dump_path)?;
    Ok((events as f64 / whole?, chunked?))
}

/// Seconds to `COPY` the dump into a new events-shaped table, committing every
/// `rows_per_transaction` rows. (The dump's rows have no line break inside a field: JSON escapes
/// them.)
async fn raw_copy_seconds(
    pool: &sqlx::PgPool,
    dump_path: &std::path::Path,
    rows_per_transaction: usize,
) -> anyhow::Result<f64> {
    use std::io::BufRead as _;
    const STATEMENT: &str = "COPY raw_events (aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata) FROM STDIN WITH (FORMAT csv)";
    sqlx::query("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        .execute(pool)
        .await?;
    let started = Instant::now();
    let copied = async {
        let mut dump = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(dump_path)?);
        let mut piece = Vec::with_capacity(2 << 20);
        let mut tx = pool.begin().await?;
        let mut copy = tx.copy_in_raw(STATEMENT).await?;
        let mut rows = 0;
        loop {
            let n = dump.read_until(b'\n', &mut piece)?;
            if n > 0 {
                rows += 1;
            }
            if piece.len() >= 1 << 20
                || (n == 0 && !piece.is_empty())
                || rows == rows_per_transaction
            {
                copy.send(piece.as_slice()).await?;
                piece.clear();
            }
            if n == 0 {
                break;
            }
            if rows == rows_per_transaction {
                copy.finish().await?;
                tx.commit().await?;
                tx = pool.begin().await?;
                copy = tx.copy_in_raw(STATEMENT).await?;
                rows = 0;
            }
        }
        copy.finish().await?;
        tx.commit().await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let seconds = started.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE raw_events").execute(pool).await?;
    copied?;
    Ok(seconds)
}

/// Whether to run the second baseline (`COPY` in transactions of [`CHUNK_EVENTS`] rows):
/// `SIMPUL_BENCH_CHUNKED_BASELINE=0` leaves it out (at scale 100 it takes a quarter of an hour).
fn chunked_baseline() -> bool {
    std::env::var("SIMPUL_BENCH_CHUNKED_BASELINE").map_or(true, |v| v.trim() != "0")
}

/// What every bench of this file starts from: a migrated PostgreSQL database and the services on it.
struct Setup {
    db: Database,
    pool: sqlx::PgPool,
    regions: &'static simpul_regions::Regions,
    services: CommunityServices,
    store: EventStore,
    keys: KeyStore,
}

impl Setup {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        let db = Database::connect_and_migrate(&DatabaseUrl::parse(url)?).await?;
        let Database::Postgres(pool) = &db else {
            anyhow::bail!("PostgreSQL only");
        };
        let regions = simpul_regions::bundled()?;
        Ok(Self {
            pool: pool.clone(),
            services: CommunityServices::new(Arc::new(regions)),
            store: EventStore::new(db.clone()),
            keys: KeyStore::new(db.clone(), MasterKey::generate()),
            regions,
            db,
        })
    }
}

/// `simpul import` of a registry of `rows` KIM into an empty store, against a raw `COPY` of the
/// events it wrote; then the same file again (nothing to write: every row is read back and
/// compared).
async fn import_bench(url: &str, rows: usize) -> anyhow::Result<()> {
    let Setup {
        db,
        pool,
        regions,
        services,
        store,
        keys,
    } = Setup::connect(url).await?;
    let pool = &pool;
    let file = common::registry_csv(regions, rows)?;
    let context = simpul_app::CommandContext {
        actor_id: "cli:bench".to_owned(),
        actor_role: simpul_domain::ActorRole::Admin,
        request_id: "bench-import".to_owned(),
        expected_version: None,
    };
    let request = || simpul_app::import::ImportRequest {
        file_name: "registry-bench.csv",
        bytes: &file,
        context: &context,
        scope: &simpul_app::Scope::National,
        dry_run: false,
        recorded_at: chrono::Utc::now(),
    };
    let started = Instant::now();
    let report = simpul_app::import::run(&store, &keys, &services, request()).await?;
    let import_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        !report.failed(),
        "the bench registry must import: {:?}",
        report.errors.first()
    );
    let events = report.events as u64;
    let started = Instant::now();
    let again = simpul_app::import::run(&store, &keys, &services, request()).await?;
    let again_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        again.events == 0 && again.unchanged == rows,
        "re-import wrote events"
    );
    let (copy_rate, _) = raw_copy_rates(pool, events, false).await?;
    let import_rate = events as f64 / import_seconds;
    println!("\n## import\n");
    println!("| what | value |");
    println!("|---|---|");
    println!(
        "| import of {rows} rows ({} bytes) → {events} events | {import_rate:.0} events/s, {:.0} rows/s ({import_seconds:.1} s) |",
        file.len(),
        rows as f64 / import_seconds
    );
    println!("| raw COPY of the same rows (baseline) | {copy_rate:.0} events/s |");
    println!("| import / raw COPY | {:.2}× |", import_rate / copy_rate);
    println!(
        "| re-import of the same file (every row unchanged) | {:.0} rows/s ({again_seconds:.1} s) |",
        rows as f64 / again_seconds
    );
    db.close().await;
    Ok(())
}

async fn bench(url: &str, scale: u32) -> anyhow::Result<()> {
    let Setup {
        db: _,
        pool,
        regions,
        services,
        store,
        keys,
    } = Setup::connect(url).await?;
    let pool = &pool;
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
    eprintln!(
        "[scale {scale}] seed: {events} events in {seed_seconds:.1} s, {seed_rate:.0} events/s"
    );

    let (copy_rate, chunked_rate) = raw_copy_rates(pool, events, chunked_baseline()).await?;
    eprintln!(
        "[scale {scale}] raw COPY: {copy_rate:.0} events/s, chunked {chunked_rate:.0} events/s"
    );

    // 2. Rebuild every read model.
    let runner = Runner::new(store.clone());
    let mut rebuilds = Vec::new();
    for projection in simpul_projections::all(regions) {
        let started = Instant::now();
        let applied = runner.rebuild(projection.as_ref(), &|_, _| {}).await?;
        let rate = applied as f64 / started.elapsed().as_secs_f64();
        eprintln!(
            "[scale {scale}] rebuild {}: {rate:.0} events/s",
            projection.name()
        );
        rebuilds.push((projection.name(), rate));
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
                    stage: Some(simpul_domain::Stage::Kim3),
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
        let measured = (
            pass,
            percentiles(&mut dash),
            percentiles(&mut list),
            percentiles(&mut audit),
        );
        eprintln!(
            "[scale {scale}] queries {pass} p50/p99 ms: dashboard {:.2}/{:.2}, list {:.2}/{:.2}, audit {:.2}/{:.2}",
            measured.1 .0, measured.1 .1, measured.2 .0, measured.2 .1, measured.3 .0, measured.3 .1
        );
        report.push(measured);
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
    println!("| raw COPY of the same rows, one transaction (baseline) | {copy_rate:.0} events/s |");
    println!("| seed / raw COPY | {:.2}× |", seed_rate / copy_rate);
    println!(
        "| raw COPY in transactions of {CHUNK_EVENTS} rows, as the seed commits | {chunked_rate:.0} events/s |"
    );
    println!(
        "| seed / chunked raw COPY | {:.2}× |",
        seed_rate / chunked_rate
    );
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

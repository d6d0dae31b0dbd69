//! Read-model rebuild throughput, in one run against two references on the same data:
//! (a) the ceiling — a plain sequential read of the feed (`EventStore::read_all` in batches);
//! (b) the baseline — cqrs-es' own `QueryReplay` into a `GenericQuery` over postgres-es'
//! `PostgresViewRepository`, the way cqrs-es rebuilds views.
//! Also: latency from command accepted to visible in `community_summary` with 8 writers while the
//! runner follows, and dashboard query latency. PostgreSQL only.
//!
//! Run: `cargo bench --bench rebuild` (`SIMPUL_BENCH_COMMUNITIES`, default 10 000, each with 10
//! events; `SIMPUL_TEST_DATABASE_URL` names the server; the bench creates and drops its database).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::persist::{GenericQuery, QueryReplay};
use cqrs_es::{Aggregate as _, EventEnvelope, View};
use postgres_es::{PostgresEventRepository, PostgresViewRepository};
use serde::{Deserialize, Serialize};
use simpul_app::CommandExecutor;
use simpul_domain::{Community, CommunityServices, RegionLevel};
use simpul_projections::Runner;
use simpul_store::{Database, DatabaseUrl, EventStore};

#[path = "common.rs"]
mod common;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SummaryView {
    community: Community,
}

impl View<Community> for SummaryView {
    fn update(&mut self, event: &EventEnvelope<Community>) {
        self.community.apply(event.payload.clone());
    }
}

use common::{percentile, rss_kib};

async fn run() -> anyhow::Result<()> {
    let communities: i64 = std::env::var("SIMPUL_BENCH_COMMUNITIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    common::with_database("simpul_bench", |url| async move {
        bench(&url, communities).await
    })
    .await
}

async fn bench(url: &str, communities: i64) -> anyhow::Result<()> {
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
    let started = Instant::now();
    sqlx::query(include_str!("rebuild_formed.sql"))
        .bind(&villages)
        .bind(communities)
        .execute(pool)
        .await?;
    sqlx::query(include_str!("rebuild_activities.sql"))
        .bind(communities)
        .execute(pool)
        .await?;
    let store = EventStore::new(db.clone());
    let total = store.count().await?;
    eprintln!(
        "generated {total} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // (a) The ceiling: read the whole feed.
    let started = Instant::now();
    let (mut cursor, mut read) = (0, 0u64);
    loop {
        let batch = store.read_all(cursor, 500).await?;
        let Some(last) = batch.last() else { break };
        cursor = last.position;
        read += batch.len() as u64;
    }
    let read_rate = read as f64 / started.elapsed().as_secs_f64();

    // Simpul: rebuild every read model (zero-downtime path: shadow tables, then swap).
    let rss_before = rss_kib();
    let mut peak = rss_before;
    let runner = Runner::new(store.clone());
    let mut rows = Vec::new();
    let mut all_seconds = 0.0;
    let sampled = std::sync::atomic::AtomicU64::new(rss_before);
    for projection in simpul_projections::all(regions) {
        let started = Instant::now();
        // RSS sampled after every batch of the rebuild.
        let events = runner
            .rebuild(projection.as_ref(), &|_, _| {
                sampled.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
            })
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        all_seconds += seconds;
        peak = peak.max(sampled.load(std::sync::atomic::Ordering::Relaxed));
        eprintln!(
            "rebuilt {} ({events} events) in {seconds:.1} s, RSS peak so far {} MiB",
            projection.name(),
            peak / 1024
        );
        rows.push((projection.name(), events, events as f64 / seconds));
    }

    // (b) The baseline: cqrs-es QueryReplay into a GenericQuery (one view row per community).
    sqlx::query("CREATE TABLE summary_view (view_id text PRIMARY KEY, version bigint NOT NULL, payload json NOT NULL)")
        .execute(pool)
        .await?;
    let view_repo = Arc::new(PostgresViewRepository::<SummaryView, Community>::new(
        "summary_view",
        pool.clone(),
    ));
    let query = GenericQuery::<_, SummaryView, Community>::new(view_repo);
    let replay = QueryReplay::new(PostgresEventRepository::new(pool.clone()), query);
    // At ~1k events/s a full replay of a large log takes too long: above 200 000 events, replay
    // the first 20 000 communities one by one (the same code path, per aggregate).
    let started = Instant::now();
    let replayed = if total <= 200_000 {
        replay
            .replay_all()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        total
    } else {
        let sample = communities.min(20_000);
        for c in 1..=sample {
            replay
                .replay(&format!("bench-{c}"))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        u64::try_from(sample * 10).unwrap_or(0)
    };
    let replay_rate = replayed as f64 / started.elapsed().as_secs_f64();
    eprintln!("cqrs-es replay of {replayed} events: {replay_rate:.0} events/s");

    // Latency from accepted to visible in community_summary, 8 writers, runner following. One
    // observer polls every millisecond for all pending positions at once, so the measurement
    // itself costs one query per millisecond, not one per writer.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower =
        tokio::spawn(Runner::new(store.clone()).run(simpul_projections::all(regions), stopped));
    let executor = Arc::new(CommandExecutor::new(
        store.clone(),
        CommunityServices::new(Arc::new(regions)),
    ));
    type Pending = (i64, Instant, tokio::sync::oneshot::Sender<Duration>);
    let (pending_tx, mut pending_rx) = tokio::sync::mpsc::unbounded_channel::<Pending>();
    let observer_pool = pool.clone();
    let observer = tokio::spawn(async move {
        let mut waiting: Vec<Pending> = Vec::new();
        loop {
            while let Ok(p) = pending_rx.try_recv() {
                waiting.push(p);
            }
            if waiting.is_empty() {
                match pending_rx.recv().await {
                    Some(p) => waiting.push(p),
                    None => return Ok::<_, anyhow::Error>(()),
                }
                continue;
            }
            let positions: Vec<i64> = waiting.iter().map(|(p, _, _)| *p).collect();
            let visible: Vec<i64> = sqlx::query_scalar(
                "SELECT t.position FROM events t
                   JOIN feed_commits tc ON tc.batch = t.commit_batch,
                        projection_checkpoints c
                   JOIN events done ON done.position = c.position
                   JOIN feed_commits dc ON dc.batch = done.commit_batch
                  WHERE c.name = 'community_summary' AND t.position = ANY($1)
                    AND (tc.seq, t.position) <= (dc.seq, done.position)",
            )
            .bind(&positions)
            .fetch_all(&observer_pool)
            .await?;
            let now = Instant::now();
            let mut still = Vec::new();
            for (position, accepted, done) in waiting.drain(..) {
                if visible.contains(&position) {
                    let _ = done.send(now - accepted);
                } else {
                    still.push((position, accepted, done));
                }
            }
            waiting = still;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let executor = executor.clone();
        let pending_tx = pending_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for n in 0..60 {
                let id = format!("bench-{}", 1 + (writer * 60 + n) % 1000);
                let command = common::networking_activity((2025, 6, 1))?;
                let context = common::writer_context();
                let outcome = executor.execute(&id, command, &context).await?;
                let accepted = Instant::now();
                let (done, seen) = tokio::sync::oneshot::channel();
                pending_tx
                    .send((i64::try_from(outcome.position)?, accepted, done))
                    .map_err(|_| anyhow::anyhow!("observer stopped"))?;
                latencies.push(seen.await?);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    drop(pending_tx);
    let mut visible = Vec::new();
    for task in tasks {
        visible.extend(task.await??);
    }
    observer.await??;
    let _ = stop.send(true);
    let _ = follower.await;

    // Dashboard query latency (one province and its kabupaten/kota).
    let province = villages
        .first()
        .map(|v| v[..2].to_owned())
        .unwrap_or_default();
    let mut codes: Vec<String> = regions
        .children(&simpul_domain::RegionCode::parse(&province)?)
        .iter()
        .map(|r| r.code.to_string())
        .collect();
    codes.push(province);
    let mut dashboard = Vec::new();
    for _ in 0..500 {
        let started = Instant::now();
        simpul_projections::stage_dashboard::query::cells(&db, &codes).await?;
        dashboard.push(started.elapsed());
    }

    println!();
    println!("events: {total} ({communities} KIM × 10)");
    println!("| what | events/s | vs sequential read | vs cqrs-es QueryReplay |");
    println!("|---|---|---|---|");
    println!(
        "| sequential read of the feed (ceiling) | {read_rate:.0} | 1.00× | {:.1}× |",
        read_rate / replay_rate
    );
    println!(
        "| cqrs-es QueryReplay → GenericQuery (baseline) | {replay_rate:.0} | {:.2}× | 1.0× |",
        replay_rate / read_rate
    );
    for (name, events, rate) in &rows {
        println!(
            "| rebuild `{name}` ({events} events) | {rate:.0} | {:.2}× | {:.1}× |",
            rate / read_rate,
            rate / replay_rate
        );
    }
    let all_rate = 4.0 * total as f64 / all_seconds;
    println!("| rebuild all four (events × models / s) | {all_rate:.0} | | |");
    println!();
    println!(
        "RSS before rebuild {} MiB, peak during {} MiB",
        rss_before / 1024,
        peak / 1024
    );
    println!(
        "accepted → visible in community_summary, 8 writers ({} commands): p50 {:.1} ms, p99 {:.1} ms",
        visible.len(),
        percentile(&mut visible, 0.5),
        percentile(&mut visible, 0.99)
    );
    println!(
        "dashboard cells, one province + its kabupaten/kota (500 queries): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&mut dashboard, 0.5),
        percentile(&mut dashboard, 0.99)
    );
    Ok(())
}

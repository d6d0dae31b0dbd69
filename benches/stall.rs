//! Readers stalled by long operations (issue 13): how long an acknowledged command's event takes
//! to reach a reader of the feed while something else holds a transaction open — an import's
//! write transaction, a read-model rebuild (its shadow tables and `CREATE INDEX`), a transaction
//! in another database of the same cluster — against the same writer with nothing else going on.
//!
//! One writer appends a networking activity through the executor every 25 ms; an observer polls
//! every millisecond, asking two questions of each acknowledged event:
//! - **xmin watermark**: `txid < pg_snapshot_xmin(pg_current_snapshot())`, the condition under
//!   which the feed gave an event until migration `…80_feed_commits` (the stall as it was);
//! - **feed**: whether `EventStore::read_all`, followed from a cursor, has given it (the stall as
//!   it is).
//!
//! Both are measured in the same run, from the command's acknowledgement. PostgreSQL only
//! (SQLite has one writer and no watermark). Run with:
//!
//! ```sh
//! cargo bench --bench stall    # SIMPUL_BENCH_STALL_ROWS: rows of the import (default 3000)
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use simpul_app::{CommandContext, CommandExecutor};
use simpul_domain::commands::FormCommunity;
use simpul_domain::text::CommunityName;
use simpul_domain::{ActorRole, CommunityCommand, CommunityServices, RegionCode};
use simpul_projections::Runner;
use simpul_store::{Database, DatabaseUrl, EventStore, KeyStore, MasterKey};

mod common;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::var("SIMPUL_BENCH_STALL_ROWS")
        .ok()
        .and_then(|rows| rows.trim().parse().ok())
        .unwrap_or(3000);
    common::with_database("simpul_stall", |url| async move { stall(&url, rows).await }).await
}

/// What a disturbance did while the writer wrote: its name and how long it took.
struct Disturbance {
    name: String,
    seconds: f64,
}

/// One acknowledged event: when it was acknowledged, when each reader first saw it.
struct Sample {
    append: Duration,
    watermark: Option<Duration>,
    feed: Option<Duration>,
}

async fn stall(url: &str, rows: usize) -> anyhow::Result<()> {
    let db = Database::connect_and_migrate(&DatabaseUrl::parse(url)?).await?;
    let Database::Postgres(pool) = &db else {
        anyhow::bail!("PostgreSQL only");
    };
    let regions = simpul_regions::bundled()?;
    let services = CommunityServices::new(Arc::new(regions));
    let store = EventStore::new(db.clone());
    let keys = KeyStore::new(db.clone(), MasterKey::generate());
    let executor = Arc::new(CommandExecutor::new(store.clone(), services.clone()));
    let kim = uuid::Uuid::new_v4().to_string();
    executor
        .execute(&kim, form()?, &regency())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let server = std::env::var("SIMPUL_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());

    println!("\n## readers during long operations ({rows}-row import)\n");
    println!(
        "| while | its time | appends | xmin watermark p50 / max | feed p50 / max | append p50 / max |"
    );
    println!("|---|---|---|---|---|---|");
    for scenario in ["nothing else", "import", "rebuild", "other database"] {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // The feed's end before the writer starts: the observer follows it from there.
        let mut cursor = 0;
        loop {
            let page = store.read_all(cursor, 10_000).await?;
            let Some(last) = page.last() else { break };
            cursor = last.position;
        }
        let observer = tokio::spawn(observe(pool.clone(), store.clone(), cursor, rx));
        let writer = tokio::spawn(write(executor.clone(), kim.clone(), stop.clone(), tx));
        // Let the writer and observer settle before the disturbance starts.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let name = match scenario {
            "nothing else" => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "nothing else (2 s)".to_owned()
            }
            "import" => {
                let file = common::registry_csv(regions, rows)?;
                let context = CommandContext {
                    actor_id: "cli:bench".to_owned(),
                    actor_role: ActorRole::Admin,
                    request_id: "bench-stall-import".to_owned(),
                    expected_version: None,
                };
                let report = simpul_app::import::run(
                    &store,
                    &keys,
                    &services,
                    simpul_app::import::ImportRequest {
                        file_name: "stall.csv",
                        bytes: &file,
                        context: &context,
                        scope: &simpul_app::Scope::National,
                        dry_run: false,
                        recorded_at: chrono::Utc::now(),
                    },
                )
                .await?;
                anyhow::ensure!(!report.failed(), "the bench registry must import");
                format!("`simpul import`, {} events", report.events)
            }
            "rebuild" => {
                let runner = Runner::new(store.clone());
                let audit = simpul_projections::all(regions)
                    .into_iter()
                    .find(|p| p.name() == simpul_projections::audit_trail::NAME)
                    .context("audit_trail")?;
                let events = runner.rebuild(audit.as_ref(), &|_, _| {}).await?;
                format!("rebuild `audit_trail`, {events} events")
            }
            _ => {
                let other = sqlx::PgPool::connect(&server).await?;
                let mut open = other.begin().await?;
                sqlx::query("SELECT pg_current_xact_id()")
                    .execute(&mut *open)
                    .await?;
                tokio::time::sleep(Duration::from_secs(2)).await;
                open.rollback().await?;
                other.close().await;
                "a transaction open in another database (2 s)".to_owned()
            }
        };
        let disturbance = Disturbance {
            name,
            seconds: started.elapsed().as_secs_f64(),
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
        writer.await??;
        let samples = observer.await??;
        report(&disturbance, samples);
    }
    db.close().await;
    Ok(())
}

/// Appends one activity every 25 ms until stopped; sends (position, acknowledged at, took).
async fn write(
    executor: Arc<CommandExecutor>,
    kim: String,
    stop: Arc<AtomicBool>,
    tx: tokio::sync::mpsc::UnboundedSender<(u64, Instant, Duration)>,
) -> anyhow::Result<()> {
    let mut day = 0u32;
    while !stop.load(Ordering::SeqCst) {
        day += 1;
        let command = common::networking_activity((2025, 1 + (day / 28) % 12, 1 + day % 28))?;
        let started = Instant::now();
        let outcome = executor
            .execute(&kim, command, &common::writer_context())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let acknowledged = Instant::now();
        let _ = tx.send((outcome.position, acknowledged, acknowledged - started));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}

/// Follows the feed from `cursor` and polls both readers every millisecond until the writer
/// stopped and every event was seen by both (or a minute passed).
async fn observe(
    pool: sqlx::PgPool,
    store: EventStore,
    mut cursor: u64,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(u64, Instant, Duration)>,
) -> anyhow::Result<Vec<Sample>> {
    let mut pending: Vec<(u64, Instant, Sample)> = Vec::new();
    let mut seen_by_feed: std::collections::HashMap<u64, Instant> = Default::default();
    let mut done = Vec::new();
    let mut closed = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(closed && pending.is_empty()) && Instant::now() < deadline {
        loop {
            match rx.try_recv() {
                Ok((position, at, took)) => pending.push((
                    position,
                    at,
                    Sample {
                        append: took,
                        watermark: None,
                        feed: None,
                    },
                )),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let positions: Vec<i64> = pending
            .iter()
            .filter(|(_, _, s)| s.watermark.is_none())
            .map(|(p, _, _)| *p as i64)
            .collect();
        let below: Vec<i64> = if positions.is_empty() {
            Vec::new()
        } else {
            sqlx::query_scalar(
                "SELECT position FROM events WHERE position = ANY($1)
                    AND txid < pg_snapshot_xmin(pg_current_snapshot())",
            )
            .bind(&positions)
            .fetch_all(&pool)
            .await?
        };
        let now = Instant::now();
        // Follow the feed as a projection does (imported events come through it too).
        loop {
            let page = store.read_all(cursor, 10_000).await?;
            let Some(last) = page.last() else { break };
            cursor = last.position;
            for event in &page {
                seen_by_feed.entry(event.position).or_insert(now);
            }
        }
        for (position, at, sample) in &mut pending {
            if sample.watermark.is_none() && below.contains(&(*position as i64)) {
                sample.watermark = Some(now - *at);
            }
            if sample.feed.is_none() {
                if let Some(seen) = seen_by_feed.get(position) {
                    sample.feed = Some(seen.saturating_duration_since(*at));
                }
            }
        }
        let (finished, rest): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, _, s)| s.watermark.is_some() && s.feed.is_some());
        done.extend(finished.into_iter().map(|(_, _, s)| s));
        pending = rest;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    anyhow::ensure!(
        pending.is_empty(),
        "events never seen (position, by the watermark, by the feed): {:?}",
        pending
            .iter()
            .map(|(p, _, s)| (*p, s.watermark.is_some(), s.feed.is_some()))
            .collect::<Vec<_>>()
    );
    Ok(done)
}

fn report(disturbance: &Disturbance, samples: Vec<Sample>) {
    let mut watermark: Vec<Duration> = samples.iter().filter_map(|s| s.watermark).collect();
    let mut feed: Vec<Duration> = samples.iter().filter_map(|s| s.feed).collect();
    let mut append: Vec<Duration> = samples.iter().map(|s| s.append).collect();
    let max = |values: &[Duration]| {
        values
            .iter()
            .max()
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "| {} | {:.2} s | {} | {:.1} / {:.0} ms | {:.1} / {:.0} ms | {:.1} / {:.0} ms |",
        disturbance.name,
        disturbance.seconds,
        samples.len(),
        common::percentile(&mut watermark, 0.5),
        max(&watermark),
        common::percentile(&mut feed, 0.5),
        max(&feed),
        common::percentile(&mut append, 0.5),
        max(&append),
    );
}

fn form() -> anyhow::Result<CommunityCommand> {
    Ok(CommunityCommand::FormCommunity(FormCommunity {
        name: CommunityName::parse("KIM Bench").map_err(|e| anyhow::anyhow!("{e}"))?,
        village: RegionCode::parse("34.04.01.2001").map_err(|e| anyhow::anyhow!("{e}"))?,
        formed_on: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).context("date")?,
        origin_group: None,
        member_count: 12,
        initiated_by: Some("Karang Taruna".to_owned()),
        recorded_by_role: ActorRole::Regency,
    }))
}

fn regency() -> CommandContext {
    CommandContext {
        actor_id: "bench".to_owned(),
        actor_role: ActorRole::Regency,
        request_id: uuid::Uuid::new_v4().to_string(),
        expected_version: None,
    }
}

//! Command append through the store against a raw single-row INSERT into a table of the same
//! shape, in one run, on PostgreSQL at 1 and 8 writers and on SQLite at 1 writer; then the slow
//! case: 16 writers on one busy KIM (1,500 events and growing, every write racing the others)
//! against 16 writers on 16 KIM of their own, through one executor as in `simpul serve`.
//!
//! Run: `cargo bench --bench append` (PostgreSQL at `SIMPUL_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; the bench creates and drops its own database).
//! `SIMPUL_BENCH_SECONDS` sets each window (default 2), `SIMPUL_BENCH_ROUNDS` the rounds (5).
//! Raw and store windows alternate, so drift on a noisy machine hits both alike; medians and
//! their ratio are printed as a Markdown table for `docs/benchmarks.md`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use simpul_app::{CommandContext, CommandExecutor};
use simpul_domain::commands::{FormCommunity, RecordActivity};
use simpul_domain::events::ActivityKind;
use simpul_domain::text::{CommunityName, Title};
use simpul_domain::{ActorRole, CommunityCommand, CommunityServices, RegionCode};
use simpul_store::{Database, DatabaseUrl, EventStore};
use uuid::Uuid;

const COMMUNITIES_PER_WRITER: usize = 16;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

struct Settings {
    window: Duration,
    rounds: usize,
}

#[derive(Default)]
struct Window {
    operations: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Window {
    fn per_second(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings {
        window: Duration::from_secs_f64(env_number("SIMPUL_BENCH_SECONDS", 2.0)),
        rounds: env_number("SIMPUL_BENCH_ROUNDS", 5.0) as usize,
    };
    let server = std::env::var("SIMPUL_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("simpul_bench_{}", Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&server)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let url = format!(
        "{}/{name}",
        server
            .rsplit_once('/')
            .map_or(server.as_str(), |(base, _)| base)
    );
    let result = bench_all(&url, &settings).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    result
}

async fn bench_all(postgres_url: &str, settings: &Settings) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let postgres = Database::connect_and_migrate(&DatabaseUrl::parse(postgres_url)?).await?;
    let Database::Postgres(pool) = &postgres else {
        anyhow::bail!("expected PostgreSQL");
    };
    sqlx::query("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
        .execute(pool)
        .await?;
    for writers in [1, 8] {
        rows.push(compare("PostgreSQL", &postgres, writers, settings).await?);
    }

    let dir = std::env::temp_dir().join(format!("simpul-bench-{}", Uuid::new_v4()));
    let sqlite = Database::connect_and_migrate(&DatabaseUrl::sqlite_in(&dir)).await?;
    if let Database::Sqlite { writer, .. } = &sqlite {
        sqlx::query(
            "CREATE TABLE raw_events (aggregate_type text NOT NULL, aggregate_id text NOT NULL,
             sequence integer NOT NULL, event_type text NOT NULL, event_version text NOT NULL,
             payload text NOT NULL, metadata text NOT NULL, position integer,
             PRIMARY KEY (aggregate_type, aggregate_id, sequence)) STRICT",
        )
        .execute(writer)
        .await?;
        sqlx::query("CREATE UNIQUE INDEX raw_events_position ON raw_events (position)")
            .execute(writer)
            .await?;
    }
    rows.push(compare("SQLite", &sqlite, 1, settings).await?);
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    let busy = busy_kim(&postgres, settings).await?;

    println!();
    println!("| backend | writers | raw INSERT/s (median) | store append/s (median) | ratio | raw p50 ms | store p50 ms | store p99 ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!("| PostgreSQL, 16 writers | commands/s (median) | p50 ms | p99 ms | max ms | gave up (409) |");
    println!("|---|---|---|---|---|---|");
    for row in busy {
        println!("{row}");
    }
    Ok(())
}

/// Events in the busy KIM before the first window (the fault report's ~1,500).
const BUSY_KIM_EVENTS: usize = 1_500;
/// Writers in the busy-KIM comparison.
const BUSY_WRITERS: usize = 16;

/// 16 writers on one KIM of 1,500+ events (each conflict makes the loser catch up and decide
/// again) against 16 writers on their own KIM, alternating windows.
async fn busy_kim(database: &Database, settings: &Settings) -> anyhow::Result<Vec<String>> {
    let regions = simpul_regions::bundled()?;
    let executor = Arc::new(CommandExecutor::new(
        EventStore::new(database.clone()),
        CommunityServices::new(Arc::new(regions)),
    ));
    let busy = Uuid::new_v4().to_string();
    executor.execute(&busy, form()?, &context()).await?;
    for _ in 1..BUSY_KIM_EVENTS {
        let command = CommunityCommand::RecordActivity(activity()?);
        executor.execute(&busy, command, &context()).await?;
    }
    let mut own = Vec::new();
    for _ in 0..BUSY_WRITERS {
        let id = Uuid::new_v4().to_string();
        executor.execute(&id, form()?, &context()).await?;
        own.push(vec![id]);
    }
    let shared = vec![vec![busy.clone()]; BUSY_WRITERS];
    let (mut apart, mut together) = (Vec::new(), Vec::new());
    let (mut gave_up_apart, mut gave_up_together) = (0, 0);
    for round in 0..settings.rounds {
        let (window, gave_up) = racing_window(&executor, &own, settings.window).await?;
        gave_up_apart += gave_up;
        apart.push(window);
        let (window, gave_up) = racing_window(&executor, &shared, settings.window).await?;
        gave_up_together += gave_up;
        together.push(window);
        eprintln!(
            "busy KIM: round {round}: own KIM {:.0}/s, one KIM {:.0}/s",
            apart[round].per_second(),
            together[round].per_second()
        );
    }
    let length = EventStore::new(database.clone()).stream(&busy).await?.len();
    let row = |case: String, windows: &[Window], gave_up: usize| {
        format!(
            "| {case} | {:.0} | {:.2} | {:.2} | {:.2} | {gave_up} |",
            median(windows.iter().map(Window::per_second).collect()),
            percentile(windows, 0.5),
            percentile(windows, 0.99),
            percentile(windows, 1.0),
        )
    };
    Ok(vec![
        row(
            "each on its own KIM (baseline)".to_owned(),
            &apart,
            gave_up_apart,
        ),
        row(
            format!("all on one KIM ({BUSY_KIM_EVENTS} → {length} events)"),
            &together,
            gave_up_together,
        ),
    ])
}

/// Like `store_window`, counting commands that gave up after losing every race instead of
/// failing the bench.
async fn racing_window(
    executor: &Arc<CommandExecutor>,
    communities: &[Vec<String>],
    window: Duration,
) -> anyhow::Result<(Window, usize)> {
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::new();
    for own in communities {
        let executor = executor.clone();
        let id = own.first().cloned().context("a KIM per writer")?;
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut gave_up) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let command = CommunityCommand::RecordActivity(activity()?);
                let began = Instant::now();
                match executor.execute(&id, command, &context()).await {
                    Ok(_) => latencies.push(began.elapsed()),
                    Err(simpul_app::AppError::Conflict { .. }) => gave_up += 1,
                    Err(error) => return Err(error.into()),
                }
            }
            Ok::<_, anyhow::Error>((latencies, gave_up))
        }));
    }
    let (mut result, mut gave_up) = (Window::default(), 0);
    for task in tasks {
        let (latencies, lost) = task.await??;
        result.operations += latencies.len();
        result.latencies.extend(latencies);
        gave_up += lost;
    }
    result.elapsed = start.elapsed();
    Ok((result, gave_up))
}

async fn compare(
    backend: &str,
    database: &Database,
    writers: usize,
    settings: &Settings,
) -> anyhow::Result<String> {
    let regions = simpul_regions::bundled()?;
    let executor = Arc::new(CommandExecutor::new(
        EventStore::new(database.clone()),
        CommunityServices::new(Arc::new(regions)),
    ));
    let mut communities = Vec::new();
    for _ in 0..writers {
        let mut own = Vec::new();
        for _ in 0..COMMUNITIES_PER_WRITER {
            let id = Uuid::new_v4().to_string();
            executor.execute(&id, form()?, &context()).await?;
            own.push(id);
        }
        communities.push(own);
    }
    let sample_payload = serde_json::to_string(&CommunityCommand::RecordActivity(activity()?))?;
    let sample_metadata = serde_json::json!({
        "actor_id": "bench", "actor_role": "pegiat", "request_id": Uuid::new_v4().to_string(),
        "recorded_at": "2026-11-23T00:00:00.000000Z", "region_edition": simpul_regions::EDITION,
    })
    .to_string();

    let mut raw_windows = Vec::new();
    let mut store_windows = Vec::new();
    let mut raw_sequence = 0i64;
    for round in 0..settings.rounds {
        raw_windows.push(
            raw_window(
                database,
                writers,
                settings.window,
                &sample_payload,
                &sample_metadata,
                round,
                &mut raw_sequence,
            )
            .await?,
        );
        store_windows.push(store_window(&executor, &communities, settings.window).await?);
        eprintln!(
            "{backend} × {writers}: round {round}: raw {:.0}/s, store {:.0}/s",
            raw_windows[round].per_second(),
            store_windows[round].per_second()
        );
    }
    let raw = median(raw_windows.iter().map(Window::per_second).collect());
    let store = median(store_windows.iter().map(Window::per_second).collect());
    let raw_latency = percentile(&raw_windows, 0.5);
    let store_p50 = percentile(&store_windows, 0.5);
    let store_p99 = percentile(&store_windows, 0.99);
    Ok(format!(
        "| {backend} | {writers} | {raw:.0} | {store:.0} | {:.2}× | {raw_latency:.2} | {store_p50:.2} | {store_p99:.2} |",
        store / raw
    ))
}

async fn raw_window(
    database: &Database,
    writers: usize,
    window: Duration,
    payload: &str,
    metadata: &str,
    round: usize,
    sequence: &mut i64,
) -> anyhow::Result<Window> {
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let database = database.clone();
        let (payload, metadata) = (payload.to_owned(), metadata.to_owned());
        let aggregate = format!("raw-{writers}-{round}-{writer}");
        let base = *sequence;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0i64;
            while Instant::now() < deadline {
                n += 1;
                let began = Instant::now();
                match &database {
                    Database::Postgres(pool) => {
                        sqlx::query(
                            "INSERT INTO raw_events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                             VALUES ('Community', $1, $2, 'ActivityRecorded', '1.0', $3::json, $4::json)",
                        )
                        .bind(&aggregate)
                        .bind(n)
                        .bind(&payload)
                        .bind(&metadata)
                        .execute(pool)
                        .await?;
                    }
                    Database::Sqlite { writer, .. } => {
                        sqlx::query(
                            "INSERT INTO raw_events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position)
                             VALUES ('Community', ?1, ?2, 'ActivityRecorded', '1.0', ?3, ?4, ?5)",
                        )
                        .bind(&aggregate)
                        .bind(n)
                        .bind(&payload)
                        .bind(&metadata)
                        .bind(base + n)
                        .execute(writer)
                        .await?;
                    }
                }
                latencies.push(began.elapsed());
            }
            Ok::<_, sqlx::Error>(latencies)
        }));
    }
    let mut result = Window::default();
    for task in tasks {
        let latencies = task.await??;
        result.operations += latencies.len();
        result.latencies.extend(latencies);
    }
    result.elapsed = start.elapsed();
    *sequence += result.operations as i64 + 1;
    Ok(result)
}

async fn store_window(
    executor: &Arc<CommandExecutor>,
    communities: &[Vec<String>],
    window: Duration,
) -> anyhow::Result<Window> {
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::new();
    for own in communities {
        let executor = executor.clone();
        let own = own.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0usize;
            while Instant::now() < deadline {
                let id = &own[n % own.len()];
                n += 1;
                let command = CommunityCommand::RecordActivity(activity()?);
                let began = Instant::now();
                executor.execute(id, command, &context()).await?;
                latencies.push(began.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut result = Window::default();
    for task in tasks {
        let latencies = task.await??;
        result.operations += latencies.len();
        result.latencies.extend(latencies);
    }
    result.elapsed = start.elapsed();
    Ok(result)
}

fn form() -> anyhow::Result<CommunityCommand> {
    Ok(CommunityCommand::FormCommunity(FormCommunity {
        name: CommunityName::parse("KIM Bench")?,
        village: RegionCode::parse("34.04.01.2001")?,
        formed_on: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).context("date")?,
        origin_group: None,
        member_count: 12,
        initiated_by: Some("Karang Taruna".to_owned()),
        recorded_by_role: ActorRole::Regency,
    }))
}

fn activity() -> anyhow::Result<RecordActivity> {
    Ok(RecordActivity {
        activity_id: Uuid::new_v4(),
        kind: ActivityKind::Dissemination,
        title: Title::parse("Sosialisasi program desa")?,
        held_on: chrono::NaiveDate::from_ymd_opt(2025, 6, 1).context("date")?,
        participants: Some(20),
    })
}

fn context() -> CommandContext {
    CommandContext {
        actor_id: "bench".to_owned(),
        actor_role: ActorRole::Pegiat,
        request_id: Uuid::new_v4().to_string(),
        expected_version: None,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Latency percentile in milliseconds over all windows' operations.
fn percentile(windows: &[Window], q: f64) -> f64 {
    let mut all: Vec<Duration> = windows
        .iter()
        .flat_map(|w| w.latencies.iter().copied())
        .collect();
    all.sort();
    let index = ((all.len() as f64 - 1.0) * q).round() as usize;
    all.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

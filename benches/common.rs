//! Pieces shared by the benches (each bench is its own crate and includes this file).

#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context as _;
use simpul_app::CommandContext;
use simpul_domain::{ActorRole, CommunityCommand};
use uuid::Uuid;

/// This process's resident set, in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The `q` quantile of `values`, in milliseconds (sorts them).
pub fn percentile(values: &mut [Duration], q: f64) -> f64 {
    values.sort();
    let index = ((values.len().saturating_sub(1)) as f64 * q).round() as usize;
    values.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The command the writers of a bench send: a networking activity on `held_on`.
pub fn networking_activity(held_on: (i32, u32, u32)) -> anyhow::Result<CommunityCommand> {
    Ok(CommunityCommand::RecordActivity(
        simpul_domain::commands::RecordActivity {
            activity_id: Uuid::new_v4(),
            kind: simpul_domain::events::ActivityKind::Networking,
            title: simpul_domain::text::Title::parse("Jejaring")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            held_on: chrono::NaiveDate::from_ymd_opt(held_on.0, held_on.1, held_on.2)
                .context("date")?,
            participants: None,
        },
    ))
}

/// A bench writer's context (a pegiat, a fresh request id).
pub fn writer_context() -> CommandContext {
    CommandContext {
        actor_id: "bench".to_owned(),
        actor_role: ActorRole::Pegiat,
        request_id: Uuid::new_v4().to_string(),
        expected_version: None,
    }
}

/// Runs `bench` against a fresh database on the server of `SIMPUL_TEST_DATABASE_URL` (the tests'
/// default otherwise), dropped afterwards whatever the outcome.
pub async fn with_database<F, Fut>(prefix: &str, bench: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let server = std::env::var("SIMPUL_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = sqlx::PgPool::connect(&server).await.context("connecting")?;
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let url = format!(
        "{}/{name}",
        server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b)
    );
    let result = bench(url).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    result
}

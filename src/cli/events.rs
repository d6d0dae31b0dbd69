//! `simpul events tail`: the global feed as JSON lines.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use simpul_store::EventStore;

use crate::config::Config;

/// Events read per round trip.
const BATCH: u32 = 500;
/// How often `--follow` asks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Print events in global commit order as JSON lines.
    Tail {
        /// Start after this global position (0: from the beginning).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Stop after printing this many events.
        #[arg(long)]
        limit: Option<u64>,
        /// Keep waiting for new events (Ctrl-C to stop).
        #[arg(long)]
        follow: bool,
    },
}

pub async fn run(config: &Config, command: EventsCommand) -> anyhow::Result<()> {
    let EventsCommand::Tail {
        after,
        limit,
        follow,
    } = command;
    let store = EventStore::new(super::open_database(config).await?);
    let mut cursor = after;
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    loop {
        let batch = store
            .read_all(cursor, BATCH)
            .await
            .context("reading the event feed")?;
        let mut out = stdout.lock();
        for event in &batch {
            if limit.is_some_and(|limit| printed >= limit) {
                return Ok(());
            }
            serde_json::to_writer(&mut out, event)?;
            writeln!(out)?;
            printed += 1;
            cursor = event.position;
        }
        out.flush()?;
        drop(out);
        if batch.len() < BATCH as usize {
            if !follow || limit.is_some_and(|limit| printed >= limit) {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    }
}

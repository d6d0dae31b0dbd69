//! The feed's horizon (`simpul_feed_horizon()`, migration `…80_feed_commits`), asked of
//! PostgreSQL once for all the readers of one process that want it at the same moment.
//!
//! Each call takes the feed's commit lock exclusively for an instant: the commits under way
//! finish, and the commits that start meanwhile wait behind it. A server's projection followers
//! all wake after every commit and each reads the feed, so one call per follower held the
//! committers once per read model — one more read model (the ledger) meant one more stall of
//! every writer per commit (issue 13's command-latency benchmark). Coalesced, the followers of a
//! wake share one or two calls, however many read models there are.
//!
//! A caller may take the horizon of any call that *started after it asked*: that call's
//! exclusive lock waited for every commit the caller could know of, so it is as good as the
//! caller's own. Calls run one at a time; a caller whose turn comes after such a call finished
//! takes its answer instead of asking again.

use std::sync::atomic::{AtomicU64, Ordering};

/// The horizons of one event store and its clones.
#[derive(Debug, Default)]
pub(crate) struct Horizons {
    /// Callers that asked so far.
    asked: AtomicU64,
    /// Calls to PostgreSQL started so far (each numbered by this count when it starts).
    started: AtomicU64,
    /// One call at a time, and the last one's answer.
    turn: tokio::sync::Mutex<Last>,
}

#[derive(Debug, Default)]
struct Last {
    /// The number of the call (0: none yet).
    call: u64,
    horizon: i64,
}

impl Horizons {
    /// A horizon at least as late as one asked for now.
    pub(crate) async fn horizon(&self, pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
        // Read before waiting: any call numbered above this starts after now.
        let before = self.started.load(Ordering::SeqCst);
        self.asked.fetch_add(1, Ordering::SeqCst);
        let mut last = self.turn.lock().await;
        if last.call > before {
            return Ok(last.horizon);
        }
        let call = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let horizon = sqlx::query_scalar("SELECT simpul_feed_horizon()")
            .fetch_one(pool)
            .await?;
        *last = Last { call, horizon };
        Ok(horizon)
    }

    /// (callers that asked, calls made to PostgreSQL) so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.asked.load(Ordering::SeqCst),
            self.started.load(Ordering::SeqCst),
        )
    }
}

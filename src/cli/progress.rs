//! Progress of long commands (`demo seed`, `projections rebuild`) on stderr: one line redrawn on a
//! terminal, a line every few seconds into a log or a pipe.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often progress written into a log (not a terminal) gets a new line.
const EVERY: Duration = Duration::from_secs(5);

/// One command's progress: `label: done/total events, rate, ETA`.
pub struct Progress {
    label: String,
    /// The total is an estimate (printed as `~total`).
    estimated_total: bool,
    started: Instant,
    terminal: bool,
    last_line: Mutex<Instant>,
}

impl Progress {
    /// Progress of `label`, timed from now.
    pub fn new(label: impl Into<String>, estimated_total: bool) -> Self {
        let started = Instant::now();
        Self {
            label: label.into(),
            estimated_total,
            started,
            terminal: std::io::stderr().is_terminal(),
            last_line: Mutex::new(started),
        }
    }

    /// Reports `done` of `total` events.
    pub fn report(&self, done: u64, total: u64) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / seconds;
        let eta = total.saturating_sub(done) as f64 / rate.max(1e-9);
        let about = if self.estimated_total { "~" } else { "" };
        let line = format!(
            "{}: {done}/{about}{total} events, {rate:.0} events/s, ETA {eta:.0} s",
            self.label
        );
        if self.terminal {
            eprint!("\r{line}   ");
        } else if let Ok(mut last) = self.last_line.lock() {
            if last.elapsed() >= EVERY {
                *last = Instant::now();
                eprintln!("{line}");
            }
        }
    }

    /// Ends the redrawn line (on a terminal), so the next message starts on its own line.
    pub fn end_line(&self) {
        if self.terminal {
            eprintln!();
        }
    }

    /// Seconds since the command started.
    pub fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

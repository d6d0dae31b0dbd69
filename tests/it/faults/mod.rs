//! Faults (issue 10): no acknowledged write is ever lost, no read model is ever silently
//! corrupted. Real processes are killed with SIGKILL, a private PostgreSQL cluster is restarted
//! and killed under load, and afterwards every write a client had acknowledged is checked
//! against the events table, and the read models against a fresh rebuild
//! (`simpul projections verify --all`).
//!
//! 1. `burst`: `kill -9` of `simpul serve` during a burst of 16 clients (both backends).
//! 2. `rebuild`: `kill -9` of `simpul projections rebuild --all` (both backends).
//! 3. `import`: `kill -9` of `simpul import FILE.csv` (both backends).
//! 4. `postgres_restart`: PostgreSQL restarted and killed under load.
//! 5. `two_servers`: two servers on one database; the lock holder killed; PostgreSQL restarted.

mod burst;
pub mod harness;
mod import;
mod postgres_restart;
mod rebuild;
mod two_servers;

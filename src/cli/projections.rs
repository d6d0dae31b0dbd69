//! `simpul projections status|run|rebuild`: the read models' runtime from the command line.

use anyhow::Context as _;
use simpul_projections::{Projection, Runner};
use simpul_store::EventStore;

use super::exit::Exit;
use super::progress::Progress;
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum ProjectionsCommand {
    /// A table of every read model: position, events applied, lag, state, last error; exits 1
    /// when a read model has failed (stopped at an event it cannot apply).
    Status {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Follow the feed with every read model until Ctrl-C (as `simpul serve` does).
    Run,
    /// Rebuild a read model (or all) from position 0 into shadow tables while the live ones keep
    /// serving, then swap them in atomically. Interrupting it leaves the live tables untouched.
    Rebuild {
        /// `community_summary`, `stage_dashboard`, `audit_trail`, `stage_transitions` or `ledger`.
        name: Option<String>,
        /// Every read model.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
    /// Rebuild into scratch tables and compare with the live ones row by row; exits 1 and
    /// prints the first differing rows when they differ.
    Verify {
        /// A read model name.
        name: Option<String>,
        /// Every read model.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
}

pub async fn run(config: &Config, command: ProjectionsCommand) -> anyhow::Result<()> {
    let store = EventStore::new(super::open_database(config).await?);
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let projections = simpul_projections::all(regions);
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    match command {
        ProjectionsCommand::Status { json } => {
            let status = simpul_projections::status(&store, &names).await?;
            if json {
                for projection in &status {
                    println!("{}", serde_json::to_string(projection)?);
                }
            } else {
                println!(
                    "{:<20} {:>10} {:>10} {:>10} {:>10}  {:<8} ERROR",
                    "NAME", "POSITION", "EVENTS", "LAG", "LAG_S", "STATE"
                );
                for p in &status {
                    let error = match (&p.error_event, &p.last_error) {
                        (Some(event), Some(error)) => format!("{event}: {error}"),
                        _ => String::new(),
                    };
                    println!(
                        "{:<20} {:>10} {:>10} {:>10} {:>10.1}  {:<8} {error}",
                        p.name, p.position, p.events, p.lag_events, p.lag_seconds, p.state
                    );
                }
                for p in &status {
                    for scratch in &p.scratch {
                        let what = if scratch.in_use {
                            "in use by a rebuild or verify running now"
                        } else {
                            "left by an interrupted rebuild or verify; the next rebuild, verify \
                             or server start removes it"
                        };
                        println!("{}: scratch {} ({what})", p.name, scratch.name);
                    }
                }
            }
            let failed: Vec<&str> = status
                .iter()
                .filter(|p| p.state == "failed")
                .map(|p| p.name.as_str())
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(Exit::Failed.msg(format_args!(
                    "read model {} has failed: stopped at an event it cannot apply (its last \
                     error is above)",
                    failed.join(", ")
                )))
            }
        }
        ProjectionsCommand::Run => {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let runner = tokio::spawn(Runner::new(store).run(projections, stopped));
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            let _ = stop.send(true);
            let _ = runner.await;
            Ok(())
        }
        ProjectionsCommand::Rebuild { name, all } => {
            let runner = Runner::new(store);
            for projection in choose(&projections, name.as_deref(), all)? {
                let label = projection.name();
                let progress = Progress::new(label, false);
                let events = runner
                    .rebuild(projection, &|applied, total| {
                        progress.report(applied, total)
                    })
                    .await
                    .with_context(|| {
                        format!("rebuilding {label} (the live tables are untouched)")
                    })?;
                let seconds = progress.seconds();
                progress.end_line();
                eprintln!(
                    "{label}: {events} events in {seconds:.1} s ({:.0} events/s), swapped in",
                    events as f64 / seconds.max(1e-9)
                );
            }
            Ok(())
        }
        ProjectionsCommand::Verify { name, all } => {
            let runner = Runner::new(store);
            let mut differ = Vec::new();
            for projection in choose(&projections, name.as_deref(), all)? {
                let differences = runner
                    .verify(projection, 10)
                    .await
                    .with_context(|| format!("verifying {}", projection.name()))?;
                if differences.is_empty() {
                    println!("{}: identical to a rebuild", projection.name());
                } else {
                    differ.push(projection.name());
                    println!("{}: differs from a rebuild; first rows:", projection.name());
                    for row in differences {
                        println!("  {row}");
                    }
                }
            }
            if differ.is_empty() {
                Ok(())
            } else {
                Err(Exit::Failed.msg(format_args!("{} differs from a rebuild", differ.join(", "))))
            }
        }
    }
}

fn choose<'a>(
    projections: &'a [std::sync::Arc<dyn Projection>],
    name: Option<&str>,
    all: bool,
) -> anyhow::Result<Vec<&'a dyn Projection>> {
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    match (name, all) {
        (_, true) => Ok(projections.iter().map(|p| p.as_ref()).collect()),
        (Some(name), false) => match projections.iter().find(|p| p.name() == name) {
            Some(projection) => Ok(vec![projection.as_ref()]),
            None => Err(Exit::Usage.msg(format_args!(
                "unknown read model `{name}`; known: {}",
                names.join(", ")
            ))),
        },
        (None, false) => Err(Exit::Usage.msg(format_args!(
            "name a read model ({}) or pass --all",
            names.join(", ")
        ))),
    }
}

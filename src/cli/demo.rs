//! `simpul demo seed --scale S [--seed N] [--until DATE] [--region CODE] [--dry-run]`:
//! deterministic synthetic KIM histories (crate `simpul-demo`), written in bulk
//! (`simpul_app::demo`), then every read model rebuilt.
//!
//! **Resumable.** A seed stopped part-way (killed, the connection lost) is completed by running
//! the same command again: what the store holds of this seed is checked against the plan and
//! only the rest is written — complete KIM skipped, a KIM cut part-way finished from its next
//! sequence, persons' keys written once — so the store ends with exactly the events of one
//! uninterrupted run (positions aside). The re-run prints `resumed: N events of this seed were
//! already stored` before its usual summary. Run again once complete, it prints `this seed is
//! already fully stored (N events); nothing to do`, writes nothing and does not rebuild the read
//! models. Data under the seed's ids that this seed would not write (another `--seed`,
//! `--scale` or `--until`, other data, another master key) is refused with nothing written.
//!
//! Exit codes (README, "Exit codes"): 0 seeded, resumed, already complete ("nothing to do"), or
//! described (`--dry-run`); 1 the store refused (it holds data under this seed's ids that this
//! seed would not write, or a nomor induk of this seed is taken); 2 a `--region` that does not
//! exist; 64 bad arguments.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use simpul_app::demo::{seed, seed_scope, BulkSeeder, SeedError};
use simpul_demo::DemoConfig;
use simpul_domain::{CommunityServices, RegionCode};
use simpul_projections::Runner;
use simpul_store::{EventStore, StoreError};

use super::exit::Exit;
use super::progress::Progress;
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum DemoCommand {
    /// Generate and store synthetic KIM histories with real Kemendagri 2025 codes.
    Seed(SeedArgs),
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// 1 ≈ Indonesia today (~4,500 KIM, ~230k events); 10 and 100 multiply it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub scale: u32,
    /// The same seed gives byte-identical events, ids included.
    #[arg(long, default_value_t = simpul_demo::DEFAULT_SEED)]
    pub seed: u64,
    /// The last simulated day (YYYY-MM-DD).
    #[arg(long, default_value_t = simpul_demo::DEFAULT_UNTIL)]
    pub until: NaiveDate,
    /// Only the kabupaten/kota of this province or kabupaten/kota code (e.g. `34`).
    #[arg(long, value_name = "CODE")]
    pub region: Option<String>,
    /// Print what would be created, per province; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not rebuild the read models afterwards (a running server's runner follows anyway).
    #[arg(long)]
    pub no_projections: bool,
}

pub async fn run(config: &Config, command: DemoCommand) -> anyhow::Result<()> {
    let DemoCommand::Seed(args) = command;
    let demo = DemoConfig::new(args.scale, args.seed, args.until)
        .map_err(|e| Exit::Usage.msg(format_args!("--scale/--until: {e}")))?;
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let within = match args.region.as_deref() {
        None => None,
        Some(text) => {
            let code = RegionCode::parse(text)
                .map_err(|e| Exit::Usage.msg(format_args!("--region {text:?}: {e}")))?;
            if !seed_scope(&code) {
                return Err(Exit::Usage.msg(format_args!(
                    "--region {text:?}: not a province or kabupaten/kota code"
                )));
            }
            if regions.get(&code).is_none() {
                return Err(Exit::NotFound.msg(format_args!(
                    "--region {text:?}: region code {code} does not exist in edition {}",
                    simpul_regions::EDITION
                )));
            }
            Some(code)
        }
    };
    let summary = simpul_demo::describe(&demo, regions);
    if args.dry_run {
        println!(
            "demo seed --scale {} --seed {} --until {}: would create",
            demo.scale, demo.seed, demo.until
        );
        println!(
            "{:<4} {:<32} {:>10} {:>10}",
            "code", "province", "KIM", "events"
        );
        for p in &summary.provinces {
            if within
                .as_ref()
                .is_some_and(|w| !p.code.is_within(w) && !w.is_within(&p.code))
            {
                continue;
            }
            println!(
                "{:<4} {:<32} {:>10} {:>10}",
                p.code.as_str(),
                p.name,
                p.kim,
                p.expected_events
            );
        }
        println!(
            "total (all Indonesia): {} KIM, about {} events",
            summary.total_kim, summary.expected_events
        );
        return Ok(());
    }
    let database = super::open_database(config).await?;
    let keys = config.key_store(&database).await?;
    let store = EventStore::new(database);
    let services = CommunityServices::new(Arc::new(regions));
    let mut seeder = BulkSeeder::new(store.clone(), keys, services, demo);
    let progress = Progress::new("demo seed", true);
    let report = |written: u64, expected: u64| progress.report(written, expected);
    let outcome = match seed(&mut seeder, regions, within.as_ref(), &report).await {
        Ok(outcome) => outcome,
        Err(SeedError::Write(simpul_app::AppError::Store(StoreError::BulkConflict(detail)))) => {
            progress.end_line();
            return Err(Exit::Failed.msg(format_args!(
                "the store already holds ids or nomor induk this seed would write, but not as \
                 this seed writes them ({detail}); use another --seed or an empty database"
            )));
        }
        Err(SeedError::NotThisSeed(detail)) => {
            progress.end_line();
            return Err(Exit::Failed.msg(format_args!(
                "the store already holds data under this seed's ids that this seed would not \
                 write ({detail}): another --seed, --scale or --until, other data, or another \
                 master key; nothing was written — use another --seed or an empty database"
            )));
        }
        Err(error) => return Err(error).context("seeding"),
    };
    let seconds = progress.seconds();
    progress.end_line();
    let command = format!(
        "demo seed --scale {} --seed {} --until {}{}",
        demo.scale,
        demo.seed,
        demo.until,
        within
            .as_ref()
            .map(|code| format!(" --region {code}"))
            .unwrap_or_default()
    );
    if outcome.already_stored > 0 && outcome.written.events == 0 {
        println!(
            "{command}: this seed is already fully stored ({} events); nothing to do",
            outcome.already_stored
        );
        return Ok(());
    }
    if outcome.already_stored > 0 {
        println!(
            "{command}: resumed: {} events of this seed were already stored",
            outcome.already_stored
        );
    }
    println!(
        "seeded {} KIM, {} events, {} nomor induk, {} persons in {seconds:.1} s ({:.0} events/s)",
        outcome.communities,
        outcome.written.events,
        outcome.written.claims,
        outcome.written.keys,
        outcome.written.events as f64 / seconds.max(1e-9)
    );
    if !args.no_projections {
        let runner = Runner::new(store);
        for projection in simpul_projections::all(regions) {
            let label = projection.name();
            let events = runner
                .rebuild(projection.as_ref(), &|_, _| {})
                .await
                .with_context(|| format!("rebuilding {label}"))?;
            println!("{label}: rebuilt from {events} events");
        }
    }
    Ok(())
}

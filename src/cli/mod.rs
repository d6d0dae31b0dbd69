//! Subcommands. Each returns `Ok(())` or an error that `main` prints and turns into an exit code
//! through [`exit::Exit`], the one table of codes (README, "Exit codes").

mod audit;
mod communities;
mod demo;
mod events;
pub mod exit;
mod export;
mod import;
mod persons;
mod progress;
mod projections;
mod regions;
mod serve;
mod tokens;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use simpul_store::{Database, DatabaseUrl};

use self::exit::{Exit, OrExit as _};
use crate::config::{Config, LogFormat};

/// Simpul keeps the life of every KIM (Komunitas Informasi Masyarakat) as an append-only event log.
#[derive(Debug, Parser)]
#[command(name = "simpul", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    /// Log format on stderr (`SIMPUL_LOG` sets the level, e.g. `info`).
    #[arg(
        long,
        env = "SIMPUL_LOG_FORMAT",
        value_enum,
        default_value_t,
        global = true
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (`/api/v1`, docs at `/api/docs`) until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
    /// Apply every pending schema migration to the database.
    Migrate,
    /// Look up Kemendagri region codes (edition 300.2.2-2138/2025).
    #[command(subcommand)]
    Regions(regions::RegionsCommand),
    /// Read the event log.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// One KIM now, or as of a date or ledger index: `communities show ID --as-of 2024-12-31`.
    #[command(subcommand)]
    Communities(communities::CommunitiesCommand),
    /// Read models: status, run, rebuild.
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Synthetic data: `demo seed --scale S` (deterministic, real region codes).
    #[command(subcommand)]
    Demo(demo::DemoCommand),
    /// Export KIM (CSV, XLSX) or the event log (JSON lines) to stdout or a file.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Import an existing KIM registry (CSV from KIM.id or the Dinas), all or nothing.
    Import(import::ImportArgs),
    /// Personal data of officers.
    #[command(subcommand)]
    Persons(persons::PersonsCommand),
    /// API bearer tokens: create (the secret is shown once), list, revoke.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// The verifiable ledger: `audit key` (the verifier key of its signed checkpoints),
    /// `audit verify` (the ledger against the log, or an export offline), `audit export`.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

pub async fn run(mut cli: Cli) -> anyhow::Result<()> {
    let file_listen = cli.config.merge_file().or_exit(Exit::Usage)?;
    match cli.command {
        Command::Serve(args) => serve::run(&cli.config, args, file_listen).await,
        Command::Migrate => {
            let url = database_url(&cli.config)?;
            let db = Database::connect(&url)
                .await
                .with_context(|| format!("connecting to {url:?}"))?;
            db.migrate().await.context("applying migrations")?;
            println!("migrations applied to {url:?}");
            Ok(())
        }
        Command::Regions(command) => regions::run(command),
        Command::Events(command) => events::run(&cli.config, command).await,
        Command::Communities(command) => communities::run(&cli.config, command).await,
        Command::Demo(command) => demo::run(&cli.config, command).await,
        Command::Export(command) => export::run(&cli.config, command).await,
        Command::Import(args) => import::run(&cli.config, args).await,
        Command::Persons(command) => persons::run(&cli.config, command).await,
        Command::Projections(command) => projections::run(&cli.config, command).await,
        Command::Tokens(command) => tokens::run(&cli.config, command).await,
        Command::Audit(command) => audit::run(&cli.config, command).await,
    }
}

/// The database URL in force; one that does not parse is a usage error (64).
fn database_url(config: &Config) -> anyhow::Result<DatabaseUrl> {
    config.database_url().or_exit(Exit::Usage)
}

/// Connects to the configured database and migrates it.
async fn open_database(config: &Config) -> anyhow::Result<Database> {
    let url = database_url(config)?;
    let database = Database::connect_and_migrate(&url)
        .await
        .with_context(|| format!("opening {url:?}"))?;
    config.check_master_key(&database).await?;
    Ok(database)
}

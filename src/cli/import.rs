//! `simpul import FILE.csv [--dry-run] [--report FILE] [--actor ID]`: an existing KIM registry
//! as events, all or nothing (`simpul_app::import`; the file format is `docs/import.md`).
//!
//! Exit codes: 0 written (or, with `--dry-run`, every row valid); 1 at least one row failed and
//! nothing was written; 2 the file cannot be read as a registry (not found, not UTF-8, empty).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use simpul_app::import::{self, ImportReport, ImportRequest, ImportStatus};
use simpul_app::{CommandContext, Scope};
use simpul_domain::{ActorRole, CommunityServices};
use simpul_store::{EventStore, KeyStore};
use uuid::Uuid;

use crate::config::Config;

/// Errors listed on the terminal before pointing to `--report`.
const SHOWN_ERRORS: usize = 50;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The registry: CSV, UTF-8 (with or without BOM), `,` or `;`, one row per KIM
    /// (docs/import.md).
    pub file: std::path::PathBuf,
    /// Check every row and report what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<std::path::PathBuf>,
    /// The actor recorded in every event's metadata (R11); the role is `admin`.
    #[arg(long, value_name = "ID", default_value = "cli:import")]
    pub actor: String,
}

pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let actor = args.actor.trim();
    if actor.is_empty() {
        anyhow::bail!("--actor must not be empty: every event records who wrote it");
    }
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let file_name = args
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.file.display().to_string());
    let database = super::open_database(config).await?;
    let keys = KeyStore::new(database.clone(), config.master_key()?);
    let store = EventStore::new(database);
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let services = CommunityServices::new(Arc::new(regions));
    // An operator running the import on the server acts as `admin`: the role that may record
    // every fact of a registry, including the stage assessments R9 reserves for the Dinas.
    let context = CommandContext {
        actor_id: actor.to_owned(),
        actor_role: ActorRole::Admin,
        request_id: format!("import-{}", Uuid::new_v4()),
        expected_version: None,
    };
    let request = ImportRequest {
        file_name: &file_name,
        bytes: &bytes,
        context: &context,
        scope: &Scope::National,
        dry_run: args.dry_run,
        recorded_at: Utc::now(),
    };
    let report = match import::run(&store, &keys, &services, request).await {
        Ok(report) => report,
        Err(error) if error.is_unreadable() => {
            eprintln!("error: {}: {error}", args.file.display());
            return Ok(ExitCode::from(2));
        }
        Err(error) => return Err(error).context("importing the registry"),
    };
    if let Some(path) = &args.report {
        write_report(path, &report)?;
    }
    print_summary(&report, args.report.as_deref());
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_report(path: &Path, report: &ImportReport) -> anyhow::Result<()> {
    let mut json = serde_json::to_string_pretty(report).context("serialising the report")?;
    json.push('\n');
    std::fs::write(path, json).with_context(|| format!("writing the report {}", path.display()))
}

fn print_summary(report: &ImportReport, report_path: Option<&Path>) {
    let delimiter = match report.delimiter.as_str() {
        ";" => "semicolons",
        _ => "commas",
    };
    println!(
        "{} (sha256 {}, {delimiter}): {} rows — {} new, {} updated, {} unchanged, {} events",
        report.file,
        report.sha256,
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        report.events
    );
    match report.status {
        ImportStatus::Written => {
            println!("written: {} events in one transaction", report.events);
        }
        ImportStatus::Validated => {
            println!(
                "dry run: every row is valid; {} events would be written, nothing was",
                report.events
            );
        }
        ImportStatus::Failed => {
            let mut lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
            lines.dedup();
            println!(
                "{} errors on {} lines; nothing was written:",
                report.errors.len(),
                lines.len()
            );
            for error in report.errors.iter().take(SHOWN_ERRORS) {
                println!(
                    "  line {}, {} = {:?}: [{}] {}",
                    error.line, error.column, error.value, error.rule, error.message
                );
            }
            if report.errors.len() > SHOWN_ERRORS {
                match report_path {
                    Some(path) => println!(
                        "  … and {} more in {}",
                        report.errors.len() - SHOWN_ERRORS,
                        path.display()
                    ),
                    None => println!(
                        "  … and {} more (use --report FILE for all)",
                        report.errors.len() - SHOWN_ERRORS
                    ),
                }
            }
        }
    }
}

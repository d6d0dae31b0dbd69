//! `simpul import FILE.csv [--dry-run] [--report FILE] [--actor ID]`: an existing KIM registry
//! as events, all or nothing (`simpul_app::import`; the file format is `docs/import.md`).
//!
//! Exit codes (README, "Exit codes"): 0 written (or, with `--dry-run`, every row valid); 65 at
//! least one row is invalid, or the file is not a registry (not UTF-8, empty, not CSV, too many
//! rows) — nothing was written; 2 the file does not exist; 1 the import failed otherwise (a
//! concurrent writer, the store).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use simpul_app::import::{self, ImportReport, ImportRequest, ImportStatus};
use simpul_app::{CommandContext, Scope};
use simpul_domain::{ActorRole, CommunityServices};
use simpul_store::EventStore;
use uuid::Uuid;

use super::exit::Exit;
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

pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let actor = args.actor.trim();
    if actor.is_empty() {
        return Err(Exit::Usage.msg("--actor must not be empty: every event records who wrote it"));
    }
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(error) => {
            let exit = match error.kind() {
                std::io::ErrorKind::NotFound => Exit::NotFound,
                _ => Exit::Failed,
            };
            return Err(exit.msg(format_args!("cannot read {}: {error}", args.file.display())));
        }
    };
    let file_name = args
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.file.display().to_string());
    let database = super::open_database(config).await?;
    let keys = config.key_store(&database).await?;
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
            return Err(Exit::DataError.msg(format_args!("{}: {error}", args.file.display())));
        }
        Err(error) => return Err(error).context("importing the registry"),
    };
    if let Some(path) = &args.report {
        write_report(path, &report)?;
    }
    print_summary(&report, args.report.as_deref());
    if report.failed() {
        return Err(Exit::DataError.msg(format_args!(
            "{}: {} errors on {} lines; nothing was written",
            args.file.display(),
            report.errors.len(),
            failed_lines(&report)
        )));
    }
    Ok(())
}

/// How many lines of the file have an error.
fn failed_lines(report: &ImportReport) -> usize {
    let mut lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    lines.dedup();
    lines.len()
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
            println!(
                "{} errors on {} lines; nothing was written:",
                report.errors.len(),
                failed_lines(report)
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

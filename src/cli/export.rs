//! `simpul export communities|events`: files for spreadsheets and other systems. The formats are
//! `simpul_projections::exports`, the same as `GET /api/v1/exports/…`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use simpul_app::{CommandExecutor, Principal, Reads, ScopedEvents};
use simpul_domain::CommunityServices;
use simpul_domain::RegionCode;
use simpul_projections::exports::communities::{CommunityPages, CsvExport, XlsxExport};
use simpul_projections::exports::events::{EventLine, PersonalData};
use simpul_store::{Database, EventStore, KeyStore};

use super::exit::{Exit, OrExit as _};
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum ExportCommand {
    /// Every KIM of a region (or the whole country) from the `community_summary` read model,
    /// ordered by id, with Indonesian column names.
    Communities {
        /// A region code at any level: `34`, `34.04`, `34.04.01`, `34.04.01.2001`
        /// [default: the whole country].
        #[arg(long)]
        region: Option<String>,
        /// `csv` or `xlsx` (XLSX needs --output).
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Write to this file instead of stdout.
        #[arg(long, short, required_if_eq("format", "xlsx"))]
        output: Option<PathBuf>,
    },
    /// The event log as JSON lines in feed order: position, community id, sequence, event type,
    /// event version, payload, metadata.
    Events {
        /// Start after this global position (0: from the beginning).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Stop after this many events.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
        /// Open officers' sealed names and contacts with the master key (erased persons read
        /// `[dihapus]`); without it they stay sealed.
        #[arg(long)]
        with_personal_data: bool,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// File formats of `export communities`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// RFC 4180 CSV, UTF-8, header row.
    Csv,
    /// Excel workbook: bold frozen header, numbers and dates typed.
    Xlsx,
}

pub async fn run(config: &Config, command: ExportCommand) -> anyhow::Result<()> {
    match command {
        ExportCommand::Communities {
            region,
            format,
            output,
        } => {
            let region = match region {
                Some(text) => {
                    let code = RegionCode::parse(text.trim())
                        .context("--region")
                        .or_exit(Exit::Usage)?;
                    let regions =
                        simpul_regions::bundled().context("loading the bundled region codes")?;
                    if regions.get(&code).is_none() {
                        return Err(Exit::NotFound.msg(format_args!(
                            "region code {code} does not exist in edition {}",
                            simpul_regions::EDITION
                        )));
                    }
                    Some(code)
                }
                None => None,
            };
            let database = super::open_database(config).await?;
            let reads = reads(database)?;
            warn_if_behind(&reads).await;
            let (pages, _) = reads.community_export(&Principal::operator(), region.as_ref())?;
            let written = match (format, output) {
                (Format::Xlsx, Some(path)) => {
                    // Created 0600 here; the workbook's save truncates it and keeps the mode.
                    drop(create(&path)?);
                    cleaned_up_on_error(&path, communities_xlsx(pages, &path)).await?
                }
                (Format::Xlsx, None) => {
                    return Err(Exit::Usage.msg("--format xlsx needs --output FILE"))
                }
                (Format::Csv, Some(path)) => {
                    let file = create(&path)?;
                    cleaned_up_on_error(&path, communities_csv(pages, file)).await?
                }
                (Format::Csv, None) => communities_csv(pages, std::io::stdout()).await?,
            };
            eprintln!("{written} KIM exported");
            Ok(())
        }
        ExportCommand::Events {
            after,
            limit,
            with_personal_data,
            output,
        } => {
            let database = super::open_database(config).await?;
            // The master key is read only when names are to be opened.
            let keys = if with_personal_data {
                Some(config.key_store(&database).await?)
            } else {
                None
            };
            let pages = reads(database)?.event_export(&Principal::operator(), after)?;
            let written = match output {
                Some(path) => {
                    let file = create(&path)?;
                    cleaned_up_on_error(&path, events(pages, limit, keys.as_ref(), file)).await?
                }
                None => events(pages, limit, keys.as_ref(), std::io::stdout()).await?,
            };
            eprintln!("{written} events exported");
            Ok(())
        }
    }
}

async fn communities_csv(mut pages: CommunityPages, out: impl Write) -> anyhow::Result<u64> {
    let mut export = CsvExport::new(BufWriter::new(out))?;
    let mut written = 0u64;
    while let Some(rows) = pages.next_page().await? {
        for row in &rows {
            export.write(row)?;
        }
        written += rows.len() as u64;
    }
    export.finish()?.flush().context("writing the export")?;
    Ok(written)
}

async fn communities_xlsx(mut pages: CommunityPages, path: &Path) -> anyhow::Result<u64> {
    let mut workbook = XlsxExport::new()?;
    while let Some(rows) = pages.next_page().await? {
        for row in &rows {
            workbook.write(row)?;
        }
    }
    let written = u64::from(workbook.rows());
    workbook
        .save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(written)
}

/// The reads the exports share with `GET /api/v1/exports/…`, as the operator.
pub(super) fn reads(database: Database) -> anyhow::Result<Reads> {
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let services = CommunityServices::new(Arc::new(regions));
    let executor = CommandExecutor::new(EventStore::new(database), services);
    Ok(Reads::new(Arc::new(executor), regions))
}

async fn events(
    mut pages: ScopedEvents,
    limit: Option<u64>,
    keys: Option<&KeyStore>,
    out: impl Write,
) -> anyhow::Result<u64> {
    let personal = match keys {
        Some(keys) => PersonalData::Opened(keys),
        None => PersonalData::Sealed,
    };
    let mut out = BufWriter::new(out);
    let mut written = 0u64;
    loop {
        let max = limit.map_or(u64::MAX, |limit| limit - written);
        let Some(batch) = pages
            .next_batch(max)
            .await
            .context("reading the event feed")?
        else {
            break;
        };
        for event in batch {
            EventLine::from_stored(event, personal)
                .await?
                .write_to(&mut out)?;
            written += 1;
        }
        out.flush().context("writing the export")?;
    }
    Ok(written)
}

/// Says so on stderr when the read model has not applied the whole log yet (no server or
/// `simpul projections run` is following it).
async fn warn_if_behind(reads: &Reads) {
    if let Ok(status) = reads.projections(&Principal::operator()).await {
        let summary = simpul_projections::community_summary::NAME;
        for projection in status
            .iter()
            .filter(|p| p.name == summary && p.lag_events > 0)
        {
            eprintln!(
                "warning: {} is {} events behind the log; run `simpul projections run` (or \
                 `simpul serve`) to bring it up to date",
                projection.name, projection.lag_events
            );
        }
    }
}

/// Opens `path` for the export, owner only: a new file is created 0600, an existing regular
/// file is narrowed to 0600 *before* it is emptied (an export may hold names in plaintext). A
/// device or pipe (`--output /dev/stdout`) is written as it is.
pub(super) fn create(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    if metadata.is_file() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if metadata.permissions().mode() & 0o777 != 0o600 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .with_context(|| {
                        format!("making {} readable by its owner only", path.display())
                    })?;
            }
        }
        file.set_len(0)
            .with_context(|| format!("emptying {}", path.display()))?;
    }
    Ok(file)
}

/// Runs `export`; if it fails, removes the half-written `path` before returning the error.
pub(super) async fn cleaned_up_on_error<T>(
    path: &Path,
    export: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let result = export.await;
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result.with_context(|| format!("exporting to {} (removed)", path.display()))
}

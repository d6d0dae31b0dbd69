//! `simpul audit`: the verifiable ledger (`docs/ledger.md`). `audit key` prints the verifier
//! key anyone checks the ledger's signed checkpoints with; `audit verify` checks the ledger
//! against the log (or a province's export, offline); `audit export` writes a province's export.

use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::Context as _;
use simpul_app::ledger::export::{export, ExportError};
use simpul_app::ledger::verify::{verify, VerifyError, VerifyOptions};
use simpul_domain::RegionCode;
use simpul_ledger::{ExportCheck, ExportEvent, ExportHeader, Verifier};
use simpul_store::EventStore;

use super::exit::{Exit, OrExit as _};
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Print the ledger's verifier key in the signed-note format
    /// (`<name>+<8 hex digits of the key hash>+<base64 of 0x01 and the Ed25519 public key>`);
    /// the signing key is `SIMPUL_LEDGER_KEY` or `<data dir>/ledger.key`, generated on first use.
    Key,
    /// Check the ledger against the log: every event's leaf recomputed from its stored bytes in
    /// commit order, the province sub-logs, and every stored checkpoint's signature and heads.
    /// With --from-export, check a province's export instead, offline (no database).
    /// Exits 0 when all hold; otherwise 1, naming the first ledger index, community and
    /// sequence that differ and what differs.
    Verify {
        /// The published verifier key (`simpul audit key` on the server) [default: this
        /// machine's own ledger key, which proves less: whoever can change the database may
        /// hold that key too].
        #[arg(long)]
        public_key: Option<String>,
        /// A signed checkpoint kept from earlier (a file holding the note of
        /// `GET /api/v1/ledger/checkpoint`): the log must still extend it.
        #[arg(long, conflicts_with = "from_export")]
        checkpoint: Option<PathBuf>,
        /// A file written by `simpul audit export`: prove it complete and unaltered for its
        /// province with --public-key alone.
        #[arg(long, requires = "public_key")]
        from_export: Option<PathBuf>,
    },
    /// Write one province's events, with their ledger and province indexes, up to the latest
    /// signed checkpoint, that checkpoint and the sub-log table it commits to, as JSON lines, for
    /// `simpul audit verify --from-export` (the payloads stay sealed: no personal data).
    Export {
        /// A province code, e.g. `32` (completeness is proved per province).
        #[arg(long)]
        region: String,
        /// The file to write (created with mode 0600).
        #[arg(long, short)]
        output: PathBuf,
    },
}

pub async fn run(config: &Config, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Key => {
            let key = config
                .ledger_key()
                .context("reading the ledger's signing key")
                .or_exit(Exit::Config)?;
            println!("{}", key.verifier().encode());
            Ok(())
        }
        AuditCommand::Verify {
            public_key,
            checkpoint,
            from_export,
        } => {
            if let Some(path) = from_export {
                let verifier = verifier_of(public_key.as_deref().unwrap_or_default())?;
                return verify_export(&path, &verifier);
            }
            let verifier = match public_key {
                Some(text) => verifier_of(&text)?,
                None => {
                    eprintln!(
                        "verifying with this machine's own ledger key; pass --public-key with the \
                         published key for an independent check"
                    );
                    config
                        .ledger_key()
                        .context("reading the ledger's signing key")
                        .or_exit(Exit::Config)?
                        .verifier()
                }
            };
            let checkpoint = match checkpoint {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))
                        .or_exit(Exit::NotFound)?,
                ),
                None => None,
            };
            let database = super::open_database(config).await?;
            let store = EventStore::new(database);
            let options = VerifyOptions {
                verifier,
                checkpoint,
            };
            match verify(&store, &options).await {
                Ok(report) => {
                    println!(
                        "ledger verified: {} events in commit order, {} province sub-logs, {} \
                         signed checkpoints{}{}",
                        report.events,
                        report.provinces,
                        report.checkpoints,
                        report
                            .latest
                            .map(|size| format!(" (latest: size {size})"))
                            .unwrap_or_default(),
                        report
                            .given
                            .map(|size| format!(
                                "; the log extends the checkpoint given (size {size})"
                            ))
                            .unwrap_or_default(),
                    );
                    if report.pending > 0 {
                        println!(
                            "{} newer events are not in the ledger yet (not checked)",
                            report.pending
                        );
                    }
                    Ok(())
                }
                Err(VerifyError::Mismatch(mismatch)) => {
                    Err(Exit::Failed.msg(format_args!("ledger NOT verified: {mismatch}")))
                }
                Err(VerifyError::BadCheckpoint(error)) => {
                    Err(Exit::DataError.msg(format_args!("--checkpoint: {error}")))
                }
                Err(other) => Err(other.into()),
            }
        }
        AuditCommand::Export { region, output } => {
            let region = RegionCode::parse(region.trim())
                .context("--region")
                .or_exit(Exit::Usage)?;
            let database = super::open_database(config).await?;
            let store = EventStore::new(database);
            let file = super::export::create(&output)?;
            let written = super::export::cleaned_up_on_error(&output, async {
                match export(&store, &region, std::io::BufWriter::new(file)).await {
                    Ok(written) => Ok(written),
                    Err(error @ ExportError::NotAProvince(_)) => Err(Exit::Usage.error(error)),
                    Err(error @ ExportError::NoCheckpoint) => Err(Exit::NotFound.error(error)),
                    Err(error) => Err(error.into()),
                }
            })
            .await?;
            eprintln!(
                "{} events of province {region} exported, complete up to the checkpoint of size {}",
                written.events, written.checkpoint
            );
            Ok(())
        }
    }
}

fn verifier_of(text: &str) -> anyhow::Result<Verifier> {
    Verifier::parse(text)
        .context("--public-key")
        .or_exit(Exit::Usage)
}

/// Checks an export file line by line, with no database.
fn verify_export(path: &std::path::Path, verifier: &Verifier) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("opening {}", path.display()))
        .or_exit(Exit::NotFound)?;
    let mut lines = std::io::BufReader::new(file).lines();
    let malformed = |line: usize, error: &dyn std::fmt::Display| {
        Exit::DataError.msg(format_args!(
            "{}: line {line} is not part of a Simpul ledger export: {error}",
            path.display()
        ))
    };
    let header = match lines.next() {
        Some(Ok(line)) => {
            serde_json::from_str::<ExportHeader>(&line).map_err(|error| malformed(1, &error))?
        }
        Some(Err(error)) => return Err(malformed(1, &error)),
        None => return Err(malformed(1, &"the file is empty")),
    };
    let refused = |error: simpul_ledger::ExportMismatch| {
        Exit::Failed.msg(format_args!("export NOT verified: {error}"))
    };
    let mut check = ExportCheck::open(&header, verifier).map_err(refused)?;
    for (number, line) in lines.enumerate() {
        let line = line.map_err(|error| malformed(number + 2, &error))?;
        let event: ExportEvent =
            serde_json::from_str(&line).map_err(|error| malformed(number + 2, &error))?;
        check.push(&event).map_err(refused)?;
    }
    let summary = check.finish().map_err(refused)?;
    println!(
        "export verified: all {} events of province {} ({} KIM) up to the checkpoint of size {} \
         signed by {}, complete and unaltered",
        summary.events,
        summary.province,
        summary.communities,
        summary.checkpoint.size,
        verifier.name()
    );
    Ok(())
}

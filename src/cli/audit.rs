//! `simpul audit`: the verifiable ledger (`docs/ledger.md`). `audit key` prints the verifier
//! key anyone checks the ledger's signed checkpoints with.

use anyhow::Context as _;

use super::exit::{Exit, OrExit as _};
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Print the ledger's verifier key in the signed-note format
    /// (`<name>+<8 hex digits of the key hash>+<base64 of 0x01 and the Ed25519 public key>`);
    /// the signing key is `SIMPUL_LEDGER_KEY` or `<data dir>/ledger.key`, generated on first use.
    Key,
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
    }
}

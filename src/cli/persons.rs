//! `simpul persons erase PERSON_ID --reason …`: the right to erasure, by crypto-shredding.

use std::process::ExitCode;

use anyhow::Context as _;
use simpul_store::{Erasure, KeyStore};
use uuid::Uuid;

use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum PersonsCommand {
    /// Delete a person's data key: their sealed name and contacts read as erased everywhere,
    /// while every event stays exactly as it was appended.
    Erase {
        /// The person's id (a UUID, as in OfficerAppointed.person_id).
        person_id: String,
        /// Why (recorded with the erasure).
        #[arg(long)]
        reason: String,
        /// Who asks (recorded with the erasure); defaults to `cli:$USER`.
        #[arg(long, env = "USER", hide_env_values = true)]
        actor: Option<String>,
    },
}

pub async fn run(config: &Config, command: PersonsCommand) -> anyhow::Result<ExitCode> {
    let PersonsCommand::Erase {
        person_id,
        reason,
        actor,
    } = command;
    let person_id = Uuid::parse_str(person_id.trim())
        .with_context(|| format!("PERSON_ID `{person_id}` is not a UUID"))?;
    let reason = reason.trim();
    if reason.is_empty() {
        anyhow::bail!("--reason must not be empty: an erasure says why");
    }
    let actor = format!("cli:{}", actor.unwrap_or_else(|| "unknown".to_owned()));
    let keys = KeyStore::new(super::open_database(config).await?, config.master_key()?);
    match keys.erase(person_id, reason, &actor).await? {
        Erasure::Erased => {
            println!("person {person_id} erased: their sealed data is now unreadable");
            Ok(ExitCode::SUCCESS)
        }
        Erasure::AlreadyErased => {
            println!("person {person_id} was already erased");
            Ok(ExitCode::SUCCESS)
        }
        Erasure::UnknownPerson => {
            eprintln!("error: no data key is stored for person {person_id}");
            Ok(ExitCode::from(2))
        }
    }
}

//! `simpul persons erase PERSON_ID --reason …`: the right to erasure, by crypto-shredding.

use anyhow::Context as _;
use simpul_store::Erasure;
use uuid::Uuid;

use super::exit::{Exit, OrExit as _};
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum PersonsCommand {
    /// Delete a person's data key: their sealed name and contacts read as erased everywhere,
    /// while every event stays exactly as it was appended. Exit 2 if no data key is stored for
    /// the person.
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

pub async fn run(config: &Config, command: PersonsCommand) -> anyhow::Result<()> {
    let PersonsCommand::Erase {
        person_id,
        reason,
        actor,
    } = command;
    let person_id = Uuid::parse_str(person_id.trim())
        .with_context(|| format!("PERSON_ID `{person_id}` is not a UUID"))
        .or_exit(Exit::Usage)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Exit::Usage.msg("--reason must not be empty: an erasure says why"));
    }
    let actor = format!("cli:{}", actor.unwrap_or_else(|| "unknown".to_owned()));
    let database = super::open_database(config).await?;
    let keys = config.key_store(&database).await?;
    match keys.erase(person_id, reason, &actor).await? {
        Erasure::Erased => {
            println!("person {person_id} erased: their sealed data is now unreadable");
            Ok(())
        }
        Erasure::AlreadyErased => {
            println!("person {person_id} was already erased");
            Ok(())
        }
        Erasure::UnknownPerson => {
            Err(Exit::NotFound.msg(format_args!("no data key is stored for person {person_id}")))
        }
    }
}

//! `simpul communities show`: one KIM's state now, or as of a past date or ledger index
//! (`docs/ledger.md`, "As of"), read as the operator through the same `Reads` as the API.

use anyhow::Context as _;
use serde_json::json;
use simpul_app::{Action, AsOf, Principal, ReadError};
use simpul_domain::RegionLevel;

use super::exit::{Exit, OrExit as _};
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum CommunitiesCommand {
    /// One KIM: name, region, stage, status, legal standing, SK, nomor induk, members,
    /// officers and version — now, or as the registry had recorded it by a date.
    Show {
        /// The KIM's id.
        id: String,
        /// A date (`2024-12-31`, to the end of that day, UTC) or an RFC 3339 time.
        #[arg(long, conflicts_with = "at_index")]
        as_of: Option<String>,
        /// Every event up to and including this ledger index.
        #[arg(long)]
        at_index: Option<u64>,
        /// Print JSON instead of lines of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &Config, command: CommunitiesCommand) -> anyhow::Result<()> {
    let CommunitiesCommand::Show {
        id,
        as_of,
        at_index,
        json,
    } = command;
    let moment = match (as_of, at_index) {
        (Some(text), _) => Some(AsOf::Time(
            AsOf::time(&text)
                .map_err(|error| anyhow::anyhow!("--as-of: {error}"))
                .or_exit(Exit::Usage)?,
        )),
        (None, Some(index)) => Some(AsOf::Index(index)),
        (None, None) => None,
    };
    let database = super::open_database(config).await?;
    let reads = super::export::reads(database)?;
    let operator = Principal::operator();
    let found = match moment {
        Some(moment) => reads
            .community_as_of(&operator, Action::ReadCommunity, &id, moment)
            .await
            .map(|(read, stamp)| (read, Some(stamp))),
        None => reads
            .community(&operator, Action::ReadCommunity, &id)
            .await
            .map(|read| (read, None)),
    };
    let (read, stamp) = match found {
        Ok(found) => found,
        Err(ReadError::Auth(_)) => {
            return Err(Exit::NotFound.msg(format_args!(
                "no KIM {id}{}",
                if moment.is_some() {
                    " had been recorded by then"
                } else {
                    ""
                }
            )))
        }
        Err(ReadError::Invalid { field, detail }) => {
            return Err(Exit::Usage.msg(format_args!("{field}: {detail}")))
        }
        Err(error) => return Err(error).context("reading the KIM"),
    };
    let community = &read.community;
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let region = |level| {
        community
            .village()
            .and_then(|village| village.ancestor_at(level))
            .map(|code| {
                let name = regions
                    .get(&code)
                    .map(|info| info.name.clone())
                    .unwrap_or_default();
                format!("{code} {name}")
            })
            .unwrap_or_default()
    };
    let view = json!({
        "id": id,
        "name": community.name().map(ToString::to_string),
        "desa": region(RegionLevel::Village),
        "kabupaten_kota": region(RegionLevel::Regency),
        "provinsi": region(RegionLevel::Province),
        "stage": community.stage().as_str(),
        "status": community.status().as_str(),
        "legal": community.is_legal(),
        "sk_number": community.active_sk().map(|(number, _)| number.to_string()),
        "nomor_induk": community.registration_number().map(ToString::to_string),
        "member_count": community.member_count(),
        "officers": community.active_officers().count(),
        "bimtek_count": community.bimtek_count(),
        "version": community.version(),
        "as_of_ledger_index": stamp.as_ref().and_then(|stamp| stamp.ledger_index),
        "as_of_recorded_at": stamp.as_ref().and_then(|stamp| stamp.recorded_at.clone()),
    });
    if json {
        println!("{view}");
        return Ok(());
    }
    if let Some(object) = view.as_object() {
        for (key, value) in object {
            if !value.is_null() {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                println!("{key:<20} {text}");
            }
        }
    }
    Ok(())
}

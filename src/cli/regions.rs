//! `simpul regions show CODE`.

use anyhow::Context as _;
use simpul_domain::RegionCode;

use super::exit::{Exit, OrExit as _};

#[derive(Debug, clap::Subcommand)]
pub enum RegionsCommand {
    /// Name, level, parents and number of children of a code, e.g. `simpul regions show 34.04`.
    /// Exit 2 if the code does not exist.
    Show {
        /// A dotted code: PP, PP.RR, PP.RR.DD or PP.RR.DD.VVVV.
        code: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: RegionsCommand) -> anyhow::Result<()> {
    let RegionsCommand::Show { code, json } = command;
    let code = RegionCode::parse(&code).or_exit(Exit::Usage)?;
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let Some(region) = regions.get(&code) else {
        return Err(Exit::NotFound.msg(format_args!(
            "region code {code} does not exist in edition {}",
            simpul_regions::EDITION
        )));
    };
    let parents = regions.ancestors(&code);
    let children = regions.children_count(&code);
    if json {
        let value = serde_json::json!({
            "code": code.as_str(),
            "name": region.name,
            "display_name": regions.display_name(&code),
            "level": region.level,
            "kind": region.kind,
            "parents": parents.iter().map(|p| serde_json::json!({
                "code": p.code.as_str(), "name": p.name, "level": p.level, "kind": p.kind,
            })).collect::<Vec<_>>(),
            "children": children,
            "edition": simpul_regions::EDITION,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("code:     {code}");
        println!(
            "name:     {}",
            regions.display_name(&code).unwrap_or_default()
        );
        println!("level:    {:?} ({})", region.level, region.kind);
        for parent in &parents {
            println!(
                "parent:   {} {}",
                parent.code,
                regions.display_name(&parent.code).unwrap_or_default()
            );
        }
        println!("children: {children}");
        println!("edition:  {}", simpul_regions::EDITION);
    }
    Ok(())
}

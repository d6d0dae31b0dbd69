//! `simpul tokens create|list|revoke`: API bearer tokens. A secret is printed once, at creation;
//! only its SHA-256 is stored.

use anyhow::Context as _;
use simpul_app::auth::{parse_token_role, Scope, ScopeError};
use simpul_store::{EventStore, StoredToken, TokenStore};
use uuid::Uuid;

use super::exit::{Exit, OrExit as _};
use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum TokensCommand {
    /// Create a token and print its secret (shown this once only). Exit 2 if the scope's region
    /// or a pegiat token's KIM does not exist.
    Create {
        /// admin, national, province, regency, pegiat, auditor or analyst.
        #[arg(long)]
        role: String,
        /// `national` (admin, national, auditor, analyst), a province code (province, analyst), a
        /// kabupaten/kota code (regency, analyst), a community id (pegiat) or a region code of
        /// any level (auditor).
        #[arg(long)]
        scope: String,
        /// Who or what holds the token, e.g. "Diskominfo Sleman".
        #[arg(long)]
        name: String,
    },
    /// List every token, revoked ones included (never their secrets).
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it stops authenticating at once. Exit 2 if no such active token.
    Revoke {
        /// The token's id (from `simpul tokens list`).
        id: String,
    },
}

pub async fn run(config: &Config, command: TokensCommand) -> anyhow::Result<()> {
    match command {
        TokensCommand::Create { role, scope, name } => create(config, &role, &scope, &name).await,
        TokensCommand::List { json } => list(config, json).await,
        TokensCommand::Revoke { id } => revoke(config, &id).await,
    }
}

async fn create(config: &Config, role: &str, scope: &str, name: &str) -> anyhow::Result<()> {
    let role = parse_token_role(role)
        .context("--role")
        .or_exit(Exit::Usage)?;
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let scope = Scope::parse(role, scope, regions).map_err(|error| {
        let exit = match error {
            ScopeError::UnknownRegion { .. } => Exit::NotFound,
            _ => Exit::Usage,
        };
        exit.error(anyhow::Error::new(error).context("--scope"))
    })?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Exit::Usage.msg("--name must not be empty: say who holds the token"));
    }
    let database = super::open_database(config).await?;
    // A pegiat token is for a KIM that exists: one with events in the store.
    if let Scope::Community(id) = &scope {
        let events = EventStore::new(database.clone())
            .stream(&id.to_string())
            .await
            .with_context(|| format!("looking up KIM {id}"))?;
        if events.is_empty() {
            return Err(Exit::NotFound.msg(format_args!(
                "--scope: no KIM {id} in the store (a pegiat token takes the id of an existing \
                 KIM)"
            )));
        }
    }
    let tokens = TokenStore::new(database);
    let (token, secret) = tokens
        .create(name, role.as_str(), &scope.to_string())
        .await
        .context("creating the token")?;
    println!(
        "created token {} `{}` (role {}, scope {})",
        token.id, token.name, token.role, token.scope
    );
    println!("{secret}");
    println!("This token will not be shown again: store it now (send it as `Authorization: Bearer <token>`).");
    Ok(())
}

async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let tokens = TokenStore::new(super::open_database(config).await?)
        .list()
        .await
        .context("listing tokens")?;
    if json {
        for token in &tokens {
            println!("{}", serde_json::to_string(token)?);
        }
    } else {
        print!("{}", table(&tokens));
    }
    Ok(())
}

async fn revoke(config: &Config, id: &str) -> anyhow::Result<()> {
    let id = Uuid::parse_str(id.trim())
        .with_context(|| format!("ID `{id}` is not a UUID"))
        .or_exit(Exit::Usage)?;
    let tokens = TokenStore::new(super::open_database(config).await?);
    if tokens.revoke(id).await.context("revoking the token")? {
        println!("token {id} revoked");
        Ok(())
    } else {
        Err(Exit::NotFound.msg(format_args!(
            "no active token {id} (unknown or already revoked)"
        )))
    }
}

/// The tokens as an aligned text table.
fn table(tokens: &[StoredToken]) -> String {
    const TIME: &str = "%Y-%m-%d %H:%M:%SZ";
    let header = ["ID", "NAME", "ROLE", "SCOPE", "CREATED", "REVOKED"].map(str::to_owned);
    let rows: Vec<[String; 6]> = tokens
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                t.name.clone(),
                t.role.clone(),
                t.scope.clone(),
                t.created_at.format(TIME).to_string(),
                t.revoked_at
                    .map(|at| at.format(TIME).to_string())
                    .unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

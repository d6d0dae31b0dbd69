//! `simpul serve`: the HTTP API.

use std::net::SocketAddr;

use anyhow::Context as _;

use super::exit::OrExit as _;
use simpul_http::AppState;
use simpul_store::TokenStore;

use crate::config::{Config, DEFAULT_LISTEN};

/// Options of `simpul serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SIMPUL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Connections served at once; more wait in the kernel's backlog until one closes.
    #[arg(long, env = "SIMPUL_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Seconds a connection may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    #[arg(long, env = "SIMPUL_HEADER_TIMEOUT", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a request may take to send its body (408 after that).
    #[arg(long, env = "SIMPUL_BODY_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Cut a signed ledger checkpoint after this many new events …
    #[arg(long, env = "SIMPUL_CHECKPOINT_EVENTS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_events: u64,
    /// … or after this many seconds, if any event is new.
    #[arg(long, env = "SIMPUL_CHECKPOINT_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub checkpoint_seconds: u64,
    /// Minutes a web session (signed in at /masuk) may stay idle before it must sign in again.
    #[arg(long, env = "SIMPUL_WEB_SESSION_IDLE", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub web_session_idle: u64,
    /// Mark the web application's cookies `Secure` on every response (behind a TLS proxy that
    /// does not send `X-Forwarded-Proto: https`).
    #[arg(long, env = "SIMPUL_WEB_SECURE_COOKIES", default_value_t = false)]
    pub web_secure_cookies: bool,
}

pub async fn run(
    config: &Config,
    args: ServeArgs,
    file_listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let listen = match args.listen.or(file_listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN.parse().context("default listen address")?,
    };
    let database = super::open_database(config).await?;
    let keys = config.key_store(&database).await?;
    let regions = simpul_regions::bundled().context("loading the bundled region codes")?;
    let token_path = config.data_dir().join("admin-token");
    let tokens = TokenStore::new(database.clone());
    if let Some(path) = simpul_app::bootstrap_admin_token(&tokens, &token_path)
        .await
        .context("creating the first admin token")?
    {
        tracing::warn!(path = %path.display(), "no API tokens existed: an admin token was written to this file (mode 0600)");
    }
    let ledger_key = config
        .ledger_key()
        .context("reading the ledger's signing key")
        .or_exit(super::exit::Exit::Config)?;
    let state = AppState::new(database.clone(), keys, regions);
    // The read models follow the feed inside the server until it stops.
    let (stop_projections, projections_stopped) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(
        simpul_projections::Runner::new(state.store().clone())
            .run(simpul_projections::all(regions), projections_stopped),
    );
    let checkpointer = simpul_app::ledger::Checkpointer::new(
        database.clone(),
        ledger_key,
        &config.ledger_origin,
        simpul_app::ledger::CheckpointPolicy {
            every: args.checkpoint_events,
            interval: std::time::Duration::from_secs(args.checkpoint_seconds),
        },
    )
    .await
    .context("reading the ledger's last checkpoint")?;
    let checkpoints = tokio::spawn(cut_checkpoints(checkpointer, stop_projections.subscribe()));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!(address = %local, backend = ?database.backend(), "simpul serving");
    eprintln!(
        "simpul: serving http://{local}/api/v1 (docs: http://{local}/api/docs; web application: http://{local}/)"
    );
    let limits = simpul_http::Limits {
        max_connections: args.max_connections as usize,
        header_timeout: std::time::Duration::from_secs(args.header_timeout),
        body_timeout: std::time::Duration::from_secs(args.body_timeout),
    };
    let web = simpul_web::WebSettings {
        sessions: simpul_store::SessionLimits {
            idle: std::time::Duration::from_secs(args.web_session_idle * 60),
            ..simpul_store::SessionLimits::default()
        },
        secure_cookies: args.web_secure_cookies,
    };
    let app = simpul_http::app_with_pages(state, &limits, simpul_web::pages(web));
    simpul_http::serve_with_limits(listener, app, limits, shutdown_signal())
        .await
        .context("serving HTTP")?;
    let _ = stop_projections.send(true);
    let _ = runner.await;
    let _ = checkpoints.await;
    database.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Cuts the ledger's signed checkpoints as the policy says, checking every second, until
/// `stop`. A failure (the database away) is logged once per kind and retried on the next tick.
async fn cut_checkpoints(
    mut checkpointer: simpul_app::ledger::Checkpointer,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        match checkpointer.tick().await {
            Ok(Some(size)) => {
                failing = false;
                tracing::info!(size, "ledger checkpoint signed");
            }
            Ok(None) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "cutting a ledger checkpoint failed; retrying");
            }
            Err(_) => {}
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before the server stops.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

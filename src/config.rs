//! The one typed configuration, read from flags, `SIMPUL_*` / `DATABASE_URL` variables and an
//! optional TOML file (`--config`, `SIMPUL_CONFIG`). A flag or variable wins over the file, the
//! file over the default. `std::env::var` appears nowhere else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use simpul_store::{DatabaseUrl, MasterKey};

/// Options shared by every subcommand.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// A TOML file with any of `data_dir`, `database_url`, `master_key`, `listen`.
    #[arg(long = "config", env = "SIMPUL_CONFIG", global = true)]
    pub config_file: Option<PathBuf>,

    /// Directory for the embedded database, the generated master key and the bootstrap admin
    /// token [default: ./data].
    #[arg(long, env = "SIMPUL_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// `postgres://…` or `sqlite://…`; defaults to `sqlite://<data dir>/simpul.db`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Base64 of 32 bytes wrapping every person's data key; defaults to `<data dir>/master.key`,
    /// generated on first use with mode 0600.
    #[arg(long, env = "SIMPUL_MASTER_KEY", global = true, hide_env_values = true)]
    pub master_key: Option<String>,
}

/// The keys a configuration file may set (all optional).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// As `SIMPUL_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// As `DATABASE_URL`.
    pub database_url: Option<String>,
    /// As `SIMPUL_MASTER_KEY`.
    pub master_key: Option<String>,
    /// As `SIMPUL_LISTEN`.
    pub listen: Option<SocketAddr>,
}

/// Where `simpul serve` listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    #[default]
    Json,
}

impl Config {
    /// Fills what flags and variables left unset from the configuration file, if one is named.
    /// Returns the file's `listen`, which only `serve` uses.
    pub fn merge_file(&mut self) -> anyhow::Result<Option<SocketAddr>> {
        let Some(path) = &self.config_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading configuration file {}", path.display()))?;
        let file: FileConfig = toml::from_str(&text)
            .with_context(|| format!("configuration file {}", path.display()))?;
        self.data_dir = self.data_dir.take().or(file.data_dir);
        self.database_url = self.database_url.take().or(file.database_url);
        self.master_key = self.master_key.take().or(file.master_key);
        Ok(file.listen)
    }

    /// The data directory in force.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.as_deref().unwrap_or(Path::new("./data"))
    }

    /// The database URL in force.
    pub fn database_url(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url).context("DATABASE_URL"),
            None => {
                self.check_data_dir();
                Ok(DatabaseUrl::sqlite_in(self.data_dir()))
            }
        }
    }

    /// The master key in force.
    pub fn master_key(&self) -> anyhow::Result<MasterKey> {
        match &self.master_key {
            Some(key) => MasterKey::from_base64(key).context("SIMPUL_MASTER_KEY"),
            None => {
                self.check_data_dir();
                let path = self.data_dir().join("master.key");
                simpul_store::narrow_to_owner(&path);
                MasterKey::load_or_create(&path)
                    .with_context(|| format!("master key file {}", path.display()))
            }
        }
    }

    /// Warns (once per process) when the data directory in force exists and group or others may
    /// list or enter it. Simpul creates it 0700 but never changes an existing directory's mode:
    /// it may be shared (`--data-dir .`). The files in it that hold secrets are 0600 either way.
    fn check_data_dir(&self) {
        static CHECKED: std::sync::Once = std::sync::Once::new();
        CHECKED.call_once(|| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let dir = self.data_dir();
                if let Ok(metadata) = std::fs::metadata(dir) {
                    let mode = metadata.permissions().mode() & 0o777;
                    if metadata.is_dir() && mode & 0o077 != 0 {
                        tracing::warn!(
                            path = %dir.display(),
                            mode = %format_args!("{mode:04o}"),
                            "the data directory is open to group or others: run `chmod 700` on it"
                        );
                    }
                }
            }
        });
    }
}

/// Logs go to stderr, so stdout carries only command output (JSON lines for `events tail`).
/// `default_level` applies when `SIMPUL_LOG` is unset (`info` for the server, `warn` otherwise).
pub fn init_tracing(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIMPUL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

//! The one typed configuration, read from flags, `SIMPUL_*` / `DATABASE_URL` variables and an
//! optional TOML file (`--config`, `SIMPUL_CONFIG`). A flag or variable wins over the file, the
//! file over the default. `std::env::var` appears nowhere else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use simpul_store::{Database, DatabaseUrl, KeyRecord, KeyStore, MasterKey, StoreError};

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
    /// generated with mode 0600 only for a database that has no master key yet (the database
    /// records the key's fingerprint and refuses any other key).
    #[arg(long, env = "SIMPUL_MASTER_KEY", global = true, hide_env_values = true)]
    pub master_key: Option<String>,

    /// The configuration file this `master_key` came from, when it did (for messages).
    #[arg(skip)]
    master_key_file: Option<PathBuf>,

    /// Base64 of the 32-byte Ed25519 seed the ledger's checkpoints are signed with; defaults to
    /// `<data dir>/ledger.key`, generated with mode 0600 on first use.
    #[arg(long, env = "SIMPUL_LEDGER_KEY", global = true, hide_env_values = true)]
    pub ledger_key: Option<String>,

    /// The ledger's origin line, also the name of its signing key (no `+`, no whitespace).
    #[arg(
        long,
        env = "SIMPUL_LEDGER_ORIGIN",
        global = true,
        default_value = "simpul.local/ledger"
    )]
    pub ledger_origin: String,
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
        if self.master_key.is_none() && file.master_key.is_some() {
            self.master_key_file = Some(path.clone());
        }
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

    /// The key store of a command that seals or opens personal data, on `database` (migrated):
    /// the master key in force, checked against the fingerprint the database records (recorded
    /// now if the database has none yet: [`KeyStore::open_checked`]). Without
    /// `SIMPUL_MASTER_KEY` the key is `<data dir>/master.key`; a missing file is generated (mode
    /// 0600) only for a database that has no key yet — neither a fingerprint nor wrapped data
    /// keys — and is otherwise an error: a new key would seal new data under another key.
    pub async fn key_store(&self, database: &Database) -> anyhow::Result<KeyStore> {
        let (master, key_from, created) = match self.find_master_key()? {
            Some((master, key_from)) => (master, key_from, None),
            None => {
                let path = self.master_key_path();
                let record = KeyRecord::read(database)
                    .await
                    .context("reading the database's master key fingerprint")?;
                if !record.is_fresh() {
                    let expected = match record {
                        KeyRecord::Recorded(fingerprint) => Some(fingerprint.to_string()),
                        _ => None,
                    };
                    return Err(StoreError::MasterKeyMissing {
                        path: path.display().to_string(),
                        expected,
                    }
                    .into());
                }
                self.check_data_dir();
                let context = || format!("master key file {}", path.display());
                let (master, created) = match MasterKey::create(&path).with_context(context)? {
                    Some(master) => (master, Some(path.clone())),
                    // Another process made it first: its key it is.
                    None => (
                        MasterKey::load(&path)
                            .with_context(context)?
                            .with_context(|| format!("{} vanished while read", path.display()))?,
                        None,
                    ),
                };
                if created.is_some() {
                    tracing::info!(path = %path.display(), "generated a master key for a database that had none");
                }
                (master, path.display().to_string(), created)
            }
        };
        let fingerprint = master.fingerprint();
        match KeyStore::open_checked(database.clone(), master, &key_from).await {
            Ok(keys) => {
                tracing::debug!(fingerprint = %fingerprint.to_hex(), key_from, "master key checked");
                Ok(keys)
            }
            Err(error) => {
                // A key this process generated that the database then refused (another process
                // recorded its own first) must not linger and be found next time. Only then:
                // after any other failure its fingerprint may have been recorded.
                if let (Some(path), StoreError::MasterKeyMismatch { .. }) = (created, &error) {
                    let _ = std::fs::remove_file(path);
                }
                Err(error.into())
            }
        }
    }

    /// Refuses a master key in force that is not the one `database` records, for every command
    /// that opens the database ([`simpul_store::check_master_key`]). Only a key that is there
    /// is checked — `SIMPUL_MASTER_KEY`, or an existing key file: nothing is generated or
    /// recorded here, and commands that never read personal data work without a key.
    pub async fn check_master_key(&self, database: &Database) -> anyhow::Result<()> {
        if let Some((master, key_from)) = self.find_master_key()? {
            simpul_store::check_master_key(database, &master, &key_from).await?;
        }
        Ok(())
    }

    /// The ledger's signing key: `SIMPUL_LEDGER_KEY`, or `<data dir>/ledger.key` (created 0600
    /// when missing), named by the ledger's origin.
    pub fn ledger_key(&self) -> anyhow::Result<simpul_ledger::LedgerKey> {
        let seed = match &self.ledger_key {
            Some(text) => simpul_store::secret_from_base64(text)
                .map_err(|_| anyhow::anyhow!("SIMPUL_LEDGER_KEY must be base64 of 32 bytes"))?,
            None => {
                self.check_data_dir();
                let path = self.data_dir().join("ledger.key");
                simpul_store::secret_file(&path)
                    .with_context(|| format!("the ledger key {}", path.display()))?
            }
        };
        simpul_ledger::LedgerKey::from_seed(&self.ledger_origin, &seed)
            .context("SIMPUL_LEDGER_ORIGIN")
    }

    /// The master key in force and where it came from, if there is one: `SIMPUL_MASTER_KEY`
    /// (flag, variable or configuration file), else an existing `<data dir>/master.key`.
    fn find_master_key(&self) -> anyhow::Result<Option<(MasterKey, String)>> {
        if let Some(key) = &self.master_key {
            let key_from = match &self.master_key_file {
                Some(file) => format!("master_key in {}", file.display()),
                None => "SIMPUL_MASTER_KEY".to_owned(),
            };
            let master = MasterKey::from_base64(key).with_context(|| key_from.clone())?;
            return Ok(Some((master, key_from)));
        }
        let path = self.master_key_path();
        if !path.exists() {
            return Ok(None);
        }
        self.check_data_dir();
        simpul_store::narrow_to_owner(&path);
        let master = MasterKey::load(&path)
            .with_context(|| format!("master key file {}", path.display()))?;
        Ok(master.map(|master| (master, path.display().to_string())))
    }

    /// `<data dir>/master.key`.
    fn master_key_path(&self) -> PathBuf {
        self.data_dir().join("master.key")
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

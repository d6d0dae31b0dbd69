//! Connecting to the database named by a URL, with pools that report failure instead of
//! panicking (postgres-es' default pool helpers panic), and applying the migrations.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::error::StoreError;

/// Schema migrations for PostgreSQL (`migrations/postgres`).
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
/// Schema migrations for SQLite (`migrations/sqlite`).
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a writer waits for SQLite's single write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the events live: `postgres://…` or `sqlite://<path>`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL server.
    Postgres(String),
    /// An SQLite file (the embedded default).
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// Parses a URL; anything but `postgres://`, `postgresql://` or `sqlite://` is refused.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(StoreError::Config(
                    "sqlite:// URL has no file path (e.g. sqlite://./data/simpul.db)".to_owned(),
                ));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            Err(StoreError::Config(format!(
                "DATABASE_URL must start with postgres:// or sqlite://, got `{}`",
                redact(url)
            )))
        }
    }

    /// The embedded default inside a data directory.
    pub fn sqlite_in(data_dir: &Path) -> Self {
        Self::Sqlite(data_dir.join("simpul.db"))
    }

    /// Which backend this URL names.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Postgres(url) => write!(f, "Postgres({})", redact(url)),
            Self::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
        }
    }
}

/// Hides a password in a URL for messages and logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The two supported backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL through postgres-es.
    Postgres,
    /// SQLite through sqlite-es.
    Sqlite,
}

/// Open connection pools to one database.
#[derive(Clone, Debug)]
pub enum Database {
    /// PostgreSQL: one pool serves reads and writes.
    Postgres(PgPool),
    /// SQLite: readers share a pool; writes go through a pool of exactly one connection, so
    /// writers queue in-process instead of failing with `SQLITE_BUSY`.
    Sqlite {
        /// Pool for reads (WAL lets them run beside the writer).
        readers: SqlitePool,
        /// The single writer connection.
        writer: SqlitePool,
    },
}

impl Database {
    /// Connects (creating the SQLite file and its directory if needed). Never panics.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, StoreError> {
        match url {
            DatabaseUrl::Postgres(url) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
                let pool = PgPoolOptions::new()
                    .max_connections(32)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(Self::Postgres(pool))
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir)?;
                }
                create_private_file(path)?;
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true);
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(SQLITE_BUSY_TIMEOUT)
                    .after_release(|connection, _| {
                        Box::pin(async move { sqlite_writer_is_clean(connection).await })
                    })
                    .connect_with(
                        options
                            .clone()
                            .create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal)
                            // FULL: a commit is on disk (WAL synced) before it is acknowledged,
                            // so an acknowledged write survives a power cut as well as a crash.
                            .synchronous(SqliteSynchronous::Full)
                            // Deleted content (an erased person's key) is overwritten with
                            // zeros, not left in a free page of the file.
                            .pragma("secure_delete", "ON"),
                    )
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let readers = SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options.read_only(true))
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(Self::Sqlite { readers, writer })
            }
        }
    }

    /// Connects and applies every pending migration.
    pub async fn connect_and_migrate(url: &DatabaseUrl) -> Result<Self, StoreError> {
        let database = Self::connect(url).await?;
        database.migrate().await?;
        Ok(database)
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
            Self::Sqlite { writer, .. } => SQLITE_MIGRATOR.run(writer).await?,
        }
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            Self::Sqlite { readers, .. } => {
                sqlx::query("SELECT 1").execute(readers).await?;
            }
        }
        Ok(())
    }

    /// Closes every pool.
    pub async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
            Self::Sqlite { readers, writer } => {
                readers.close().await;
                writer.close().await;
            }
        }
    }
}

/// Creates `dir` and its missing parents, owner only (0700 on Unix), as the data directory and
/// a database's directory are. A directory that exists already is left as it is (it may be
/// shared, e.g. the parent of a `DATABASE_URL` file); `simpul` warns about an open data directory.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let error =
        |e: std::io::Error| StoreError::Config(format!("cannot create {}: {e}", dir.display()));
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder.create(dir).map_err(error)?;
        // Exactly 0700 whatever the umask (it can only have taken bits away).
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(error)?;
    }
    #[cfg(not(unix))]
    builder.create(dir).map_err(error)?;
    Ok(())
}

/// Makes the SQLite file `path` owner only (0600 on Unix) before SQLite opens it: a missing file
/// is created empty with that mode (SQLite takes an empty file for a new database, and creates
/// its `-wal` and `-shm` files with the database file's mode); an existing database file, `-wal`
/// or `-shm` that group or others may use loses their bits (0644 becomes 0600), with a warning
/// naming it. The file holds token hashes and wrapped person keys.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            // Exactly 0600 whatever the umask.
            Ok(file) => file
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| {
                    StoreError::Config(format!("cannot set the mode of {}: {e}", path.display()))
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StoreError::Config(format!(
                    "cannot create {}: {e}",
                    path.display()
                )))
            }
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            narrow_to_owner(Path::new(&file));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Takes group's and others' bits from an existing regular file that has any (0644 becomes
/// 0600), saying so in the log; the next open finds it narrowed. A missing file is fine; a failure
/// is only logged: the file stays usable and the log names it. (Unix; nothing elsewhere.)
pub fn narrow_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        let mode = metadata.permissions().mode() & 0o777;
        if !metadata.is_file() || mode & 0o077 == 0 {
            return;
        }
        // Group and others lose every bit; the owner's stay (a read-only file stays read-only).
        let narrowed = mode & 0o700;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(narrowed)) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                was = %format_args!("{mode:04o}"),
                now = %format_args!("{narrowed:04o}"),
                "the file was open to group or others: it is now owner only"
            ),
            Err(error) => tracing::warn!(
                path = %path.display(),
                mode = %format_args!("{mode:04o}"),
                error = %error,
                "the file is open to group or others and its mode cannot be narrowed: make it owner only (chmod go= …)"
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Whether the single SQLite writer connection may go back to the pool: only outside any
/// transaction. A failed COMMIT or ROLLBACK (a full disk, an I/O error) can leave the connection
/// inside a transaction — the one sqlx counts, or one SQLite still holds open without sqlx
/// knowing. Reused, every later one-statement append would run inside it, be acknowledged and
/// never be committed. Such a connection is closed (rolling back what it held, which nobody was
/// told had been written); the pool opens a fresh one for the next writer.
async fn sqlite_writer_is_clean(
    connection: &mut sqlx::SqliteConnection,
) -> Result<bool, sqlx::Error> {
    use sqlx::Connection as _;
    if connection.is_in_transaction() {
        tracing::warn!("closing the SQLite writer connection: a transaction was left open");
        return Ok(false);
    }
    // SQLite refuses BEGIN inside a transaction: an open one sqlx does not know of shows here.
    use sqlx::Executor as _;
    if connection.execute("BEGIN").await.is_err() {
        tracing::warn!("closing the SQLite writer connection: SQLite holds a transaction open");
        return Ok(false);
    }
    connection.execute("ROLLBACK").await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend_and_hide_passwords() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u:secret@h/db")
                .unwrap()
                .backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/simpul.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/simpul.db"))
        );
        let error = DatabaseUrl::parse("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(error.contains("u:***@h/db"), "{error}");
        assert!(!error.contains("secret"));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}

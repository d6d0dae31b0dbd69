//! Who may write a read model, and the scratch space rebuilds leave behind.
//!
//! Three locks, one per job, all per read model:
//! - the **runner lock** (PostgreSQL session advisory lock, one-key space): one server follows
//!   the feed with a read model at a time. The runner writes through the very connection that
//!   holds it ([`RunnerSession`]), so it cannot write once the lock is gone (a database restart
//!   ends the session and the lock with it);
//! - the **maintenance lock** (PostgreSQL session advisory lock in key space 2; on SQLite an
//!   exclusive lock on the file `<database>.lock-<name>`): held for the whole of a rebuild or a
//!   verify, across processes and servers, so two of them never run on one read model at once;
//! - the **write lock** (transaction advisory lock in key space 1, `write_lock` in `runner.rs`):
//!   serialises each live batch with a rebuild's swap.
//!
//! (Key space 3 is the feed's commit lock, `(3, 0)`, taken by the store's event writers and
//! readers: migration `…80_feed_commits`.)
//!
//! Each rebuild or verify fills a scratch space of its own: a PostgreSQL schema
//! `simpul_shadow_<name>_<purpose>_<random>` or an SQLite file
//! `<database>.shadow-<name>-<purpose>-<random>`. One left by a killed process is removed by the
//! next rebuild or verify of that read model, or when a runner starts following it, and
//! `projections status` lists it until then.

use std::path::{Path, PathBuf};

use serde::Serialize;
use simpul_store::Database;

use super::ProjectionError;

/// The runner lock's key (`pg_try_advisory_lock(hashtext(key))`).
pub(crate) fn runner_lock_key(name: &str) -> String {
    format!("simpul-projection:{name}")
}

/// A PostgreSQL connection of a runner's own, holding the runner lock of one read model; the
/// runner's live batches are written through it.
pub(crate) type RunnerSession = std::sync::Arc<tokio::sync::Mutex<sqlx::PgConnection>>;

/// Takes the runner lock of `name` if it is free (PostgreSQL only; `None` when another session
/// holds it).
pub(crate) async fn try_runner_session(
    pool: &sqlx::PgPool,
    name: &str,
) -> Result<Option<RunnerSession>, ProjectionError> {
    // Detached from the pool: when the runner stops, the connection closes and the lock goes with
    // it (a pooled connection would keep holding the session lock).
    let mut connection = pool.acquire().await?.detach();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(runner_lock_key(name))
        .fetch_one(&mut connection)
        .await?;
    Ok(locked.then(|| std::sync::Arc::new(tokio::sync::Mutex::new(connection))))
}

/// Whether a runner session's connection still answers (and so still holds its lock).
pub(crate) async fn session_alive(session: &RunnerSession) -> bool {
    let mut connection = session.lock().await;
    let probe = sqlx::query("SELECT 1").execute(&mut *connection);
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(5), probe).await,
        Ok(Ok(_))
    )
}

/// A rebuild's or a verify's hold on one read model, for the whole operation. Released when
/// dropped (the connection closes, or the file lock is let go).
pub(crate) enum MaintenanceLock {
    /// A detached connection holding `pg_advisory_lock(2, hashtext(name))`.
    Postgres(#[allow(dead_code)] sqlx::PgConnection),
    /// `<database>.lock-<name>`, locked exclusively.
    Sqlite(#[allow(dead_code)] std::fs::File),
}

impl MaintenanceLock {
    /// Takes the maintenance lock of `name`, waiting for a rebuild or verify of it elsewhere to
    /// finish first.
    pub(crate) async fn acquire(db: &Database, name: &str) -> Result<Self, ProjectionError> {
        if let Some(lock) = Self::try_acquire(db, name).await? {
            return Ok(lock);
        }
        tracing::warn!(
            projection.name = name,
            "another rebuild or verify of this read model is running; waiting for it to finish"
        );
        match db {
            Database::Postgres(pool) => {
                let mut connection = pool.acquire().await?.detach();
                sqlx::query("SELECT pg_advisory_lock(2, hashtext($1))")
                    .bind(name)
                    .execute(&mut connection)
                    .await?;
                Ok(Self::Postgres(connection))
            }
            Database::Sqlite { .. } => {
                let file = open_lock_file(db, name).await?;
                let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                    .await
                    .map_err(|e| ProjectionError::Storage(e.to_string()))?
                    .map_err(|e| lock_file_error(name, &e))?;
                Ok(Self::Sqlite(file))
            }
        }
    }

    /// Takes the maintenance lock of `name` only if nobody holds it.
    pub(crate) async fn try_acquire(
        db: &Database,
        name: &str,
    ) -> Result<Option<Self>, ProjectionError> {
        match db {
            Database::Postgres(pool) => {
                let mut connection = pool.acquire().await?.detach();
                let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(2, hashtext($1))")
                    .bind(name)
                    .fetch_one(&mut connection)
                    .await?;
                Ok(free.then_some(Self::Postgres(connection)))
            }
            Database::Sqlite { .. } => {
                let file = open_lock_file(db, name).await?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(Self::Sqlite(file))),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(error)) => Err(lock_file_error(name, &error)),
                }
            }
        }
    }
}

/// Whether a rebuild or verify of `name` holds its maintenance lock now (without taking it).
async fn maintenance_running(db: &Database, name: &str) -> Result<bool, ProjectionError> {
    match db {
        Database::Postgres(pool) => Ok(sqlx::query_scalar(
            // A two-key advisory lock shows its keys as classid/objid, objsubid 2.
            "SELECT EXISTS (SELECT 1 FROM pg_locks
                             WHERE locktype = 'advisory' AND objsubid = 2 AND granted
                               AND database = (SELECT oid FROM pg_database
                                                WHERE datname = current_database())
                               AND classid = 2::oid AND objid = hashtext($1)::oid)",
        )
        .bind(name)
        .fetch_one(pool)
        .await?),
        Database::Sqlite { .. } => {
            let file = open_lock_file(db, name).await?;
            match file.try_lock_shared() {
                Ok(()) => Ok(false),
                Err(std::fs::TryLockError::WouldBlock) => Ok(true),
                Err(std::fs::TryLockError::Error(error)) => Err(lock_file_error(name, &error)),
            }
        }
    }
}

async fn open_lock_file(db: &Database, name: &str) -> Result<std::fs::File, ProjectionError> {
    let path = PathBuf::from(format!("{}.lock-{name}", sqlite_main_path(db).await?));
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(&path).map_err(|e| {
        ProjectionError::Storage(format!("cannot open the lock file {}: {e}", path.display()))
    })
}

fn lock_file_error(name: &str, error: &std::io::Error) -> ProjectionError {
    ProjectionError::Storage(format!(
        "cannot lock read model {name} for maintenance: {error}"
    ))
}

/// The file of an SQLite database's main schema.
pub(crate) async fn sqlite_main_path(db: &Database) -> Result<String, ProjectionError> {
    let Database::Sqlite { writer, .. } = db else {
        return Err(ProjectionError::Storage("expected SQLite".to_owned()));
    };
    Ok(
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(writer)
            .await?,
    )
}

/// What a rebuild or verify fills.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Rebuild,
    Verify,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Rebuild => "rebuild",
            Purpose::Verify => "verify",
        }
    }
}

/// A fresh scratch name for `name`: `simpul_shadow_<name>_<purpose>_<random>` (a schema) or
/// `<database>.shadow-<name>-<purpose>-<random>` (a file).
pub(crate) fn scratch_schema(name: &str, purpose: Purpose) -> String {
    format!(
        "{}{}_{}",
        schema_prefix(name),
        purpose.as_str(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The scratch file for `name` beside the database file `main`.
pub(crate) fn scratch_file(main: &str, name: &str, purpose: Purpose) -> PathBuf {
    PathBuf::from(format!(
        "{main}.shadow-{name}-{}-{}",
        purpose.as_str(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ))
}

fn schema_prefix(name: &str) -> String {
    format!("simpul_shadow_{name}_")
}

/// Whether schema `schema` is scratch space of read model `name` (also the older fixed name
/// `simpul_shadow_<name>`).
fn is_scratch_schema(schema: &str, name: &str) -> bool {
    schema == format!("simpul_shadow_{name}")
        || schema
            .strip_prefix(&schema_prefix(name))
            .is_some_and(|rest| rest.starts_with("rebuild_") || rest.starts_with("verify_"))
}

/// Whether file `file` (a name in the database's directory) is scratch space of read model
/// `name` beside database file `main` (also the older `<main>.rebuild-<name>`), WAL and
/// shared-memory files included.
fn is_scratch_file(file: &str, main: &str, name: &str) -> bool {
    let base = without_companion_suffix(file);
    base == format!("{main}.rebuild-{name}")
        || base
            .strip_prefix(&format!("{main}.shadow-{name}-"))
            .is_some_and(|rest| rest.starts_with("rebuild-") || rest.starts_with("verify-"))
}

/// A scratch space found in the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scratch {
    /// The schema (PostgreSQL) or file (SQLite).
    pub name: String,
    /// A rebuild or verify of the read model is running now; otherwise it was left by one that
    /// was killed, and goes with the next rebuild, verify or runner start.
    pub in_use: bool,
}

/// The scratch spaces of read model `name`: schemas, or files (named without the WAL, SHM or
/// journal files that go with them).
async fn scratch_spaces(db: &Database, name: &str) -> Result<Vec<String>, ProjectionError> {
    match db {
        Database::Postgres(pool) => {
            let schemas: Vec<String> = sqlx::query_scalar(
                "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'simpul%shadow%' ORDER BY 1",
            )
            .fetch_all(pool)
            .await?;
            Ok(schemas
                .into_iter()
                .filter(|schema| is_scratch_schema(schema, name))
                .collect())
        }
        Database::Sqlite { .. } => {
            let main = sqlite_main_path(db).await?;
            let main_path = Path::new(&main);
            let (Some(dir), Some(file_name)) = (
                main_path.parent(),
                main_path.file_name().and_then(|f| f.to_str()),
            ) else {
                return Ok(Vec::new());
            };
            let entries = match std::fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(_) => return Ok(Vec::new()),
            };
            let mut files: Vec<String> = entries
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
                .filter(|file| is_scratch_file(file, file_name, name))
                .map(|file| {
                    dir.join(without_companion_suffix(&file))
                        .display()
                        .to_string()
                })
                .collect();
            files.sort();
            files.dedup();
            Ok(files)
        }
    }
}

/// An SQLite file's name without the suffix of its WAL, shared-memory or journal file.
fn without_companion_suffix(file: &str) -> &str {
    SQLITE_COMPANIONS
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))
        .unwrap_or(file)
}

/// The files SQLite keeps beside a database file.
const SQLITE_COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The scratch spaces of `name`, and whether a rebuild or verify is using them now.
pub(crate) async fn scratch_of(db: &Database, name: &str) -> Result<Vec<Scratch>, ProjectionError> {
    let spaces = scratch_spaces(db, name).await?;
    if spaces.is_empty() {
        return Ok(Vec::new());
    }
    let in_use = maintenance_running(db, name).await?;
    Ok(spaces
        .into_iter()
        .map(|name| Scratch { name, in_use })
        .collect())
}

/// Removes every scratch space of `name`. The caller holds its maintenance lock, so none of them
/// is in use. Returns what was removed.
pub(crate) async fn remove_scratch(
    db: &Database,
    name: &str,
    _held: &MaintenanceLock,
) -> Result<Vec<String>, ProjectionError> {
    let spaces = scratch_spaces(db, name).await?;
    for space in &spaces {
        match db {
            Database::Postgres(pool) => {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{space}\" CASCADE"))
                    .execute(pool)
                    .await?;
            }
            Database::Sqlite { .. } => {
                for suffix in std::iter::once("").chain(SQLITE_COMPANIONS) {
                    let file = format!("{space}{suffix}");
                    if let Err(error) = std::fs::remove_file(&file) {
                        if error.kind() != std::io::ErrorKind::NotFound {
                            return Err(ProjectionError::Storage(format!(
                                "cannot remove scratch file {file}: {error}"
                            )));
                        }
                    }
                }
            }
        }
    }
    if !spaces.is_empty() {
        tracing::info!(projection.name = name, removed = ?spaces, "removed scratch space left by an interrupted rebuild or verify");
    }
    Ok(spaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_belong_to_one_read_model() {
        let schema = scratch_schema("stage_dashboard", Purpose::Rebuild);
        assert!(is_scratch_schema(&schema, "stage_dashboard"));
        assert!(!is_scratch_schema(&schema, "stage_transitions"));
        assert!(is_scratch_schema(
            "simpul_shadow_stage_dashboard",
            "stage_dashboard"
        ));
        assert!(!is_scratch_schema("simpul_shadow_stage", "stage_dashboard"));
        assert!(
            schema.len() <= 63,
            "PostgreSQL truncates longer names: {schema}"
        );
        let long = scratch_schema("community_summary", Purpose::Verify);
        assert!(long.len() <= 63, "{long}");

        let file = scratch_file("simpul.db", "audit_trail", Purpose::Verify);
        let file = file.to_str().unwrap();
        assert!(is_scratch_file(file, "simpul.db", "audit_trail"));
        assert!(is_scratch_file(
            &format!("{file}-wal"),
            "simpul.db",
            "audit_trail"
        ));
        assert!(is_scratch_file(
            "simpul.db.rebuild-audit_trail-shm",
            "simpul.db",
            "audit_trail"
        ));
        assert!(!is_scratch_file(file, "simpul.db", "audit"));
        assert!(!is_scratch_file(
            "simpul.db.lock-audit_trail",
            "simpul.db",
            "audit_trail"
        ));
        assert!(!is_scratch_file("simpul.db", "simpul.db", "audit_trail"));
    }
}

//! What can go wrong below the domain.

/// Errors of the event store and the key store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the same community first (its sequence is taken).
    #[error("concurrent write to community {aggregate_id}: sequence {sequence} is taken")]
    Conflict {
        /// The community.
        aggregate_id: String,
        /// The sequence that was taken.
        sequence: u64,
    },
    /// A nomor induk is already claimed in this kabupaten/kota (R8).
    #[error("nomor induk {number} is already assigned in {regency}")]
    DuplicateRegistrationNumber {
        /// The kabupaten/kota.
        regency: String,
        /// The number, canonical form.
        number: String,
    },
    /// A bulk write met data already stored (an event sequence, a nomor induk or a person key):
    /// nothing of it was written.
    #[error("bulk write conflicts with stored data: {0}")]
    BulkConflict(String),
    /// An idempotent request's claim on its key was taken over by a retry (it had outlived the
    /// claim timeout): this request wrote nothing; the retry's outcome stands.
    #[error(
        "the request with Idempotency-Key `{0}` was taken over by a retry; nothing was written"
    )]
    IdempotencyClaimLost(String),
    /// An append without the metadata every event must carry (R11).
    #[error("R11: event metadata lacks `{0}`")]
    MissingMetadata(&'static str),
    /// Event metadata longer than [`MAX_METADATA_VALUE`](crate::metadata::MAX_METADATA_VALUE).
    #[error("R11: event metadata `{0}` is longer than 256 characters")]
    OversizedMetadata(&'static str),
    /// The database cannot be reached (connection refused, pool timed out, TLS, I/O).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not read back (bad JSON, unknown event type): the log needs attention.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database URL or another setting is not usable.
    #[error("configuration: {0}")]
    Config(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The master key cannot open a wrapped data key: wrong master key or damaged row.
    #[error("the master key does not open the data key of person {0}")]
    WrongMasterKey(uuid::Uuid),
    /// The master key in use is not the one the database's data keys are wrapped with: its
    /// fingerprint differs from the recorded one, or (no fingerprint recorded yet) it opens none
    /// of the stored data keys. Nothing was written with it.
    #[error(
        "the master key from {key_from} is not the one this database's personal data is sealed \
         with (its fingerprint is {found}; {}): nothing was done. Use the database's own master \
         key: restore its key file, or set SIMPUL_MASTER_KEY (or --data-dir) to it",
        expected_key(.expected)
    )]
    MasterKeyMismatch {
        /// Where the key came from: a file path, `SIMPUL_MASTER_KEY`.
        key_from: String,
        /// The key's fingerprint (first 16 hex digits).
        found: String,
        /// The recorded fingerprint (first 16 hex digits); `None` for a database from before
        /// fingerprints, whose stored data keys the key does not open.
        expected: Option<String>,
    },
    /// No master key was found, and the database already has one — a recorded fingerprint or
    /// data keys wrapped by it — so a new key must not be generated.
    #[error(
        "no master key found at {path}, but this database already {}: a new key would seal new \
         personal data under another key. Restore the key file, or set SIMPUL_MASTER_KEY to the \
         database's key (a new key is generated only for a database without one)",
        database_key(.expected)
    )]
    MasterKeyMissing {
        /// Where the key file was looked for.
        path: String,
        /// The recorded fingerprint (first 16 hex digits); `None` for a database from before
        /// fingerprints that holds wrapped data keys.
        expected: Option<String>,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
                StoreError::Corrupt(error.to_string())
            }
            sqlx::Error::Database(ref db_error) if is_outage(db_error.as_ref()) => {
                StoreError::Unavailable(error.to_string())
            }
            other => StoreError::Database(other),
        }
    }
}

/// Errors that mean "the database cannot serve now", not "your request is wrong".
/// PostgreSQL: connection exceptions (class 08), operator intervention (57P01–57P03: a shutdown
/// or restart), a missing database, out of disk or memory (53100, 53200). SQLite (primary result
/// codes): busy or locked past the busy timeout, out of memory, an I/O error, a full disk, a file
/// that cannot be opened.
fn is_outage(error: &dyn sqlx::error::DatabaseError) -> bool {
    if error
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        let primary = error
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| code & 0xff);
        // SQLITE_BUSY 5, _LOCKED 6, _NOMEM 7, _IOERR 10, _FULL 13, _CANTOPEN 14.
        return matches!(primary, Some(5 | 6 | 7 | 10 | 13 | 14));
    }
    error.code().is_some_and(|code| {
        code.starts_with("08")
            || matches!(
                code.as_ref(),
                "57P01" | "57P02" | "57P03" | "3D000" | "53100" | "53200"
            )
    })
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

fn expected_key(expected: &Option<String>) -> String {
    match expected {
        Some(fingerprint) => format!("the database's key has fingerprint {fingerprint}"),
        None => "it opens none of the data keys stored in the database".to_owned(),
    }
}

fn database_key(expected: &Option<String>) -> String {
    match expected {
        Some(fingerprint) => format!("belongs to the master key with fingerprint {fingerprint}"),
        None => "holds data keys wrapped by a master key".to_owned(),
    }
}

impl StoreError {
    /// Whether a retry after reloading the community may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

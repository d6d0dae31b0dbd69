//! Event store adapters and the global event feed.
//!
//! Invariant: knows events and SQL, not HTTP. PostgreSQL goes through postgres-es' table and
//! reader, SQLite through sqlite-es'; both are migrated from `migrations/`.

mod bulk;
mod db;
mod dialect;
mod error;
mod event_store;
mod fingerprint;
mod horizon;
mod idempotency;
mod keys;
mod metadata;
mod sessions;
mod tokens;

pub use bulk::{
    BulkAppended, BulkBatch, BulkCompletion, BulkMessage, BulkOutcome, CopyCsv, WrappedKey,
};
pub use db::{narrow_to_owner, Backend, Database, DatabaseUrl, POSTGRES_MIGRATOR, SQLITE_MIGRATOR};
pub use dialect::sqlite_sql;
pub use error::StoreError;
pub use event_store::{
    Append, Appended, EventStore, NewEvent, RegistrationClaim, StoredEvent, AGGREGATE_TYPE,
    SQLITE_IN_LIST,
};
pub use fingerprint::{
    check_master_key, claim_master_key, KeyFingerprint, KeyRecord, FINGERPRINT_LABEL,
};
pub use idempotency::{
    Claim, Completion, IdempotencyStore, Recorded, CLAIM_TIMEOUT_SECONDS, IDEMPOTENCY_WINDOW_HOURS,
};
pub use keys::{
    secret_file, secret_from_base64, DerivedSecret, Erasure, KeyStore, MasterKey, PersonKeys,
    Unsealed, ANALYTICS_PSEUDONYMS_LABEL, IMPORT_IDS_LABEL,
};
pub use metadata::EventMetadata;
pub use sessions::{OpenedSession, Session, SessionLimits, SessionStore};
pub use tokens::{random_base64url, token_hash, StoredToken, TokenStore, TOKEN_PREFIX};

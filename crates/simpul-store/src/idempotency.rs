//! Idempotency keys: a retried write with the same key and body gets the first response again
//! and appends nothing; the same key with another body is refused.
//!
//! A request first *claims* its key (a row with no outcome and a claim token of its own); the
//! outcome is written by the same transaction that appends the request's events
//! ([`EventStore::append_completing`](crate::EventStore::append_completing)), so a crash leaves
//! either both or neither. A claim left unfinished by a crash is taken over by a retry once it is
//! [`CLAIM_TIMEOUT_SECONDS`] old; the request that held it, if it was only slow, then finds its
//! claim gone and appends nothing.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sqlx::Row;

use crate::db::Database;
use crate::error::StoreError;

/// How long a key is remembered.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;

/// How long an unfinished claim holds its key before a retry may take it over: longer than a
/// command takes, short enough that a client retrying after a crash is not kept waiting long.
pub const CLAIM_TIMEOUT_SECONDS: i64 = 30;

/// What a claim on a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new, expired, or its unfinished claim was taken over: go ahead, appending with
    /// this completion (or `release` it if the request fails).
    New(Completion),
    /// The same request was answered before: answer the same again.
    Replay(Recorded),
    /// The key was used with a different request body.
    Mismatch,
    /// The first request with this key has not finished yet; it may be taken over in
    /// `retry_after` seconds.
    InProgress {
        /// Seconds until the claim may be taken over.
        retry_after: u64,
    },
}

/// The outcome an idempotent request records with its events, and the claim it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Who sent it.
    pub principal: String,
    /// Its `Idempotency-Key`.
    pub key: String,
    /// The claim token of this request.
    pub claim: String,
    /// The HTTP status of its success.
    pub status: u16,
}

/// A recorded outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP status of the first response.
    pub status: u16,
    /// The first response's body: a request over many communities records it
    /// ([`EventStore::append_bulk_completing`](crate::EventStore::append_bulk_completing)), and
    /// keys recorded before outcomes were have it; otherwise it is rebuilt from the outcome.
    pub body: Option<String>,
    /// The community's version after the request.
    pub version: Option<u64>,
    /// The global position of the request's last event.
    pub position: Option<u64>,
    /// The community the request wrote to (recorded with the outcome; absent for keys recorded
    /// before it was).
    pub community_id: Option<String>,
}

/// Idempotency keys over one database.
#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    db: Database,
}

/// A key's row as a claim reads it.
struct KeyRow {
    request_hash: String,
    recorded: Option<Recorded>,
    claim: Option<String>,
    created_at: DateTime<Utc>,
}

impl IdempotencyStore {
    /// A store on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Claims `key` for `principal` and a request whose body hashes to `request_hash`; `status`
    /// is the status its success will answer.
    pub async fn claim(
        &self,
        principal: &str,
        key: &str,
        request_hash: &str,
        status: u16,
    ) -> Result<Claim, StoreError> {
        let completion = |claim: String| Completion {
            principal: principal.to_owned(),
            key: key.to_owned(),
            claim,
            status,
        };
        let now = Utc::now();
        self.forget_expired(principal, key, now).await?;
        let token = uuid::Uuid::new_v4().to_string();
        if self
            .insert(principal, key, request_hash, &token, now)
            .await?
        {
            return Ok(Claim::New(completion(token)));
        }
        let Some(row) = self.read(principal, key).await? else {
            // Released between our insert and read: the caller may simply try again.
            return Ok(Claim::InProgress { retry_after: 1 });
        };
        if row.request_hash != request_hash {
            return Ok(Claim::Mismatch);
        }
        if let Some(recorded) = row.recorded {
            return Ok(Claim::Replay(recorded));
        }
        let age = (now - row.created_at).num_seconds();
        if age < CLAIM_TIMEOUT_SECONDS {
            return Ok(Claim::InProgress {
                retry_after: u64::try_from(CLAIM_TIMEOUT_SECONDS - age).unwrap_or(1),
            });
        }
        // Unfinished and old: its request died with a server (or is stuck). Take it over, unless
        // it finished meanwhile (the update then waits for that transaction and finds nothing).
        if self
            .take_over(principal, key, row.claim.as_deref(), &token, now)
            .await?
        {
            tracing::warn!(
                idempotency.age_s = age,
                "took over an Idempotency-Key claim left unfinished"
            );
            return Ok(Claim::New(completion(token)));
        }
        Ok(match self.read(principal, key).await? {
            Some(KeyRow {
                recorded: Some(recorded),
                ..
            }) => Claim::Replay(recorded),
            _ => Claim::InProgress { retry_after: 1 },
        })
    }

    async fn forget_expired(
        &self,
        principal: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expired_before = now - Duration::hours(IDEMPOTENCY_WINDOW_HOURS);
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND created_at < $3",
                )
                .bind(principal)
                .bind(key)
                .bind(expired_before)
                .execute(pool)
                .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE principal = ?1 AND key = ?2 AND created_at < ?3",
                )
                .bind(principal)
                .bind(key)
                .bind(timestamp(expired_before))
                .execute(writer)
                .await?;
            }
        }
        Ok(())
    }

    async fn insert(
        &self,
        principal: &str,
        key: &str,
        request_hash: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = match &self.db {
            Database::Postgres(pool) => sqlx::query(
                "INSERT INTO idempotency_keys (principal, key, request_hash, claim, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(principal)
            .bind(key)
            .bind(request_hash)
            .bind(token)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Database::Sqlite { writer, .. } => sqlx::query(
                "INSERT INTO idempotency_keys (principal, key, request_hash, claim, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )
            .bind(principal)
            .bind(key)
            .bind(request_hash)
            .bind(token)
            .bind(timestamp(now))
            .execute(writer)
            .await?
            .rows_affected(),
        };
        Ok(inserted == 1)
    }

    async fn read(&self, principal: &str, key: &str) -> Result<Option<KeyRow>, StoreError> {
        const SELECT: &str =
            "SELECT request_hash, status, body, version, position, community_id, claim, created_at
                                FROM idempotency_keys WHERE principal = $1 AND key = $2";
        let row = match &self.db {
            Database::Postgres(pool) => {
                match sqlx::query(SELECT)
                    .bind(principal)
                    .bind(key)
                    .fetch_optional(pool)
                    .await?
                {
                    Some(row) => {
                        let created_at: DateTime<Utc> = row.try_get("created_at")?;
                        Some(row_from(&row, created_at)?)
                    }
                    None => None,
                }
            }
            Database::Sqlite { writer, .. } => {
                // Through the writer: the claim must see what the last write left.
                match sqlx::query(&SELECT.replace('$', "?"))
                    .bind(principal)
                    .bind(key)
                    .fetch_optional(writer)
                    .await?
                {
                    Some(row) => {
                        let text: String = row.try_get("created_at")?;
                        let created_at = DateTime::parse_from_rfc3339(&text)
                            .map_err(|e| StoreError::Corrupt(format!("idempotency key time: {e}")))?
                            .with_timezone(&Utc);
                        Some(row_from(&row, created_at)?)
                    }
                    None => None,
                }
            }
        };
        Ok(row)
    }

    async fn take_over(
        &self,
        principal: &str,
        key: &str,
        old: Option<&str>,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = match &self.db {
            Database::Postgres(pool) => sqlx::query(
                "UPDATE idempotency_keys SET claim = $4, created_at = $5
                  WHERE principal = $1 AND key = $2 AND status IS NULL
                    AND claim IS NOT DISTINCT FROM $3",
            )
            .bind(principal)
            .bind(key)
            .bind(old)
            .bind(token)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Database::Sqlite { writer, .. } => sqlx::query(
                "UPDATE idempotency_keys SET claim = ?4, created_at = ?5
                  WHERE principal = ?1 AND key = ?2 AND status IS NULL AND claim IS ?3",
            )
            .bind(principal)
            .bind(key)
            .bind(old)
            .bind(token)
            .bind(timestamp(now))
            .execute(writer)
            .await?
            .rows_affected(),
        };
        Ok(updated == 1)
    }

    /// Forgets a claimed key whose request failed (nothing was appended), so a corrected retry
    /// can use it. A claim taken over meanwhile is left to its new holder.
    pub async fn release(&self, completion: &Completion) -> Result<(), StoreError> {
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(
                    "DELETE FROM idempotency_keys
                      WHERE principal = $1 AND key = $2 AND claim = $3 AND status IS NULL",
                )
                .bind(&completion.principal)
                .bind(&completion.key)
                .bind(&completion.claim)
                .execute(pool)
                .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(
                    "DELETE FROM idempotency_keys
                      WHERE principal = ?1 AND key = ?2 AND claim = ?3 AND status IS NULL",
                )
                .bind(&completion.principal)
                .bind(&completion.key)
                .bind(&completion.claim)
                .execute(writer)
                .await?;
            }
        }
        Ok(())
    }
}

fn row_from<R: Row>(row: &R, created_at: DateTime<Utc>) -> Result<KeyRow, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    let status: Option<i32> = row.try_get("status")?;
    let recorded = match status {
        Some(status) => Some(Recorded {
            status: u16::try_from(status).unwrap_or(200),
            body: row.try_get("body")?,
            version: row
                .try_get::<Option<i64>, _>("version")?
                .and_then(|v| u64::try_from(v).ok()),
            position: row
                .try_get::<Option<i64>, _>("position")?
                .and_then(|p| u64::try_from(p).ok()),
            community_id: row.try_get("community_id")?,
        }),
        None => None,
    };
    Ok(KeyRow {
        request_hash: row.try_get("request_hash")?,
        recorded,
        claim: row.try_get("claim")?,
        created_at,
    })
}

/// What an idempotent request did, recorded with its key.
pub(crate) struct Outcome<'a> {
    /// The community it wrote to.
    pub community_id: &'a str,
    /// The community's version after it.
    pub version: u64,
    /// The global position of its last event.
    pub position: u64,
}

/// The statement that records an idempotent request's outcome (PostgreSQL placeholders).
const COMPLETE: &str =
    "UPDATE idempotency_keys SET status = $4, version = $5, position = $6, community_id = $7,
                                 claim = NULL
                         WHERE principal = $1 AND key = $2 AND claim = $3 AND status IS NULL";

/// Records `completion`'s outcome inside the PostgreSQL transaction that appended its events.
/// `false`: the claim is not this request's any more (taken over after it expired) — the caller
/// rolls back.
pub(crate) async fn complete_in_postgres(
    tx: &mut sqlx::PgConnection,
    completion: &Completion,
    outcome: Outcome<'_>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(COMPLETE)
        .bind(&completion.principal)
        .bind(&completion.key)
        .bind(&completion.claim)
        .bind(i32::from(completion.status))
        .bind(i64::try_from(outcome.version).unwrap_or(i64::MAX))
        .bind(i64::try_from(outcome.position).unwrap_or(i64::MAX))
        .bind(outcome.community_id)
        .execute(tx)
        .await?;
    Ok(updated.rows_affected() == 1)
}

/// [`complete_in_postgres`] for SQLite.
pub(crate) async fn complete_in_sqlite(
    tx: &mut sqlx::SqliteConnection,
    completion: &Completion,
    outcome: Outcome<'_>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(&COMPLETE.replace('$', "?"))
        .bind(&completion.principal)
        .bind(&completion.key)
        .bind(&completion.claim)
        .bind(i32::from(completion.status))
        .bind(i64::try_from(outcome.version).unwrap_or(i64::MAX))
        .bind(i64::try_from(outcome.position).unwrap_or(i64::MAX))
        .bind(outcome.community_id)
        .execute(tx)
        .await?;
    Ok(updated.rows_affected() == 1)
}

/// The statement that records the outcome of an idempotent request over many communities (a
/// bulk write): the response body as sent and the position of its last event; no one
/// community's version (PostgreSQL placeholders).
const COMPLETE_WITH_BODY: &str =
    "UPDATE idempotency_keys SET status = $4, body = $5, position = $6, claim = NULL
                         WHERE principal = $1 AND key = $2 AND claim = $3 AND status IS NULL";

/// Records `completion`'s response `body` and last `position` inside the PostgreSQL transaction
/// of a bulk write. `false`: the claim is not this request's any more — the caller rolls back.
pub(crate) async fn complete_with_body_in_postgres(
    tx: &mut sqlx::PgConnection,
    completion: &Completion,
    body: &str,
    position: u64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(COMPLETE_WITH_BODY)
        .bind(&completion.principal)
        .bind(&completion.key)
        .bind(&completion.claim)
        .bind(i32::from(completion.status))
        .bind(body)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(tx)
        .await?;
    Ok(updated.rows_affected() == 1)
}

/// [`complete_with_body_in_postgres`] for SQLite.
pub(crate) async fn complete_with_body_in_sqlite(
    tx: &mut sqlx::SqliteConnection,
    completion: &Completion,
    body: &str,
    position: u64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(&COMPLETE_WITH_BODY.replace('$', "?"))
        .bind(&completion.principal)
        .bind(&completion.key)
        .bind(&completion.claim)
        .bind(i32::from(completion.status))
        .bind(body)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(tx)
        .await?;
    Ok(updated.rows_affected() == 1)
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

//! Idempotency keys: a retried write with the same key and body gets the first response again
//! and appends nothing; the same key with another body is refused.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sqlx::Row;

use crate::db::Database;
use crate::error::StoreError;

/// How long a key is remembered.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;

/// What a claim on a key found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or expired): go ahead, then `complete` or `release` it.
    New,
    /// The same request was answered before: send this again.
    Replay {
        /// HTTP status of the first response.
        status: u16,
        /// Body of the first response.
        body: String,
    },
    /// The key was used with a different request body.
    Mismatch,
    /// The first request with this key has not finished yet.
    InProgress,
}

/// Idempotency keys over one database.
#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    db: Database,
}

impl IdempotencyStore {
    /// A store on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Claims `key` for `principal` and a request whose body hashes to `request_hash`.
    pub async fn claim(
        &self,
        principal: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let now = Utc::now();
        let expired_before = now - Duration::hours(IDEMPOTENCY_WINDOW_HOURS);
        let inserted = match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND created_at < $3",
                )
                .bind(principal)
                .bind(key)
                .bind(expired_before)
                .execute(pool)
                .await?;
                sqlx::query(
                    "INSERT INTO idempotency_keys (principal, key, request_hash, created_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(principal)
                .bind(key)
                .bind(request_hash)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
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
                sqlx::query(
                    "INSERT INTO idempotency_keys (principal, key, request_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )
                .bind(principal)
                .bind(key)
                .bind(request_hash)
                .bind(timestamp(now))
                .execute(writer)
                .await?
                .rows_affected()
            }
        };
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let row = match &self.db {
            Database::Postgres(pool) => sqlx::query(
                "SELECT request_hash, status, body FROM idempotency_keys WHERE principal = $1 AND key = $2",
            )
            .bind(principal)
            .bind(key)
            .fetch_optional(pool)
            .await?
            .map(|row| -> Result<_, sqlx::Error> {
                Ok((
                    row.try_get::<String, _>("request_hash")?,
                    row.try_get::<Option<i32>, _>("status")?,
                    row.try_get::<Option<String>, _>("body")?,
                ))
            })
            .transpose()?,
            Database::Sqlite { writer, .. } => sqlx::query(
                "SELECT request_hash, status, body FROM idempotency_keys WHERE principal = ?1 AND key = ?2",
            )
            .bind(principal)
            .bind(key)
            .fetch_optional(writer)
            .await?
            .map(|row| -> Result<_, sqlx::Error> {
                Ok((
                    row.try_get::<String, _>("request_hash")?,
                    row.try_get::<Option<i32>, _>("status")?,
                    row.try_get::<Option<String>, _>("body")?,
                ))
            })
            .transpose()?,
        };
        Ok(match row {
            // Released between our insert and select: the caller may simply try again.
            None => Claim::InProgress,
            Some((hash, _, _)) if hash != request_hash => Claim::Mismatch,
            Some((_, Some(status), Some(body))) => Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body,
            },
            Some(_) => Claim::InProgress,
        })
    }

    /// Records the response to a claimed key.
    pub async fn complete(
        &self,
        principal: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(
                    "UPDATE idempotency_keys SET status = $3, body = $4 WHERE principal = $1 AND key = $2",
                )
                .bind(principal)
                .bind(key)
                .bind(i32::from(status))
                .bind(body)
                .execute(pool)
                .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(
                    "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE principal = ?1 AND key = ?2",
                )
                .bind(principal)
                .bind(key)
                .bind(i32::from(status))
                .bind(body)
                .execute(writer)
                .await?;
            }
        }
        Ok(())
    }

    /// Forgets a claimed key whose request failed, so a corrected retry can use it.
    pub async fn release(&self, principal: &str, key: &str) -> Result<(), StoreError> {
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL",
                )
                .bind(principal)
                .bind(key)
                .execute(pool)
                .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE principal = ?1 AND key = ?2 AND status IS NULL",
                )
                .bind(principal)
                .bind(key)
                .execute(writer)
                .await?;
            }
        }
        Ok(())
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

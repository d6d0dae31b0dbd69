//! Sessions of the web application: signing in with an API token opens one, a cookie carries
//! its secret, and it acts with the token's role and scope until it is signed out, idles too
//! long, grows too old, or its token is revoked.
//!
//! As with tokens, only the SHA-256 of a session's secret is stored, so a copy of the database
//! opens no session. Each session also has its anti-forgery (CSRF) token, which its pages put
//! into every form and every form must send back.

use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::db::Database;
use crate::error::StoreError;
use crate::tokens::{self, StoredToken};

/// `last_seen_at` is moved at most this often (a page view is not a write each time).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// How long a session lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Refused after this long without a request.
    pub idle: Duration,
    /// Refused this long after signing in, however busy.
    pub absolute: Duration,
}

impl Default for SessionLimits {
    /// 30 minutes idle, 12 hours in all (a working day).
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// A live session: its token (unrevoked) and its anti-forgery token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The token it signed in with.
    pub token: StoredToken,
    /// The value every form of this session must send back.
    pub csrf: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
}

/// A session just opened: the cookie's secret (shown to the browser once) and its CSRF token.
#[derive(Clone, Debug)]
pub struct OpenedSession {
    /// The secret the cookie carries.
    pub secret: String,
    /// The session's anti-forgery token.
    pub csrf: String,
}

/// The `web_sessions` table.
#[derive(Clone, Debug)]
pub struct SessionStore {
    db: Database,
}

impl SessionStore {
    /// A session store on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Opens a session for `token` at `now`, first deleting every session expired by then.
    pub async fn open(
        &self,
        token: Uuid,
        limits: SessionLimits,
        now: DateTime<Utc>,
    ) -> Result<OpenedSession, StoreError> {
        self.purge(limits, now).await?;
        let opened = OpenedSession {
            secret: tokens::random_base64url(),
            csrf: tokens::random_base64url(),
        };
        let hash = tokens::token_hash(&opened.secret);
        let now = now.trunc_subsecs(6);
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO web_sessions (session_hash, token_id, csrf, created_at, last_seen_at)
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&hash)
                .bind(token)
                .bind(&opened.csrf)
                .bind(now)
                .execute(pool)
                .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(
                    "INSERT INTO web_sessions (session_hash, token_id, csrf, created_at, last_seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                )
                .bind(&hash)
                .bind(token.to_string())
                .bind(&opened.csrf)
                .bind(tokens::sqlite_time(now))
                .execute(writer)
                .await?;
            }
        }
        Ok(opened)
    }

    /// The live session whose cookie secret is `secret` at `now`: `None` when there is none,
    /// its token was revoked, or it expired (then it is deleted). Marks it seen.
    pub async fn find(
        &self,
        secret: &str,
        limits: SessionLimits,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let hash = tokens::token_hash(secret);
        let sql = "SELECT t.id, t.name, t.role, t.scope, t.created_at, t.revoked_at,
                          s.csrf, s.created_at AS opened_at, s.last_seen_at
                     FROM web_sessions s JOIN api_tokens t ON t.id = s.token_id
                    WHERE s.session_hash = $1";
        let found = match &self.db {
            Database::Postgres(pool) => sqlx::query(sql)
                .bind(&hash)
                .fetch_optional(pool)
                .await?
                .map(|row| -> Result<_, StoreError> {
                    Ok((
                        tokens::postgres_row(&row)?,
                        row.try_get::<String, _>("csrf")?,
                        row.try_get::<DateTime<Utc>, _>("opened_at")?,
                        row.try_get::<DateTime<Utc>, _>("last_seen_at")?,
                    ))
                })
                .transpose()?,
            Database::Sqlite { readers, .. } => sqlx::query(&crate::sqlite_sql(sql))
                .bind(&hash)
                .fetch_optional(readers)
                .await?
                .map(|row| -> Result<_, StoreError> {
                    Ok((
                        tokens::sqlite_row(&row)?,
                        row.try_get::<String, _>("csrf")?,
                        tokens::parse_sqlite_time(&row.try_get::<String, _>("opened_at")?)?,
                        tokens::parse_sqlite_time(&row.try_get::<String, _>("last_seen_at")?)?,
                    ))
                })
                .transpose()?,
        };
        let Some((token, csrf, created_at, last_seen_at)) = found else {
            return Ok(None);
        };
        let expired = now - last_seen_at > delta(limits.idle)
            || now - created_at > delta(limits.absolute)
            || !token.is_active();
        if expired {
            self.delete(&hash).await?;
            return Ok(None);
        }
        if now - last_seen_at > delta(TOUCH_EVERY) {
            self.touch(&hash, now).await?;
        }
        Ok(Some(Session {
            token,
            csrf,
            created_at,
        }))
    }

    /// Ends the session whose cookie secret is `secret`; `false` when there was none.
    pub async fn close(&self, secret: &str) -> Result<bool, StoreError> {
        self.delete(&tokens::token_hash(secret)).await
    }

    /// Deletes every session expired at `now`; how many.
    pub async fn purge(
        &self,
        limits: SessionLimits,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let idle = now - delta(limits.idle);
        let old = now - delta(limits.absolute);
        let sql = "DELETE FROM web_sessions WHERE last_seen_at < $1 OR created_at < $2";
        Ok(match &self.db {
            Database::Postgres(pool) => sqlx::query(sql)
                .bind(idle)
                .bind(old)
                .execute(pool)
                .await?
                .rows_affected(),
            Database::Sqlite { writer, .. } => sqlx::query(&crate::sqlite_sql(sql))
                .bind(tokens::sqlite_time(idle))
                .bind(tokens::sqlite_time(old))
                .execute(writer)
                .await?
                .rows_affected(),
        })
    }

    async fn delete(&self, hash: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM web_sessions WHERE session_hash = $1";
        let deleted = match &self.db {
            Database::Postgres(pool) => sqlx::query(sql)
                .bind(hash)
                .execute(pool)
                .await?
                .rows_affected(),
            Database::Sqlite { writer, .. } => sqlx::query(&crate::sqlite_sql(sql))
                .bind(hash)
                .execute(writer)
                .await?
                .rows_affected(),
        };
        Ok(deleted == 1)
    }

    async fn touch(&self, hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let now = now.trunc_subsecs(6);
        let sql = "UPDATE web_sessions SET last_seen_at = $2 WHERE session_hash = $1";
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(sql).bind(hash).bind(now).execute(pool).await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(&crate::sqlite_sql(sql))
                    .bind(hash)
                    .bind(tokens::sqlite_time(now))
                    .execute(writer)
                    .await?;
            }
        }
        Ok(())
    }
}

/// A duration as chrono's (saturating: the limits are minutes and hours).
fn delta(duration: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}

//! API bearer tokens: who may call the HTTP API, in which role and scope.
//!
//! A token's secret is `simpul_` followed by 32 random bytes in unpadded base64url. It is handed
//! out once, by [`TokenStore::create`]; the table keeps only its SHA-256 (lowercase hex), so a
//! request's token is found by hashing it and looking the hash up — there is no secret to
//! compare, in constant time or otherwise. Role and scope are stored as text; what they may be
//! is the application's business (`simpul_app::auth`), since checking a scope needs the regions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine as _;
use chacha20poly1305::aead::rand_core::RngCore as _;
use chacha20poly1305::aead::OsRng;
use chrono::{DateTime, SecondsFormat, SubsecRound as _, Utc};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::Row;
use uuid::Uuid;

use crate::db::Database;
use crate::error::StoreError;

/// Every secret starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "simpul_";

/// Random bytes in a secret (256 bits).
const SECRET_BYTES: usize = 32;

/// One row of `api_tokens`. Carries no secret, so it may be printed, logged and serialised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredToken {
    /// The token's id (what `simpul tokens revoke` takes; actors are `token:<id>`).
    pub id: Uuid,
    /// A label for people: who or what holds the token.
    pub name: String,
    /// The role, as `ActorRole::as_str` spells it.
    pub role: String,
    /// The scope: `national`, a region code or a community id.
    pub scope: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked token never authenticates again.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl StoredToken {
    /// Whether the token still authenticates.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// The SHA-256 of a secret in lowercase hex: the only form of it that is stored.
pub fn token_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A fresh secret: the prefix and 32 bytes from the operating system's generator.
fn generate_secret() -> String {
    format!("{TOKEN_PREFIX}{}", random_base64url())
}

/// 32 bytes from the operating system's generator in unpadded base64url (43 characters): a
/// secret no one can guess (tokens, sessions, anti-forgery values).
pub fn random_base64url() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    BASE64URL.encode(bytes)
}

/// The `api_tokens` table.
#[derive(Clone, Debug)]
pub struct TokenStore {
    db: Database,
}

const COLUMNS: &str = "id, name, role, scope, created_at, revoked_at";

impl TokenStore {
    /// A token store on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Creates a token and returns its row and its secret. The secret exists only in the
    /// returned `String`: show it once and drop it. `role` and `scope` are stored as given;
    /// validate them first (`simpul_app::auth::Scope::parse`).
    pub async fn create(
        &self,
        name: &str,
        role: &str,
        scope: &str,
    ) -> Result<(StoredToken, String), StoreError> {
        let secret = generate_secret();
        let token = StoredToken {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            role: role.to_owned(),
            scope: scope.to_owned(),
            // The stored precision, so the returned row equals the listed one.
            created_at: Utc::now().trunc_subsecs(6),
            revoked_at: None,
        };
        let hash = token_hash(&secret);
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, scope, token_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(token.id)
                .bind(&token.name)
                .bind(&token.role)
                .bind(&token.scope)
                .bind(&hash)
                .bind(token.created_at)
                .execute(pool)
                .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, role, scope, token_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .bind(token.id.to_string())
                .bind(&token.name)
                .bind(&token.role)
                .bind(&token.scope)
                .bind(&hash)
                .bind(sqlite_time(token.created_at))
                .execute(writer)
                .await?;
            }
        }
        Ok((token, secret))
    }

    /// Every token ever created, revoked ones included, oldest first.
    pub async fn list(&self) -> Result<Vec<StoredToken>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id");
        match &self.db {
            Database::Postgres(pool) => sqlx::query(&sql)
                .fetch_all(pool)
                .await?
                .iter()
                .map(postgres_row)
                .collect(),
            Database::Sqlite { readers, .. } => sqlx::query(&sql)
                .fetch_all(readers)
                .await?
                .iter()
                .map(sqlite_row)
                .collect(),
        }
    }

    /// Revokes a token. `false` when no such token exists or it was revoked before.
    pub async fn revoke(&self, id: Uuid) -> Result<bool, StoreError> {
        let now = Utc::now().trunc_subsecs(6);
        let updated = match &self.db {
            Database::Postgres(pool) => sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Database::Sqlite { writer, .. } => sqlx::query(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            )
            .bind(id.to_string())
            .bind(sqlite_time(now))
            .execute(writer)
            .await?
            .rows_affected(),
        };
        Ok(updated == 1)
    }

    /// The unrevoked token whose secret is `secret`, found by its hash.
    pub async fn find_active(&self, secret: &str) -> Result<Option<StoredToken>, StoreError> {
        let hash = token_hash(secret);
        match &self.db {
            Database::Postgres(pool) => sqlx::query(&format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
            ))
            .bind(&hash)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(postgres_row)
            .transpose(),
            Database::Sqlite { readers, .. } => sqlx::query(&format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = ?1 AND revoked_at IS NULL"
            ))
            .bind(&hash)
            .fetch_optional(readers)
            .await?
            .as_ref()
            .map(sqlite_row)
            .transpose(),
        }
    }

    /// How many tokens were ever created, revoked ones included (the bootstrap runs at zero).
    pub async fn count(&self) -> Result<u64, StoreError> {
        let count: i64 = match &self.db {
            Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT count(*) FROM api_tokens")
                    .fetch_one(pool)
                    .await?
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query_scalar("SELECT count(*) FROM api_tokens")
                    .fetch_one(readers)
                    .await?
            }
        };
        u64::try_from(count).map_err(|_| StoreError::Corrupt(format!("token count {count}")))
    }
}

pub(crate) fn postgres_row(row: &sqlx::postgres::PgRow) -> Result<StoredToken, StoreError> {
    Ok(StoredToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        scope: row.try_get("scope")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub(crate) fn sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredToken, StoreError> {
    let id: String = row.try_get("id")?;
    let revoked_at: Option<String> = row.try_get("revoked_at")?;
    Ok(StoredToken {
        id: Uuid::parse_str(&id)
            .map_err(|e| StoreError::Corrupt(format!("api_tokens.id `{id}`: {e}")))?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        scope: row.try_get("scope")?,
        created_at: parse_sqlite_time(&row.try_get::<String, _>("created_at")?)?,
        revoked_at: revoked_at.as_deref().map(parse_sqlite_time).transpose()?,
    })
}

/// SQLite keeps times as RFC 3339 text in UTC with microseconds (text order is time order).
pub(crate) fn sqlite_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_sqlite_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("api_tokens time `{text}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_base64url_and_hash_to_lowercase_hex() {
        let first = generate_secret();
        let second = generate_secret();
        assert_ne!(first, second);
        let body = first.strip_prefix(TOKEN_PREFIX).unwrap();
        assert_eq!(body.len(), 43, "32 bytes, unpadded");
        assert!(body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(BASE64URL.decode(body).unwrap().len(), SECRET_BYTES);

        let hash = token_hash(&first);
        assert_eq!(hash.len(), 64);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sqlite_times_round_trip() {
        let now = Utc::now().trunc_subsecs(6);
        assert_eq!(parse_sqlite_time(&sqlite_time(now)).unwrap(), now);
        assert!(parse_sqlite_time("yesterday").is_err());
    }
}

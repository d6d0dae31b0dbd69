//! Per-person data keys, wrapped by the master key, and their erasure (crypto-shredding).
//!
//! A data key seals one person's name and contacts (see `simpul_domain::sealed`). The key table
//! lives beside the events but outside them: deleting a person's row makes everything sealed for
//! them unreadable, while every event stays byte-for-byte as it was appended.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{SecondsFormat, Utc};
use simpul_domain::sealed::{DataKey, SealedText};
use sqlx::Row;
use uuid::Uuid;

use crate::db::Database;
use crate::error::StoreError;

/// The key that wraps every data key. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

/// What reading a person's sealed value gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsealed {
    /// The plaintext.
    Plain(String),
    /// The person's key was erased: the value is gone for good.
    Erased,
}

impl MasterKey {
    /// Parses the base64 form of 32 bytes (as in `SIMPUL_MASTER_KEY`).
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| StoreError::Config(format!("master key is not base64: {e}")))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            StoreError::Config("master key must be 32 bytes (44 base64 characters)".to_owned())
        })?;
        Ok(Self(bytes))
    }

    /// A fresh random master key.
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// The base64 form.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Reads the key file, or creates it with mode 0600 when it does not exist yet (a missing
    /// directory is created 0700).
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    crate::db::create_private_dir(dir)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt as _;
                    options.mode(0o600);
                }
                let mut file = options.open(path).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", path.display()))
                })?;
                writeln!(file, "{}", key.to_base64()).map_err(|e| {
                    StoreError::Config(format!("cannot write {}: {e}", path.display()))
                })?;
                Ok(key)
            }
            Err(error) => Err(StoreError::Config(format!(
                "cannot read {}: {error}",
                path.display()
            ))),
        }
    }

    fn wrap(&self, person_id: Uuid, key: &DataKey) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let wrapped = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: key.as_bytes(),
                    aad: person_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::WrongMasterKey(person_id))?;
        Ok((wrapped, nonce.to_vec()))
    }

    fn unwrap_key(
        &self,
        person_id: Uuid,
        wrapped: &[u8],
        nonce: &[u8],
    ) -> Result<DataKey, StoreError> {
        if nonce.len() != 24 {
            return Err(StoreError::WrongMasterKey(person_id));
        }
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let bytes = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: wrapped,
                    aad: person_id.as_bytes(),
                },
            )
            .map_err(|_| StoreError::WrongMasterKey(person_id))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::WrongMasterKey(person_id))?;
        Ok(DataKey::from_bytes(bytes))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// The table of wrapped data keys.
#[derive(Clone, Debug)]
pub struct KeyStore {
    db: Database,
    master: MasterKey,
}

/// The outcome of an erasure request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erasure {
    /// The key existed and is now deleted.
    Erased,
    /// The person was erased before.
    AlreadyErased,
    /// No key was ever stored for this person.
    UnknownPerson,
}

/// Data keys loaded at once by [`KeyStore::keys_of`].
pub struct PersonKeys {
    keys: std::collections::HashMap<Uuid, DataKey>,
}

impl PersonKeys {
    /// Opens a sealed value of one of the persons loaded; [`Unsealed::Erased`] when their key is
    /// gone (or was never stored), as [`KeyStore::open`].
    pub fn open(&self, sealed: &SealedText) -> Result<Unsealed, StoreError> {
        match self.keys.get(&sealed.person_id) {
            Some(key) => key
                .open(sealed)
                .map(Unsealed::Plain)
                .map_err(|e| StoreError::Corrupt(e.to_string())),
            None => Ok(Unsealed::Erased),
        }
    }
}

impl KeyStore {
    /// A key store on `db` under `master`.
    pub fn new(db: Database, master: MasterKey) -> Self {
        Self { db, master }
    }

    /// The person's data key, creating one on first use. Erased persons get no new key.
    pub async fn key_for(&self, person_id: Uuid) -> Result<Option<DataKey>, StoreError> {
        if let Some(key) = self.existing_key(person_id).await? {
            return Ok(Some(key));
        }
        if self.is_erased(person_id).await? {
            return Ok(None);
        }
        let key = DataKey::generate();
        let (wrapped, nonce) = self.master.wrap(person_id, &key)?;
        let now = Utc::now();
        let inserted = match &self.db {
            Database::Postgres(pool) => sqlx::query(
                "INSERT INTO person_keys (person_id, wrapped_key, nonce, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (person_id) DO NOTHING",
            )
            .bind(person_id)
            .bind(&wrapped)
            .bind(&nonce)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
            Database::Sqlite { writer, .. } => sqlx::query(
                "INSERT INTO person_keys (person_id, wrapped_key, nonce, created_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (person_id) DO NOTHING",
            )
            .bind(person_id.to_string())
            .bind(&wrapped)
            .bind(&nonce)
            .bind(now.to_rfc3339_opts(SecondsFormat::Micros, true))
            .execute(writer)
            .await?
            .rows_affected(),
        };
        if inserted == 1 {
            Ok(Some(key))
        } else {
            // Another writer created the key first: use theirs.
            self.existing_key(person_id).await
        }
    }

    /// Wraps a data key made elsewhere (a deterministic generator, an import) for
    /// [`EventStore::append_bulk`](crate::EventStore::append_bulk).
    pub fn wrap(&self, person_id: Uuid, key: &DataKey) -> Result<crate::WrappedKey, StoreError> {
        let (wrapped, nonce) = self.master.wrap(person_id, key)?;
        Ok(crate::WrappedKey {
            person_id,
            wrapped,
            nonce,
        })
    }

    /// Seals `plaintext` for `person_id` with their data key; `None` if the person was erased.
    pub async fn seal(
        &self,
        person_id: Uuid,
        plaintext: &str,
    ) -> Result<Option<SealedText>, StoreError> {
        let Some(key) = self.key_for(person_id).await? else {
            return Ok(None);
        };
        key.seal(person_id, plaintext)
            .map(Some)
            .map_err(|_| StoreError::WrongMasterKey(person_id))
    }

    /// Whether anything is stored about `person_id`: a key, or the record of its erasure.
    pub async fn is_known(&self, person_id: Uuid) -> Result<bool, StoreError> {
        Ok(self.existing_key(person_id).await?.is_some() || self.is_erased(person_id).await?)
    }

    /// Deletes the key of a person that no event names: one created for a command that was then
    /// refused (the rules run after the name is sealed). Not an erasure: nothing is recorded.
    pub async fn discard_unused(&self, person_id: Uuid) -> Result<(), StoreError> {
        match &self.db {
            Database::Postgres(pool) => {
                sqlx::query("DELETE FROM person_keys WHERE person_id = $1")
                    .bind(person_id)
                    .execute(pool)
                    .await?;
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query("DELETE FROM person_keys WHERE person_id = ?1")
                    .bind(person_id.to_string())
                    .execute(writer)
                    .await?;
            }
        }
        Ok(())
    }

    /// Opens a sealed value; [`Unsealed::Erased`] once the person's key is gone.
    pub async fn open(&self, sealed: &SealedText) -> Result<Unsealed, StoreError> {
        match self.existing_key(sealed.person_id).await? {
            Some(key) => key
                .open(sealed)
                .map(Unsealed::Plain)
                .map_err(|e| StoreError::Corrupt(e.to_string())),
            None => Ok(Unsealed::Erased),
        }
    }

    /// The data keys of many persons at once, to open their sealed values without a query each
    /// (one query on PostgreSQL, one per [`SQLITE_IN_LIST`](crate::SQLITE_IN_LIST)
    /// persons on SQLite).
    pub async fn keys_of(&self, persons: &[Uuid]) -> Result<PersonKeys, StoreError> {
        let mut rows: Vec<(Uuid, Vec<u8>, Vec<u8>)> = Vec::new();
        match &self.db {
            Database::Postgres(pool) => {
                rows = sqlx::query_as(
                    "SELECT person_id, wrapped_key, nonce FROM person_keys
                      WHERE person_id = ANY($1)",
                )
                .bind(persons)
                .fetch_all(pool)
                .await?;
            }
            Database::Sqlite { readers, .. } => {
                for chunk in persons.chunks(crate::event_store::SQLITE_IN_LIST) {
                    let sql = format!(
                        "SELECT person_id, wrapped_key, nonce FROM person_keys
                          WHERE person_id IN ({})",
                        vec!["?"; chunk.len()].join(", ")
                    );
                    let mut query = sqlx::query_as::<_, (String, Vec<u8>, Vec<u8>)>(&sql);
                    for person in chunk {
                        query = query.bind(person.to_string());
                    }
                    for (person, wrapped, nonce) in query.fetch_all(readers).await? {
                        let person = Uuid::parse_str(&person)
                            .map_err(|e| StoreError::Corrupt(format!("person id {person}: {e}")))?;
                        rows.push((person, wrapped, nonce));
                    }
                }
            }
        }
        let mut keys = std::collections::HashMap::with_capacity(rows.len());
        for (person, wrapped, nonce) in rows {
            keys.insert(person, self.master.unwrap_key(person, &wrapped, &nonce)?);
        }
        Ok(PersonKeys { keys })
    }

    /// Deletes the person's key and records the erasure, in one transaction.
    pub async fn erase(
        &self,
        person_id: Uuid,
        reason: &str,
        actor: &str,
    ) -> Result<Erasure, StoreError> {
        if self.is_erased(person_id).await? {
            return Ok(Erasure::AlreadyErased);
        }
        let now = Utc::now();
        let deleted = match &self.db {
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let deleted = sqlx::query("DELETE FROM person_keys WHERE person_id = $1")
                    .bind(person_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 1 {
                    sqlx::query(
                        "INSERT INTO person_erasures (person_id, erased_at, reason, actor)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(person_id)
                    .bind(now)
                    .bind(reason)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                deleted
            }
            Database::Sqlite { writer, .. } => {
                let mut tx = writer.begin().await?;
                let deleted = sqlx::query("DELETE FROM person_keys WHERE person_id = ?1")
                    .bind(person_id.to_string())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted == 1 {
                    sqlx::query(
                        "INSERT INTO person_erasures (person_id, erased_at, reason, actor)
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .bind(person_id.to_string())
                    .bind(now.to_rfc3339_opts(SecondsFormat::Micros, true))
                    .bind(reason)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                if deleted == 1 {
                    // The key's page, zeroed by secure_delete, is still only in the WAL, next to
                    // the frames that held the key: copy it into the database file and empty the
                    // WAL, so no file keeps the key.
                    let (busy, _, _): (i64, i64, i64) =
                        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                            .fetch_one(writer)
                            .await?;
                    if busy != 0 {
                        tracing::warn!(
                            "the WAL could not be emptied after an erasure (readers busy); the next checkpoint removes the key from it"
                        );
                    }
                }
                deleted
            }
        };
        Ok(if deleted == 1 {
            Erasure::Erased
        } else {
            Erasure::UnknownPerson
        })
    }

    async fn existing_key(&self, person_id: Uuid) -> Result<Option<DataKey>, StoreError> {
        let row = match &self.db {
            Database::Postgres(pool) => {
                sqlx::query("SELECT wrapped_key, nonce FROM person_keys WHERE person_id = $1")
                    .bind(person_id)
                    .fetch_optional(pool)
                    .await?
                    .map(|row| {
                        Ok::<_, sqlx::Error>((row.try_get("wrapped_key")?, row.try_get("nonce")?))
                    })
                    .transpose()?
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query("SELECT wrapped_key, nonce FROM person_keys WHERE person_id = ?1")
                    .bind(person_id.to_string())
                    .fetch_optional(readers)
                    .await?
                    .map(|row| {
                        Ok::<_, sqlx::Error>((row.try_get("wrapped_key")?, row.try_get("nonce")?))
                    })
                    .transpose()?
            }
        };
        row.map(|(wrapped, nonce): (Vec<u8>, Vec<u8>)| {
            self.master.unwrap_key(person_id, &wrapped, &nonce)
        })
        .transpose()
    }

    async fn is_erased(&self, person_id: Uuid) -> Result<bool, StoreError> {
        let found: Option<i32> = match &self.db {
            Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT 1 FROM person_erasures WHERE person_id = $1")
                    .bind(person_id)
                    .fetch_optional(pool)
                    .await?
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query_scalar("SELECT 1 FROM person_erasures WHERE person_id = ?1")
                    .bind(person_id.to_string())
                    .fetch_optional(readers)
                    .await?
            }
        };
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_unwraps_only_with_its_master_and_person() {
        let master = MasterKey::generate();
        let person = Uuid::new_v4();
        let key = DataKey::generate();
        let (wrapped, nonce) = master.wrap(person, &key).unwrap();
        assert_eq!(master.unwrap_key(person, &wrapped, &nonce).unwrap(), key);
        assert!(master.unwrap_key(Uuid::new_v4(), &wrapped, &nonce).is_err());
        assert!(MasterKey::generate()
            .unwrap_key(person, &wrapped, &nonce)
            .is_err());
    }

    #[test]
    fn a_master_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile_dir();
        let path = dir.join("master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let second = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.to_base64(), second.to_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("simpul-keys-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

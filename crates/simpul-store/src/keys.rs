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
use hmac::{Hmac, Mac};
use sha2::Sha256;
use simpul_domain::sealed::{DataKey, SealedText};
use sqlx::Row;
use uuid::Uuid;

use crate::db::Database;
use crate::error::StoreError;

/// The key that wraps every data key. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

/// The label of the secret behind imported KIM's ids ([`KeyStore::import_id_secret`]). Changing it
/// changes every future import's ids: a re-import would no longer find the KIM it wrote.
pub const IMPORT_IDS_LABEL: &str = "simpul import ids v1";

/// The label of the secret behind the analytics export's KIM pseudonyms
/// ([`KeyStore::analytics_pseudonym_secret`]). Changing it changes every pseudonym: files an
/// analyst downloaded before would no longer join with new ones.
pub const ANALYTICS_PSEUDONYMS_LABEL: &str = "simpul analytics pseudonyms v1";

/// A 32-byte secret derived from the master key for one purpose ([`MasterKey::derive`]): never
/// the master key itself, and unrelated to the secret of any other label. `Debug` never prints
/// it; it leaves this type only as MACs.
#[derive(Clone)]
pub struct DerivedSecret([u8; 32]);

impl DerivedSecret {
    /// HMAC-SHA256 (RFC 2104) of `message` under this secret.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, message)
    }
}

impl fmt::Debug for DerivedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedSecret(<redacted>)")
    }
}

/// HMAC-SHA256 of `message` under `key` (any length; RFC 2104, through the `hmac` crate).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // `new_from_slice` refuses no key length for HMAC: longer keys are hashed, shorter padded.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// HKDF-Expand (RFC 5869) with SHA-256 for 32 bytes of output: one block,
/// `T(1) = HMAC(prk, info || 0x01)`. The master key is already 32 uniformly random bytes, so it
/// serves as the pseudorandom key without an extract step.
fn hkdf_expand_32(prk: &[u8; 32], info: &[u8]) -> [u8; 32] {
    let mut message = Vec::with_capacity(info.len() + 1);
    message.extend_from_slice(info);
    message.push(1);
    hmac_sha256(prk, &message)
}

/// What reading a person's sealed value gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsealed {
    /// The plaintext.
    Plain(String),
    /// The person's key was erased: the value is gone for good.
    Erased,
}

/// A 32-byte secret other than the master key (the ledger's Ed25519 seed), kept as the master
/// key is: base64 in a file created 0600 (its directory 0700), read again on every start.
pub fn secret_file(path: &Path) -> Result<[u8; 32], StoreError> {
    MasterKey::load_or_create(path).map(|key| key.0)
}

/// A 32-byte secret from its base64 form (as in `SIMPUL_LEDGER_KEY`).
pub fn secret_from_base64(text: &str) -> Result<[u8; 32], StoreError> {
    MasterKey::from_base64(text).map(|key| key.0)
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
    /// directory is created 0700). Whether a new key may be made is not decided here:
    /// `simpul` asks the database first ([`KeyRecord`](crate::KeyRecord)) and calls
    /// [`load`](Self::load) and [`create`](Self::create).
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        if let Some(key) = Self::load(path)? {
            return Ok(key);
        }
        if let Some(key) = Self::create(path)? {
            return Ok(key);
        }
        // Another process created the file between the two calls: read its key.
        Self::load(path)?.ok_or_else(|| {
            StoreError::Config(format!("{} vanished while being read", path.display()))
        })
    }

    /// Reads the key file; `None` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Config(format!(
                "cannot read {}: {error}",
                path.display()
            ))),
        }
    }

    /// Writes a new random key to `path`, created with mode 0600 (a missing directory is
    /// created 0700). `None` when the file exists already (another process made it first): it
    /// is left as it is.
    pub fn create(path: &Path) -> Result<Option<Self>, StoreError> {
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
        let mut file = match options.open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
            Err(error) => {
                return Err(StoreError::Config(format!(
                    "cannot create {}: {error}",
                    path.display()
                )))
            }
        };
        writeln!(file, "{}", key.to_base64())
            .and_then(|()| file.sync_all())
            .map_err(|e| StoreError::Config(format!("cannot write {}: {e}", path.display())))?;
        Ok(Some(key))
    }

    /// What identifies this key without revealing it ([`KeyFingerprint`](crate::KeyFingerprint)).
    pub fn fingerprint(&self) -> crate::KeyFingerprint {
        crate::KeyFingerprint::of(self)
    }

    /// The secret for one purpose, named by a fixed `label`: HKDF-SHA256 (RFC 5869, expand only)
    /// of the master key with `label` as info. The same master key and label always give the
    /// same secret; the secret does not reveal the master key or the secret of another label.
    pub fn derive(&self, label: &str) -> DerivedSecret {
        DerivedSecret(hkdf_expand_32(&self.0, label.as_bytes()))
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

    pub(crate) fn unwrap_key(
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

    /// The secret that makes imported KIM's ids unpredictable to anyone without the master key
    /// (`simpul_app::import::ImportIds`): derived with [`IMPORT_IDS_LABEL`], so the ids are
    /// stable for as long as the deployment keeps its master key.
    pub fn import_id_secret(&self) -> DerivedSecret {
        self.master.derive(IMPORT_IDS_LABEL)
    }

    /// The secret of the analytics export's pseudonyms (a keyed hash of each KIM's id): derived
    /// with [`ANALYTICS_PSEUDONYMS_LABEL`], so a KIM keeps its pseudonym for as long as the
    /// deployment keeps its master key, another deployment's pseudonyms differ, and nobody
    /// without the master key can tell which KIM a pseudonym stands for by hashing known ids.
    pub fn analytics_pseudonym_secret(&self) -> DerivedSecret {
        self.master.derive(ANALYTICS_PSEUDONYMS_LABEL)
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

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 1: a 20-byte key.
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2: a key shorter than the output.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block (hashed first).
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn derivation_is_hkdf_sha256_expand_of_rfc_5869() {
        // Test case 1: PRK and info as given; the first 32 bytes of OKM are T(1).
        let prk: [u8; 32] =
            unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
                .try_into()
                .unwrap();
        assert_eq!(
            hex(&hkdf_expand_32(&prk, &unhex("f0f1f2f3f4f5f6f7f8f9"))),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn a_derived_secret_is_stable_per_master_key_and_label() {
        let master = MasterKey::generate();
        let message = b"source:34.04:17";
        assert_eq!(
            master.derive(IMPORT_IDS_LABEL).mac(message),
            master.derive(IMPORT_IDS_LABEL).mac(message)
        );
        assert_ne!(
            master.derive(IMPORT_IDS_LABEL).mac(message),
            master.derive("another purpose").mac(message)
        );
        assert_ne!(
            master.derive(IMPORT_IDS_LABEL).mac(message),
            master.derive(ANALYTICS_PSEUDONYMS_LABEL).mac(message)
        );
        assert_ne!(
            master.derive(IMPORT_IDS_LABEL).mac(message),
            MasterKey::generate().derive(IMPORT_IDS_LABEL).mac(message)
        );
        // Never the master key itself, and never printed.
        assert_ne!(master.derive(IMPORT_IDS_LABEL).0, master.0);
        assert_eq!(
            format!("{:?}", master.derive(IMPORT_IDS_LABEL)),
            "DerivedSecret(<redacted>)"
        );
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

//! The master key's fingerprint, recorded in the database (`master_key_fingerprint`), so that a
//! process started with another master key — a key file from another working directory, a
//! missing `SIMPUL_MASTER_KEY` that made a new one — is refused before it wraps a single data key
//! with it (issue 12).
//!
//! The first command that uses the key records its fingerprint ([`claim_master_key`]); from then
//! on every command compares ([`check_master_key`]). A database from before fingerprints that
//! already holds wrapped data keys accepts only a key that opens one of them.

use std::fmt;

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;

use crate::db::Database;
use crate::error::StoreError;
use crate::keys::{KeyStore, MasterKey};

/// The label of the secret behind a master key's fingerprint ([`KeyFingerprint::of`]). Changing
/// it makes every recorded fingerprint a mismatch.
pub const FINGERPRINT_LABEL: &str = "simpul master key fingerprint v1";

/// How many stored data keys a database without a fingerprint tries to open with the key.
const KEYS_TRIED: i64 = 5;

/// What identifies a master key without revealing it: HMAC-SHA256 of the empty message under
/// the secret derived from the key with [`FINGERPRINT_LABEL`] (HKDF-SHA256). `Display` prints
/// the first 16 hex digits, for messages; [`to_hex`](Self::to_hex) all 64, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint([u8; 32]);

impl KeyFingerprint {
    /// The fingerprint of `key`.
    pub fn of(key: &MasterKey) -> Self {
        Self(key.derive(FINGERPRINT_LABEL).mac(b""))
    }

    /// Lowercase hex of the 32 bytes, as stored.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses the stored form (64 lowercase or uppercase hex digits).
    pub fn from_hex(text: &str) -> Result<Self, StoreError> {
        let corrupt = || {
            StoreError::Corrupt(format!(
                "master key fingerprint `{text}` is not 64 hex digits"
            ))
        };
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(corrupt());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| corrupt())?;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex()[..16])
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({})", self.to_hex())
    }
}

/// What a database says about its master key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRecord {
    /// The fingerprint of the key its data keys are wrapped with.
    Recorded(KeyFingerprint),
    /// No fingerprint (a database from before they were recorded) but wrapped data keys: only
    /// the key that opens them may be used.
    Unrecorded,
    /// Neither a fingerprint nor a wrapped data key: any master key may become its key.
    Fresh,
}

impl KeyRecord {
    /// Reads the record of `db` (migrated).
    pub async fn read(db: &Database) -> Result<Self, StoreError> {
        if let Some(fingerprint) = recorded(db).await? {
            return Ok(Self::Recorded(fingerprint));
        }
        let holds_keys: bool = match db {
            Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM person_keys)")
                    .fetch_one(pool)
                    .await?
            }
            Database::Sqlite { readers, .. } => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM person_keys)")
                    .fetch_one(readers)
                    .await?
            }
        };
        Ok(if holds_keys {
            Self::Unrecorded
        } else {
            Self::Fresh
        })
    }

    /// Whether a new master key may be made for this database: only when it has neither a
    /// fingerprint nor a wrapped data key.
    pub fn is_fresh(&self) -> bool {
        matches!(self, Self::Fresh)
    }
}

/// Makes `master` the database's master key, or checks that it is: a recorded fingerprint must be
/// `master`'s; a database without one records `master`'s — if it holds wrapped data keys, only
/// when `master` opens one of them. Two processes starting at once with different keys cannot
/// both record theirs: the second reads the first's back and is refused.
/// `key_from` names where the key came from (a file path, `SIMPUL_MASTER_KEY`), for the error.
pub async fn claim_master_key(
    db: &Database,
    master: &MasterKey,
    key_from: &str,
) -> Result<KeyFingerprint, StoreError> {
    let found = master.fingerprint();
    match KeyRecord::read(db).await? {
        KeyRecord::Recorded(expected) => compare(found, Some(expected), key_from),
        KeyRecord::Unrecorded => {
            if !opens_a_stored_key(db, master).await? {
                return Err(mismatch(found, None, key_from));
            }
            record(db, found, key_from).await
        }
        KeyRecord::Fresh => record(db, found, key_from).await,
    }
}

/// Refuses a master key other than the one the database records, recording nothing: for the
/// commands that open the database but not personal data (they work without a key, and their
/// key must not become the database's).
pub async fn check_master_key(
    db: &Database,
    master: &MasterKey,
    key_from: &str,
) -> Result<(), StoreError> {
    match recorded(db).await? {
        Some(expected) => compare(master.fingerprint(), Some(expected), key_from).map(|_| ()),
        None => Ok(()),
    }
}

impl KeyStore {
    /// A key store on `db` under `master`, once [`claim_master_key`] accepted `master`: the one
    /// way a process that seals or opens personal data should get its key store.
    pub async fn open_checked(
        db: Database,
        master: MasterKey,
        key_from: &str,
    ) -> Result<Self, StoreError> {
        claim_master_key(&db, &master, key_from).await?;
        Ok(Self::new(db, master))
    }
}

fn compare(
    found: KeyFingerprint,
    expected: Option<KeyFingerprint>,
    key_from: &str,
) -> Result<KeyFingerprint, StoreError> {
    if expected == Some(found) {
        Ok(found)
    } else {
        Err(mismatch(found, expected, key_from))
    }
}

fn mismatch(found: KeyFingerprint, expected: Option<KeyFingerprint>, key_from: &str) -> StoreError {
    StoreError::MasterKeyMismatch {
        key_from: key_from.to_owned(),
        found: found.to_string(),
        expected: expected.map(|e| e.to_string()),
    }
}

/// The recorded fingerprint, if any.
async fn recorded(db: &Database) -> Result<Option<KeyFingerprint>, StoreError> {
    const SQL: &str = "SELECT fingerprint FROM master_key_fingerprint WHERE id = 1";
    let text: Option<String> = match db {
        Database::Postgres(pool) => sqlx::query_scalar(SQL).fetch_optional(pool).await?,
        // The writer: a fingerprint this process just recorded is seen at once.
        Database::Sqlite { writer, .. } => sqlx::query_scalar(SQL).fetch_optional(writer).await?,
    };
    text.as_deref().map(KeyFingerprint::from_hex).transpose()
}

/// Records `found` unless a fingerprint is there already (another process got first), then
/// compares with what the table holds.
async fn record(
    db: &Database,
    found: KeyFingerprint,
    key_from: &str,
) -> Result<KeyFingerprint, StoreError> {
    match db {
        Database::Postgres(pool) => {
            sqlx::query(
                "INSERT INTO master_key_fingerprint (id, fingerprint, recorded_at)
                 VALUES (1, $1, now()) ON CONFLICT (id) DO NOTHING",
            )
            .bind(found.to_hex())
            .execute(pool)
            .await?;
        }
        Database::Sqlite { writer, .. } => {
            sqlx::query(
                "INSERT INTO master_key_fingerprint (id, fingerprint, recorded_at)
                 VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
            )
            .bind(found.to_hex())
            .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true))
            .execute(writer)
            .await?;
        }
    }
    let expected = recorded(db).await?;
    compare(found, expected, key_from)
}

/// Whether `master` opens one of the first stored data keys (a wrong key opens none: they are
/// sealed with XChaCha20-Poly1305; one damaged row does not make the right key fail).
async fn opens_a_stored_key(db: &Database, master: &MasterKey) -> Result<bool, StoreError> {
    let rows: Vec<(Uuid, Vec<u8>, Vec<u8>)> = match db {
        Database::Postgres(pool) => {
            sqlx::query_as(
                "SELECT person_id, wrapped_key, nonce FROM person_keys
                  ORDER BY person_id LIMIT $1",
            )
            .bind(KEYS_TRIED)
            .fetch_all(pool)
            .await?
        }
        Database::Sqlite { readers, .. } => {
            let rows: Vec<(String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
                "SELECT person_id, wrapped_key, nonce FROM person_keys
                  ORDER BY person_id LIMIT ?1",
            )
            .bind(KEYS_TRIED)
            .fetch_all(readers)
            .await?;
            rows.into_iter()
                .map(|(person, wrapped, nonce)| {
                    Uuid::parse_str(&person)
                        .map(|person| (person, wrapped, nonce))
                        .map_err(|e| StoreError::Corrupt(format!("person id {person}: {e}")))
                })
                .collect::<Result<_, _>>()?
        }
    };
    Ok(rows
        .iter()
        .any(|(person, wrapped, nonce)| master.unwrap_key(*person, wrapped, nonce).is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_stable_per_key_and_not_another_labels_secret() {
        let key = MasterKey::generate();
        let fingerprint = key.fingerprint();
        assert_eq!(fingerprint, KeyFingerprint::of(&key));
        assert_ne!(fingerprint, MasterKey::generate().fingerprint());
        assert_eq!(
            KeyFingerprint::from_hex(&fingerprint.to_hex()).unwrap(),
            fingerprint
        );
        assert_eq!(fingerprint.to_hex().len(), 64);
        assert_eq!(fingerprint.to_string(), fingerprint.to_hex()[..16]);
        // Neither the key nor the secret of another label (the import ids' key).
        assert_ne!(fingerprint.0, key.derive(crate::IMPORT_IDS_LABEL).mac(b""));
        assert!(KeyFingerprint::from_hex("00").is_err());
        assert!(KeyFingerprint::from_hex(&"g".repeat(64)).is_err());
    }

    #[test]
    fn the_fingerprint_of_a_known_key_is_fixed() {
        // Pins the derivation (HMAC-SHA256 of "" under HKDF-Expand(key, label), computed
        // independently): a change would refuse every deployment's own key.
        let key = MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        assert_eq!(
            key.fingerprint().to_hex(),
            "d4e12521dca01714abd0340ea7629002b5f74194fe5987ecbcc91bc08752b46f"
        );
        assert_eq!(key.fingerprint().to_string(), "d4e12521dca01714");
    }
}

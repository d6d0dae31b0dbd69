//! Personal data sealed with a per-person key (crypto-shredding).
//!
//! Officers' names and contacts are personal data (UU 27/2022). They are sealed with
//! XChaCha20-Poly1305 under a data key that belongs to one person and lives outside the log.
//! Deleting that key makes every sealed value of the person unreadable while the events stay
//! byte-for-byte intact. Sealing is pure computation; storing keys is the store's business.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The algorithm id stored beside every sealed value, so it can change later.
pub const ALGORITHM: &str = "xchacha20poly1305";

/// A 256-bit data key. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

/// A sealed personal value as stored in an event payload.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedText {
    /// Whose key seals it.
    pub person_id: Uuid,
    /// Always [`ALGORITHM`] for now.
    pub alg: String,
    /// Base64 of the 24-byte nonce.
    pub nonce: String,
    /// Base64 of ciphertext plus tag.
    pub ciphertext: String,
}

/// Why a sealed value could not be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The ciphertext, nonce or key is damaged, or the key is not this value's.
    #[error("sealed value could not be opened (wrong key or damaged data)")]
    Damaged,
    /// The stored algorithm is not one this build knows.
    #[error("unknown sealing algorithm `{0}`")]
    UnknownAlgorithm(String),
    /// Encryption itself failed (should not happen with a valid key).
    #[error("sealing failed")]
    Seal,
}

impl DataKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// A key from its raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, for wrapping under the master key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Seals `plaintext` for `person_id`; the person id is authenticated as associated data, so a
    /// sealed value cannot be moved to another person.
    pub fn seal(&self, person_id: Uuid, plaintext: &str) -> Result<SealedText, SealError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        self.seal_with(person_id, plaintext, &nonce)
    }

    /// Seals like [`DataKey::seal`] but with a nonce chosen by the caller, so the output is a pure
    /// function of key, person, plaintext and nonce.
    ///
    /// **For deterministic generators only** (`simpul demo seed`, whose nonces come from a seeded
    /// generator so that the same seed gives byte-identical events). A nonce must never be used
    /// twice with the same key; everything that seals real personal data uses [`DataKey::seal`],
    /// which draws a random nonce.
    pub fn seal_with_nonce(
        &self,
        person_id: Uuid,
        plaintext: &str,
        nonce: [u8; 24],
    ) -> Result<SealedText, SealError> {
        self.seal_with(person_id, plaintext, XNonce::from_slice(&nonce))
    }

    fn seal_with(
        &self,
        person_id: Uuid,
        plaintext: &str,
        nonce: &XNonce,
    ) -> Result<SealedText, SealError> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let ciphertext = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: person_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Seal)?;
        Ok(SealedText {
            person_id,
            alg: ALGORITHM.to_owned(),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        })
    }

    /// Opens a value sealed with this key.
    pub fn open(&self, sealed: &SealedText) -> Result<String, SealError> {
        if sealed.alg != ALGORITHM {
            return Err(SealError::UnknownAlgorithm(sealed.alg.clone()));
        }
        let nonce = BASE64
            .decode(&sealed.nonce)
            .map_err(|_| SealError::Damaged)?;
        if nonce.len() != 24 {
            return Err(SealError::Damaged);
        }
        let ciphertext = BASE64
            .decode(&sealed.ciphertext)
            .map_err(|_| SealError::Damaged)?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let plaintext = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: sealed.person_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plaintext).map_err(|_| SealError::Damaged)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl fmt::Debug for SealedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedText")
            .field("person_id", &self.person_id)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The longest personal text (an officer's name or contact) that is sealed: a name or a phone
/// number and an address, not a document.
pub const MAX_PERSONAL_TEXT: usize = 200;

/// Checks a personal text before it is sealed (sealed, the domain can no longer see it): at most
/// [`MAX_PERSONAL_TEXT`] characters, no control characters.
pub fn check_personal_text(field: &str, text: &str) -> Result<(), crate::DomainError> {
    if text.chars().count() > MAX_PERSONAL_TEXT {
        return Err(crate::DomainError::invalid(
            field,
            format!("must be at most {MAX_PERSONAL_TEXT} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(crate::DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_name_opens_with_its_key_and_not_with_another() {
        let person = Uuid::new_v4();
        let key = DataKey::generate();
        let sealed = key.seal(person, "Zul Arif").unwrap();
        assert!(!sealed.ciphertext.contains("Zul"));
        assert_eq!(key.open(&sealed).unwrap(), "Zul Arif");
        assert_eq!(DataKey::generate().open(&sealed), Err(SealError::Damaged));
    }

    #[test]
    fn sealing_with_a_given_nonce_is_deterministic_and_opens() {
        let person = Uuid::from_u128(7);
        let key = DataKey::from_bytes([9; 32]);
        let first = key.seal_with_nonce(person, "Siti Rahayu", [3; 24]).unwrap();
        let again = key.seal_with_nonce(person, "Siti Rahayu", [3; 24]).unwrap();
        assert!(first == again);
        assert_eq!(first.nonce, BASE64.encode([3u8; 24]));
        assert_eq!(key.open(&first).unwrap(), "Siti Rahayu");
        let other = key.seal_with_nonce(person, "Siti Rahayu", [4; 24]).unwrap();
        assert!(first.ciphertext != other.ciphertext);
    }

    #[test]
    fn a_sealed_value_moved_to_another_person_does_not_open() {
        let key = DataKey::generate();
        let mut sealed = key.seal(Uuid::new_v4(), "Indra Sufian").unwrap();
        sealed.person_id = Uuid::new_v4();
        assert_eq!(key.open(&sealed), Err(SealError::Damaged));
    }
}

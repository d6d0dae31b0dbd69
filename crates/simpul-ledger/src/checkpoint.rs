//! Signed checkpoints in the C2SP formats, so tools outside Simpul can read and check them:
//! the `tlog-checkpoint` body (origin line, tree size, base64 tree head) inside a `signed-note`
//! with Ed25519 signature lines, and the note verifier key
//! `<name>+<8 hex digits of the key hash>+<base64 of 0x01 and the public key>`
//! (<https://c2sp.org/tlog-checkpoint>, <https://c2sp.org/signed-note>).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signature algorithm byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// What starts a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a key, a verifier key or a signed checkpoint does not read or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name with a `+`, whitespace, or nothing at all.
    #[error("a key name must be non-empty, without `+` or whitespace: `{0}`")]
    BadName(String),
    /// A verifier key that is not `<name>+<hash>+<key>`.
    #[error("not a verifier key: {0}")]
    BadVerifier(&'static str),
    /// A note that is not a checkpoint body and signature lines.
    #[error("not a signed checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature line by this key, or one that does not verify.
    #[error("the checkpoint carries no valid signature by {0}")]
    NotSigned(String),
}

/// A tree head as a checkpoint states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (names the log, e.g. `simpul.example.go.id/ledger`).
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The tree head over them.
    pub root: Hash,
    /// Extension lines after the tree head (C2SP allows them; Simpul's one commits to the
    /// per-province sub-logs, [`crate::sublog`]). Each non-empty, without a newline.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text that is signed: three lines and the extension lines, each ending in a
    /// newline.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::BadName(name.to_owned()));
    }
    Ok(())
}

/// The 4-byte key hash of an Ed25519 key named `name`: SHA-256(name, newline, 0x01, key).
fn key_hash(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ED25519]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The ledger's signing key and its name.
pub struct LedgerKey {
    name: String,
    key: SigningKey,
}

impl LedgerKey {
    /// The key of the 32-byte Ed25519 seed `seed`, named `name`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// The verifier anyone checks this key's signatures with.
    pub fn verifier(&self) -> Verifier {
        let key = self.key.verifying_key();
        Verifier {
            hash: key_hash(&self.name, &key),
            name: self.name.clone(),
            key,
        }
    }

    /// `checkpoint` as a signed note: its body, a blank line, and this key's signature line.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature = self.key.sign(body.as_bytes());
        let mut blob = self.verifier().hash.to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{body}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(blob)
        )
    }
}

/// A note verifier key: a name and an Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    hash: [u8; 4],
    key: VerifyingKey,
}

impl Verifier {
    /// Reads `<name>+<8 hex digits>+<base64 of 0x01 and the 32-byte key>`, checking that the hash
    /// is the key's.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadVerifier("expected <name>+<hash>+<key>"));
        };
        check_name(name)?;
        let bytes = BASE64
            .decode(key)
            .map_err(|_| NoteError::BadVerifier("the key is not base64"))?;
        let Some((&ED25519, public)) = bytes.split_first() else {
            return Err(NoteError::BadVerifier("the key is not an Ed25519 key"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::BadVerifier("an Ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadVerifier("not a valid Ed25519 public key"))?;
        let expected = key_hash(name, &key);
        if hash.len() != 8 || hash != hex4(&expected) {
            return Err(NoteError::BadVerifier("the key hash is not this key's"));
        }
        Ok(Self {
            name: name.to_owned(),
            hash: expected,
            key,
        })
    }

    /// The verifier key in its text form.
    pub fn encode(&self) -> String {
        let mut key = vec![ED25519];
        key.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex4(&self.hash), BASE64.encode(key))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks that `note` carries a valid signature by this key, and returns its text (the part
    /// that is signed, with its final newline). Other keys' signature lines are ignored.
    pub fn open_note<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        if !signatures.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the signatures do not end in a newline",
            ));
        }
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix(SIGNATURE_PREFIX) else {
                return Err(NoteError::Malformed(
                    "a signature line must start with an em dash",
                ));
            };
            let Some((name, blob)) = rest.split_once(' ') else {
                return Err(NoteError::Malformed(
                    "a signature line is `— <name> <base64>`",
                ));
            };
            if name != self.name {
                continue;
            }
            let blob = BASE64
                .decode(blob)
                .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
            if blob.len() != 4 + 64 || blob[..4] != self.hash {
                continue;
            }
            let signature = Signature::from_slice(&blob[4..])
                .map_err(|_| NoteError::Malformed("a signature is not 64 bytes"))?;
            if self.key.verify_strict(text.as_bytes(), &signature).is_ok() {
                return Ok(text);
            }
        }
        Err(NoteError::NotSigned(self.name.clone()))
    }

    /// Checks a signed checkpoint and reads it.
    pub fn open(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let text = self.open_note(note)?;
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|origin| !origin.is_empty())
            .ok_or(NoteError::Malformed("no origin line"))?;
        let size = lines
            .next()
            .filter(|size| size == &"0" || !size.starts_with('0'))
            .and_then(|size| size.parse::<u64>().ok())
            .ok_or(NoteError::Malformed("the second line is not a tree size"))?;
        let root = lines
            .next()
            .and_then(|root| BASE64.decode(root).ok())
            .and_then(|root| Hash::try_from(root.as_slice()).ok())
            .ok_or(NoteError::Malformed(
                "the third line is not a base64 SHA-256 hash",
            ))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: lines.map(str::to_owned).collect(),
        })
    }
}

fn hex4(bytes: &[u8; 4]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of golang.org/x/mod/sumdb/note, the reference implementation of signed notes.
    const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n\
        \n\
        \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_reference_implementations_example_note_verifies() {
        let verifier = Verifier::parse(GO_VERIFIER).expect("verifier");
        assert_eq!(verifier.encode(), GO_VERIFIER);
        let text = verifier.open_note(GO_NOTE).expect("signed");
        assert!(text.starts_with("If you think"));
        let tampered = GO_NOTE.replace("answer", "Answer");
        assert!(verifier.open_note(&tampered).is_err());
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "simpul.test/ledger".to_owned(),
            size: 8,
            root: crate::merkle::leaf_hash(b"root"),
            extensions: vec!["simpul-provinces AAAA".to_owned()],
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_and_no_other() {
        let key = LedgerKey::from_seed("simpul-test", &[7; 32]).expect("key");
        let note = key.sign(&checkpoint());
        let verifier = Verifier::parse(&key.verifier().encode()).expect("verifier");
        assert_eq!(verifier.open(&note), Ok(checkpoint()));
        assert!(note.starts_with("simpul.test/ledger\n8\n"));
        assert!(note.contains("=\nsimpul-provinces AAAA\n\n\u{2014} simpul-test "));
        let extended = note.replacen("AAAA\n", "AAAB\n", 1);
        assert!(verifier.open(&extended).is_err());

        let other = LedgerKey::from_seed("simpul-test", &[8; 32]).expect("key");
        assert_eq!(
            other.verifier().open(&note),
            Err(NoteError::NotSigned("simpul-test".to_owned()))
        );
        let bigger = note.replacen("\n8\n", "\n9\n", 1);
        assert!(verifier.open(&bigger).is_err());
    }

    #[test]
    fn bad_names_and_verifier_keys_are_refused() {
        assert!(LedgerKey::from_seed("a+b", &[1; 32]).is_err());
        assert!(LedgerKey::from_seed("a b", &[1; 32]).is_err());
        assert!(Verifier::parse(
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err());
        assert!(Verifier::parse("PeterNeumann+c74f20a3").is_err());
    }
}

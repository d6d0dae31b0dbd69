//! Why a command was rejected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The rules of `domain.md`, cited by tests and error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rule {
    /// Member count within the policy range (3–30).
    R1,
    /// The region code exists in the stated edition and is a desa/kelurahan.
    R2,
    /// A KIM is formed by the community; the event says who initiated it.
    R3,
    /// Officers are attested eligible (bukan ASN, no crime, no party, no LSM).
    R4,
    /// At most one active ketua, sekretaris and bendahara.
    R5,
    /// An SK needs an active ketua, sekretaris, bendahara and a valid member count.
    R6,
    /// The SK's issuing office is the KIM's own desa/kelurahan.
    R7,
    /// Nomor induk: active SK, assigned by the KIM's own kabupaten/kota, unique there.
    R8,
    /// Stages advance one step at a time, with evidence and a policy version; only legal KIM pass KIM 1.
    R9,
    /// Nothing is edited or deleted: corrections are compensating events that say why.
    R10,
    /// Every event records who, when, why and the request it came from.
    R11,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A rejected command: the rule it broke (if any), the field at fault, and a message for humans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}{message} (field `{field}`)", rule.map(|r| format!("{r}: ")).unwrap_or_default())]
pub struct DomainError {
    /// The rule of `domain.md`, or `None` for lifecycle errors (e.g. a dissolved KIM).
    pub rule: Option<Rule>,
    /// The command field at fault, as a dotted path (`officers.bendahara`, `member_count`).
    pub field: String,
    /// What went wrong, in plain words.
    pub message: String,
    /// A stable machine-readable kind for lifecycle errors (`not_found`, `dissolved`, ...).
    pub kind: ErrorKind,
}

/// The family of a [`DomainError`], so the layers above can pick a status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A rule R1–R11 was broken.
    Rule,
    /// The command targets a community that was never formed.
    NotFormed,
    /// `FormCommunity` was sent to a community that already exists.
    AlreadyFormed,
    /// The community is dissolved and accepts no more commands.
    Dissolved,
    /// The community is suspended; only reactivation or dissolution is accepted.
    Suspended,
    /// A field is malformed in a way its type could not catch (empty text, bad length).
    Invalid,
}

impl DomainError {
    /// A broken rule at `field`.
    pub fn rule(rule: Rule, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule: Some(rule),
            field: field.into(),
            message: message.into(),
            kind: ErrorKind::Rule,
        }
    }

    /// A lifecycle error that no numbered rule covers.
    pub fn lifecycle(
        kind: ErrorKind,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            rule: None,
            field: field.into(),
            message: message.into(),
            kind,
        }
    }

    /// A malformed field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::lifecycle(ErrorKind::Invalid, field, message)
    }
}

//! Who holds an office in a KIM, and who acts on the system.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An office in the KIM's *pengurus*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OfficerRole {
    /// Chair. At most one active (R5).
    Ketua,
    /// Secretary. At most one active (R5).
    Sekretaris,
    /// Treasurer. At most one active (R5).
    Bendahara,
    /// Head of a field (*kepala bidang*); several may be active.
    KepalaBidang,
}

impl OfficerRole {
    /// The three offices an SK needs (R6) and that may have only one holder (R5).
    pub const CORE: [OfficerRole; 3] = [
        OfficerRole::Ketua,
        OfficerRole::Sekretaris,
        OfficerRole::Bendahara,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OfficerRole::Ketua => "ketua",
            OfficerRole::Sekretaris => "sekretaris",
            OfficerRole::Bendahara => "bendahara",
            OfficerRole::KepalaBidang => "kepala_bidang",
        }
    }

    /// Whether only one person may hold the office at a time (R5).
    pub fn is_unique(self) -> bool {
        Self::CORE.contains(&self)
    }
}

/// The role of the principal who sends a command; recorded in every event's metadata (R11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ActorRole {
    /// Operates the system nationally, including tokens.
    Admin,
    /// Kementerian (Komdigi): read only.
    National,
    /// Diskominfo Provinsi: reads its province, records bimtek.
    Province,
    /// Diskominfo Kabupaten/Kota: SK, nomor induk, bimtek, stage, suspension.
    Regency,
    /// The KIM's own activist (*pegiat*).
    Pegiat,
    /// Inspektorat, BPK or internal audit: reads everything in scope.
    Auditor,
    /// A researcher or planner: reads aggregates in scope and a pseudonymised export of the
    /// events progression is measured by; never one KIM, a history, a name or personal data.
    Analyst,
    /// A batch job of Simpul itself (import, demo generator).
    System,
}

impl ActorRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorRole::Admin => "admin",
            ActorRole::National => "national",
            ActorRole::Province => "province",
            ActorRole::Regency => "regency",
            ActorRole::Pegiat => "pegiat",
            ActorRole::Auditor => "auditor",
            ActorRole::Analyst => "analyst",
            ActorRole::System => "system",
        }
    }

    /// Whether the role belongs to government rather than the community (R3).
    pub fn is_government(self) -> bool {
        !matches!(self, ActorRole::Pegiat)
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            ActorRole::Admin,
            ActorRole::National,
            ActorRole::Province,
            ActorRole::Regency,
            ActorRole::Pegiat,
            ActorRole::Auditor,
            ActorRole::Analyst,
            ActorRole::System,
        ]
        .into_iter()
        .find(|role| role.as_str() == s)
    }
}

impl fmt::Display for ActorRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! Maturity stages KIM 1–4 and the versioned stage policy.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The maturity stage (from Bengkalis, seed 000): KIM 1 forum with conventional media, KIM 2 plus
/// development agent, KIM 3 plus new media, KIM 4 plus e-business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Stage {
    /// KIM 1: a forum with conventional media. Every new KIM starts here.
    Kim1,
    /// KIM 2: KIM 1 plus development-agent activity.
    Kim2,
    /// KIM 3: KIM 2 plus new media.
    Kim3,
    /// KIM 4: KIM 3 plus e-business.
    Kim4,
}

impl Stage {
    /// All stages, lowest first.
    pub const ALL: [Stage; 4] = [Stage::Kim1, Stage::Kim2, Stage::Kim3, Stage::Kim4];

    /// The stage one step up, or `None` at KIM 4.
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Kim1 => Some(Stage::Kim2),
            Stage::Kim2 => Some(Stage::Kim3),
            Stage::Kim3 => Some(Stage::Kim4),
            Stage::Kim4 => None,
        }
    }

    /// 1 to 4.
    pub fn number(self) -> u8 {
        match self {
            Stage::Kim1 => 1,
            Stage::Kim2 => 2,
            Stage::Kim3 => 3,
            Stage::Kim4 => 4,
        }
    }

    /// The stored name (`kim1` … `kim4`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Kim1 => "kim1",
            Stage::Kim2 => "kim2",
            Stage::Kim3 => "kim3",
            Stage::Kim4 => "kim4",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KIM {}", self.number())
    }
}

/// What kind of evidence a stage requires (see `domain.md`, "Stage advanced / lowered").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A recorded development-agent activity (`ActivityRecorded` of kind `development_agent`).
    DevelopmentAgentActivity,
    /// A still-active new-media channel (`MediaChannelRegistered`, not deactivated).
    ActiveMediaChannel,
    /// A still-active e-business (`EBusinessRegistered`, not deactivated).
    ActiveEBusiness,
}

/// The stage policy: a versioned value whose version is stored in every `StageAdvanced`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePolicy {
    /// The version id, e.g. `2025.1`.
    pub version: String,
    /// Smallest allowed member count (R1).
    pub member_min: u32,
    /// Largest allowed member count (R1).
    pub member_max: u32,
}

impl StagePolicy {
    /// The policy in force: 3–30 members (seed 002), evidence per stage as in seed 000.
    pub fn current() -> Self {
        Self {
            version: "2025.1".to_owned(),
            member_min: 3,
            member_max: 30,
        }
    }

    /// The evidence needed to reach `stage`; `None` for KIM 1, which needs none.
    pub fn evidence_for(&self, stage: Stage) -> Option<Evidence> {
        match stage {
            Stage::Kim1 => None,
            Stage::Kim2 => Some(Evidence::DevelopmentAgentActivity),
            Stage::Kim3 => Some(Evidence::ActiveMediaChannel),
            Stage::Kim4 => Some(Evidence::ActiveEBusiness),
        }
    }

    /// Whether `count` is within the member range.
    pub fn allows_member_count(&self, count: u32) -> bool {
        (self.member_min..=self.member_max).contains(&count)
    }
}

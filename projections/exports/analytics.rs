//! The analytics export: the events progression is measured by (formation, stage changes,
//! bimtek, status, SK, nomor induk), one JSON line each, with the KIM's id replaced by a keyed
//! pseudonym and every name left out — what an analyst loads into R or pandas.
//!
//! A line carries the event's own dates, stages and counts and the KIM's region codes, never its
//! name, officers, SK number, nomor induk, reasons, titles or who recorded it (the metadata is not
//! read at all). The pseudonym is HMAC-SHA256 of the community id under a secret derived from the
//! master key for this purpose alone (`KeyStore::analytics_pseudonym_secret`): stable for as long
//! as the installation keeps its master key, different in another installation, and not
//! reversible by hashing known ids without the key.

use std::io::Write;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use simpul_domain::events::BimtekKind;
use simpul_domain::{CommunityEvent, RegionCode, RegionLevel, Stage};
use simpul_store::{DerivedSecret, StoredEvent};

use super::ExportError;

/// The event types the export carries, as stored; the rest (officers, members, activities,
/// media channels, e-business) are left out.
pub const EVENTS: [&str; 10] = [
    "CommunityFormed",
    "StageAdvanced",
    "StageLowered",
    "BimtekAttended",
    "CommunitySuspended",
    "CommunityReactivated",
    "CommunityDissolved",
    "SkIssued",
    "SkRevoked",
    "RegistrationNumberAssigned",
];

/// Bytes of the HMAC kept in a pseudonym (shown as 32 hex digits): 128 bits, as many as a UUID.
pub const PSEUDONYM_BYTES: usize = 16;

/// Turns community ids into the export's pseudonyms.
#[derive(Clone, Debug)]
pub struct Pseudonyms(DerivedSecret);

impl Pseudonyms {
    /// Pseudonyms under `secret` (`KeyStore::analytics_pseudonym_secret` in a deployment).
    pub fn new(secret: DerivedSecret) -> Self {
        Self(secret)
    }

    /// The pseudonym of the community `community_id` (its id as stored): the first
    /// [`PSEUDONYM_BYTES`] of HMAC-SHA256 of the id, in lowercase hex.
    pub fn of(&self, community_id: &str) -> String {
        self.0.mac(community_id.as_bytes())[..PSEUDONYM_BYTES]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// One line of the export. Fields that do not belong to the event are left out of its line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsLine {
    /// The event's global position in the feed (pass the last one as `after` to continue).
    pub position: u64,
    /// The KIM's pseudonym ([`Pseudonyms::of`]).
    pub kim: String,
    /// The stored event name, one of [`EVENTS`].
    pub event: String,
    /// The KIM's desa/kelurahan (where it was formed).
    pub desa_code: String,
    /// Its kecamatan.
    pub kecamatan_code: String,
    /// Its kabupaten/kota.
    pub regency_code: String,
    /// Its province.
    pub province_code: String,
    /// `CommunityFormed`: the date of formation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formed_on: Option<NaiveDate>,
    /// `StageAdvanced`, `StageLowered`: the date of the assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessed_on: Option<NaiveDate>,
    /// `StageAdvanced`, `StageLowered`: the stage before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Stage>,
    /// `StageAdvanced`, `StageLowered`: the stage after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Stage>,
    /// `BimtekAttended`: the date the session was held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_on: Option<NaiveDate>,
    /// `BimtekAttended`: the kind of session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<BimtekKind>,
    /// `BimtekAttended`: whether a province or a kabupaten/kota organised it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer_level: Option<RegionLevel>,
    /// `BimtekAttended`: how many of the KIM's people took part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<u32>,
    /// `CommunitySuspended`: since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_on: Option<NaiveDate>,
    /// `CommunityReactivated`: since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactivated_on: Option<NaiveDate>,
    /// `CommunityDissolved`: since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dissolved_on: Option<NaiveDate>,
    /// `SkIssued`: the date of the SK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<NaiveDate>,
    /// `SkRevoked`: the date of revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_on: Option<NaiveDate>,
    /// `RegistrationNumberAssigned`: the date of assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_on: Option<NaiveDate>,
}

impl AnalyticsLine {
    /// The line of one stored event of a KIM formed in `village`, or `None` for an event type
    /// the export leaves out.
    pub fn from_stored(
        event: StoredEvent,
        village: &RegionCode,
        pseudonyms: &Pseudonyms,
    ) -> Result<Option<AnalyticsLine>, ExportError> {
        if !EVENTS.contains(&event.event_type.as_str()) {
            return Ok(None);
        }
        let decoded: CommunityEvent = serde_json::from_value(event.payload)?;
        let ancestor = |level| {
            village
                .ancestor_at(level)
                .map(|code| code.to_string())
                .unwrap_or_default()
        };
        let mut line = AnalyticsLine {
            position: event.position,
            kim: pseudonyms.of(&event.aggregate_id),
            event: event.event_type,
            desa_code: village.to_string(),
            kecamatan_code: ancestor(RegionLevel::District),
            regency_code: ancestor(RegionLevel::Regency),
            province_code: ancestor(RegionLevel::Province),
            formed_on: None,
            assessed_on: None,
            from: None,
            to: None,
            held_on: None,
            kind: None,
            organizer_level: None,
            participants: None,
            suspended_on: None,
            reactivated_on: None,
            dissolved_on: None,
            issued_on: None,
            revoked_on: None,
            assigned_on: None,
        };
        // Field by field from the typed payload, so that nothing else (names, numbers, reasons,
        // titles) can reach a line.
        match decoded {
            CommunityEvent::CommunityFormed(e) => line.formed_on = Some(e.formed_on),
            CommunityEvent::StageAdvanced(e) => {
                line.assessed_on = Some(e.assessed_on);
                line.from = Some(e.from);
                line.to = Some(e.to);
            }
            CommunityEvent::StageLowered(e) => {
                line.assessed_on = Some(e.assessed_on);
                line.from = Some(e.from);
                line.to = Some(e.to);
            }
            CommunityEvent::BimtekAttended(e) => {
                line.held_on = Some(e.held_on);
                line.kind = Some(e.kind);
                line.organizer_level = Some(e.organizer_region.level());
                line.participants = Some(e.participants);
            }
            CommunityEvent::CommunitySuspended(e) => line.suspended_on = Some(e.suspended_on),
            CommunityEvent::CommunityReactivated(e) => line.reactivated_on = Some(e.reactivated_on),
            CommunityEvent::CommunityDissolved(e) => line.dissolved_on = Some(e.dissolved_on),
            CommunityEvent::SkIssued(e) => line.issued_on = Some(e.issued_on),
            CommunityEvent::SkRevoked(e) => line.revoked_on = Some(e.revoked_on),
            CommunityEvent::RegistrationNumberAssigned(e) => line.assigned_on = Some(e.assigned_on),
            CommunityEvent::OfficerAppointed(_)
            | CommunityEvent::OfficerDismissed(_)
            | CommunityEvent::MemberCountUpdated(_)
            | CommunityEvent::ActivityRecorded(_)
            | CommunityEvent::MediaChannelRegistered(_)
            | CommunityEvent::MediaChannelDeactivated(_)
            | CommunityEvent::EBusinessRegistered(_)
            | CommunityEvent::EBusinessDeactivated(_) => return Ok(None),
        }
        Ok(Some(line))
    }

    /// Writes the line as JSON and a newline.
    pub fn write_to(&self, out: &mut impl Write) -> Result<(), ExportError> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// The file's name: `simpul-analytics-<region, or indonesia>[-after-<position>].jsonl`.
pub fn filename(region: Option<&str>, after: u64) -> String {
    let region = region.unwrap_or("indonesia");
    match after {
        0 => format!("simpul-analytics-{region}.jsonl"),
        after => format!("simpul-analytics-{region}-after-{after}.jsonl"),
    }
}

#[cfg(test)]
mod tests;

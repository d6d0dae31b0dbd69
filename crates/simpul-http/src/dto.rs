//! Request and response bodies of the API. Fields reuse the domain's parsing types, so a malformed
//! value (a blank reason, a code like `3404`) is a 400 naming its field before any rule runs.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use simpul_domain::events::{ActivityKind, BimtekKind, MediaChannelKind};
use simpul_domain::text::{CommunityName, Reason, RegistrationNumber, SkNumber, Title};
use simpul_domain::{OfficerRole, RegionCode, Stage};
use utoipa::ToSchema;
use uuid::Uuid;

/// Body of `POST /communities`: record the formation of a KIM in a desa/kelurahan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormCommunityBody {
    /// Optional id chosen by the client (a UUID); generated when absent.
    pub id: Option<Uuid>,
    /// The KIM's name, e.g. `KIM Sadai Bersatu`.
    #[schema(value_type = String, example = "KIM Sadai Bersatu")]
    pub name: CommunityName,
    /// The anchor desa/kelurahan code (R2), e.g. `21.71.01.1002`.
    #[schema(value_type = String, example = "21.71.01.1002")]
    pub village: RegionCode,
    /// Date of formation.
    pub formed_on: NaiveDate,
    /// The group it grew from (e.g. Karang Taruna).
    #[serde(default)]
    pub origin_group: Option<String>,
    /// Members at formation, 3–30 (R1).
    pub member_count: u32,
    /// Who in the community initiated it (R3); required when a government role records it.
    #[serde(default)]
    pub initiated_by: Option<String>,
}

/// The four attestations of R4.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityBody {
    /// Not a civil servant (bukan ASN).
    pub not_asn: bool,
    /// Not involved in criminal acts.
    pub no_criminal_record: bool,
    /// Not affiliated with a political party.
    pub no_party_affiliation: bool,
    /// Not affiliated with an NGO (LSM).
    pub no_ngo_affiliation: bool,
}

/// Body of `POST /communities/{id}/officers`. The name and contact are sealed with the person's
/// key before they are recorded; they never stand in an event in plaintext.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointOfficerBody {
    /// The person, if they held an office before; generated otherwise.
    pub person_id: Option<Uuid>,
    /// `ketua`, `sekretaris`, `bendahara` or `kepala_bidang`.
    #[schema(value_type = String, example = "ketua")]
    pub role: OfficerRole,
    /// The field, for a kepala bidang.
    #[serde(default)]
    pub bidang: Option<String>,
    /// Full name (personal data).
    pub name: String,
    /// Phone or e-mail (personal data).
    #[serde(default)]
    pub contact: Option<String>,
    /// Date of appointment.
    pub appointed_on: NaiveDate,
    /// Attestations (R4).
    pub eligibility: EligibilityBody,
}

/// A dated correction with its reason (R10).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// From when.
    pub effective_on: NaiveDate,
    /// Why.
    #[schema(value_type = String)]
    pub reason: Reason,
}

/// Body of `PUT /communities/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    /// The new count, 3–30 (R1).
    pub member_count: u32,
    /// From when.
    pub effective_on: NaiveDate,
}

/// Body of `POST /communities/{id}/sk`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkBody {
    /// SK number, e.g. `12/2025`.
    #[schema(value_type = String, example = "12/2025")]
    pub number: SkNumber,
    /// Date of the SK.
    pub issued_on: NaiveDate,
    /// What it is about (tentang).
    #[schema(value_type = String)]
    pub subject: Title,
    /// The issuing desa/kelurahan: the KIM's own (R7).
    #[schema(value_type = String)]
    pub issuing_office: RegionCode,
    /// The signing office, e.g. `Lurah Pemping`.
    pub signed_by: String,
    /// Whether the village head acknowledged the officer roster.
    pub roster_acknowledged: bool,
}

/// Body of `POST /communities/{id}/registration` (nomor induk).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// The nomor induk, unique within the kabupaten/kota (R8).
    #[schema(value_type = String, example = "KIM-2171-0001")]
    pub number: RegistrationNumber,
    /// The assigning Dinas' kabupaten/kota: the KIM's own (R8).
    #[schema(value_type = String, example = "21.71")]
    pub regency: RegionCode,
    /// Date of assignment.
    pub assigned_on: NaiveDate,
}

/// Body of `POST /communities/{id}/bimtek`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BimtekBody {
    /// The session, shared by every KIM that attended; generated when absent.
    pub session_id: Option<Uuid>,
    /// `bimtek`, `workshop`, `sarasehan` or `forum_diskusi`.
    #[schema(value_type = String, example = "bimtek")]
    pub kind: BimtekKind,
    /// Its title.
    #[schema(value_type = String)]
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// The organising province or kabupaten/kota.
    #[schema(value_type = String, example = "21.71")]
    pub organizer_region: RegionCode,
    /// The KIM's participants.
    pub participants: u32,
}

/// Body of `POST /communities/{id}/activities`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityBody {
    /// Generated when absent.
    pub activity_id: Option<Uuid>,
    /// `conventional_forum`, `development_agent`, `dissemination`, `aspiration`, `networking`.
    #[schema(value_type = String, example = "development_agent")]
    pub kind: ActivityKind,
    /// Its title.
    #[schema(value_type = String)]
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// Participants, if known.
    #[serde(default)]
    pub participants: Option<u32>,
}

/// Body of `POST /communities/{id}/media-channels`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaChannelBody {
    /// Generated when absent.
    pub channel_id: Option<Uuid>,
    /// `website`, `social_media` or `messaging`.
    #[schema(value_type = String, example = "social_media")]
    pub kind: MediaChannelKind,
    /// Name or handle.
    #[schema(value_type = String)]
    pub name: Title,
    /// Address, if public.
    #[serde(default)]
    pub url: Option<String>,
    /// Since when.
    pub registered_on: NaiveDate,
}

/// Body of `POST /communities/{id}/enterprises`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseBody {
    /// Generated when absent.
    pub enterprise_id: Option<Uuid>,
    /// Its name.
    #[schema(value_type = String)]
    pub name: Title,
    /// Own online shop or marketplace.
    #[schema(value_type = String)]
    pub platform: Title,
    /// Address, if public.
    #[serde(default)]
    pub url: Option<String>,
    /// Since when.
    pub registered_on: NaiveDate,
}

/// Whether a stage assessment raises or lowers the stage.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageDirection {
    /// One step up, citing evidence (R9).
    Advance,
    /// Down, with a reason (R9, R10).
    Lower,
}

/// Body of `POST /communities/{id}/stage`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    /// `advance` or `lower`.
    pub direction: StageDirection,
    /// The stage after: `kim1` … `kim4`.
    #[schema(value_type = String, example = "kim2")]
    pub to: Stage,
    /// Date of the assessment.
    pub assessed_on: NaiveDate,
    /// For `advance`: sequences of this KIM's events cited as evidence.
    #[serde(default)]
    pub evidence: Vec<u64>,
    /// For `lower`: why.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

/// What every write returns.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WriteResult {
    /// The community's version after the write (its `ETag`).
    pub version: u64,
    /// The global position of the last event written.
    pub position: u64,
}

/// What `POST /communities` returns.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    /// The new community's id.
    pub id: String,
    /// Its version (1).
    pub version: u64,
    /// The global position of `CommunityFormed`.
    pub position: u64,
}

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
#[schema(example = json!({
    "name": "KIM Sadai Bersatu",
    "village": "21.71.01.1002",
    "formed_on": "2024-03-12",
    "origin_group": "Karang Taruna",
    "member_count": 12,
    "initiated_by": "Rudi Hartono"
}))]
pub struct FormCommunityBody {
    /// Optional id chosen by the client (a UUID); generated when absent.
    pub id: Option<Uuid>,
    /// The KIM's name, e.g. `KIM Sadai Bersatu`.
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$", example = "KIM Sadai Bersatu")]
    pub name: CommunityName,
    /// The anchor desa/kelurahan code (R2), e.g. `21.71.01.1002`.
    #[schema(value_type = String, pattern = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}$", example = "21.71.01.1002")]
    pub village: RegionCode,
    /// Date of formation, 1945-08-17 to 2099-12-31.
    pub formed_on: NaiveDate,
    /// The group it grew from (e.g. Karang Taruna).
    #[serde(default)]
    #[schema(max_length = 300, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub origin_group: Option<String>,
    /// Members at formation, 3–30 (R1).
    #[schema(minimum = 3, maximum = 30)]
    pub member_count: u32,
    /// Who in the community initiated it (R3); required when a government role records it.
    #[serde(default)]
    #[schema(max_length = 300, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
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
#[schema(example = json!({
    "role": "ketua",
    "name": "Siti Aminah",
    "contact": "0812-3456-7890",
    "appointed_on": "2024-03-12",
    "eligibility": {
        "not_asn": true,
        "no_criminal_record": true,
        "no_party_affiliation": true,
        "no_ngo_affiliation": true
    }
}))]
pub struct AppointOfficerBody {
    /// The person, if they held an office in this KIM before; generated otherwise.
    pub person_id: Option<Uuid>,
    /// The office.
    pub role: OfficerRole,
    /// The field, for a kepala bidang.
    #[serde(default)]
    #[schema(max_length = 300, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub bidang: Option<String>,
    /// Full name (personal data).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Phone or e-mail (personal data).
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub contact: Option<String>,
    /// Date of appointment, 1945-08-17 to 2099-12-31.
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
    #[schema(value_type = String, min_length = 1, max_length = 1000, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$", example = "Pengurus mengundurkan diri")]
    pub reason: Reason,
}

/// Body of `PUT /communities/{id}/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    /// The new count, 3–30 (R1).
    #[schema(minimum = 3, maximum = 30)]
    pub member_count: u32,
    /// From when.
    pub effective_on: NaiveDate,
}

/// Body of `POST /communities/{id}/sk`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkBody {
    /// SK number, e.g. `12/2025`.
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$", example = "12/2025")]
    pub number: SkNumber,
    /// Date of the SK.
    pub issued_on: NaiveDate,
    /// What it is about (tentang).
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$",
             example = "Pembentukan Kelompok Informasi Masyarakat")]
    pub subject: Title,
    /// The issuing desa/kelurahan: the KIM's own (R7).
    #[schema(value_type = String, pattern = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}$", example = "21.71.01.1002")]
    pub issuing_office: RegionCode,
    /// The signing office, e.g. `Lurah Pemping`.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
        example = "Lurah Pemping"
    )]
    pub signed_by: String,
    /// Whether the village head acknowledged the officer roster.
    pub roster_acknowledged: bool,
}

/// Body of `POST /communities/{id}/registration` (nomor induk).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// The nomor induk, unique within the kabupaten/kota (R8).
    #[schema(value_type = String, min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9./ -]+$",
             example = "KIM-2171-0001")]
    pub number: RegistrationNumber,
    /// The assigning Dinas' kabupaten/kota: the KIM's own (R8).
    #[schema(value_type = String, pattern = r"^[0-9]{2}\.[0-9]{2}$", example = "21.71")]
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
    /// The kind of session.
    pub kind: BimtekKind,
    /// Its title.
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$",
             example = "Bimtek Pengelolaan Media Sosial KIM")]
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// The organising province or kabupaten/kota.
    #[schema(value_type = String, pattern = r"^[0-9]{2}(\.[0-9]{2})?$", example = "21.71")]
    pub organizer_region: RegionCode,
    /// The KIM's participants, 1–10,000.
    #[schema(minimum = 1, maximum = 10000)]
    pub participants: u32,
}

/// Body of `POST /bimtek-sessions`: one session attended by many KIM, recorded for each of them
/// (one `BimtekAttended` per KIM, one `session_id` for all), all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "bimtek",
    "title": "Bimtek Pengelolaan Media Sosial KIM",
    "held_on": "2025-09-10",
    "organizer_region": "34.03",
    "communities": [
        {"id": "0199a8f2-7c1e-7d3a-9b1e-3f5c2a8d4e61", "participants": 3},
        {"id": "0199a8f2-7c1e-7d3a-9b1e-3f5c2a8d4e62", "participants": 2}
    ]
}))]
pub struct BimtekSessionBody {
    /// The kind of session.
    pub kind: BimtekKind,
    /// Its title.
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$",
             example = "Bimtek Pengelolaan Media Sosial KIM")]
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// The organising province or kabupaten/kota; every KIM's desa/kelurahan lies inside it.
    #[schema(value_type = String, pattern = r"^[0-9]{2}(\.[0-9]{2})?$", example = "34.03")]
    pub organizer_region: RegionCode,
    /// Every KIM that attended, each once: 1–500.
    #[schema(min_items = 1, max_items = 500)]
    pub communities: Vec<SessionCommunityBody>,
}

/// One KIM at a bimtek session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCommunityBody {
    /// The community.
    pub id: Uuid,
    /// Its participants, 1–10,000.
    #[schema(minimum = 1, maximum = 10000)]
    pub participants: u32,
}

/// Body of `POST /communities/{id}/activities`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityBody {
    /// Generated when absent.
    pub activity_id: Option<Uuid>,
    /// Which of the five working principles.
    pub kind: ActivityKind,
    /// Its title.
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$",
             example = "Sosialisasi Program Desa Digital")]
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// Participants, if known, 1–10,000.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    pub participants: Option<u32>,
}

/// Body of `POST /communities/{id}/media-channels`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaChannelBody {
    /// Generated when absent.
    pub channel_id: Option<Uuid>,
    /// The kind of channel.
    pub kind: MediaChannelKind,
    /// Name or handle.
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$", example = "@kimsadaibersatu")]
    pub name: Title,
    /// Address, if public: `http://` or `https://`, at most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000, example = "https://instagram.com/kimsadaibersatu")]
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
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$", example = "Kerupuk Sadai")]
    pub name: Title,
    /// Where it sells: its own online shop, or the marketplace's name (free text).
    #[schema(value_type = String, min_length = 1, max_length = 300, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$", example = "Shopee")]
    pub platform: Title,
    /// Address, if public: `http://` or `https://`, at most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
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
    /// Raise one step, or lower.
    pub direction: StageDirection,
    /// The stage after.
    pub to: Stage,
    /// Date of the assessment.
    pub assessed_on: NaiveDate,
    /// For `advance`: sequences of this KIM's events cited as evidence (R9).
    #[serde(default)]
    #[schema(example = json!([4]))]
    pub evidence: Vec<u64>,
    /// For `lower`: why (R10).
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 1000, pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$")]
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
    #[schema(format = Uuid)]
    pub id: String,
    /// Its version (1).
    pub version: u64,
    /// The global position of `CommunityFormed`.
    pub position: u64,
}

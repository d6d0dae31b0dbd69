//! What people ask a KIM's history to record: one imperative command per event.
//!
//! Commands carry domain facts only. Personal data arrives already sealed (the application seals
//! with the person's data key before building the command), so the aggregate never sees a name.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::{ActivityKind, BimtekKind, Eligibility, MediaChannelKind};
use crate::region::RegionCode;
use crate::roles::{ActorRole, OfficerRole};
use crate::sealed::SealedText;
use crate::stage::Stage;
use crate::text::{CommunityName, Reason, RegistrationNumber, SkNumber, Title};

/// Every command of the `Community` aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum CommunityCommand {
    /// Records the formation of a KIM → `CommunityFormed`.
    FormCommunity(FormCommunity),
    /// → `OfficerAppointed`.
    AppointOfficer(AppointOfficer),
    /// → `OfficerDismissed`.
    DismissOfficer(DismissOfficer),
    /// → `MemberCountUpdated`.
    UpdateMemberCount(UpdateMemberCount),
    /// → `SkIssued`.
    IssueSk(IssueSk),
    /// → `SkRevoked`.
    RevokeSk(RevokeSk),
    /// → `RegistrationNumberAssigned`.
    AssignRegistrationNumber(AssignRegistrationNumber),
    /// → `BimtekAttended`.
    RecordBimtek(RecordBimtek),
    /// → `ActivityRecorded`.
    RecordActivity(RecordActivity),
    /// → `MediaChannelRegistered`.
    RegisterMediaChannel(RegisterMediaChannel),
    /// → `MediaChannelDeactivated`.
    DeactivateMediaChannel(DeactivateMediaChannel),
    /// → `EBusinessRegistered`.
    RegisterEBusiness(RegisterEBusiness),
    /// → `EBusinessDeactivated`.
    DeactivateEBusiness(DeactivateEBusiness),
    /// → `StageAdvanced`.
    AdvanceStage(AdvanceStage),
    /// → `StageLowered`.
    LowerStage(LowerStage),
    /// → `CommunitySuspended`.
    SuspendCommunity(SuspendCommunity),
    /// → `CommunityReactivated`.
    ReactivateCommunity(ReactivateCommunity),
    /// → `CommunityDissolved`.
    DissolveCommunity(DissolveCommunity),
}

/// Form a KIM in a desa/kelurahan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormCommunity {
    /// The KIM's name.
    pub name: CommunityName,
    /// The anchor desa/kelurahan code (R2).
    pub village: RegionCode,
    /// Date of formation.
    pub formed_on: NaiveDate,
    /// The group it grew from, if any.
    #[serde(default)]
    pub origin_group: Option<String>,
    /// Members at formation (R1).
    pub member_count: u32,
    /// Who in the community initiated it (R3). Required when a government role records it.
    #[serde(default)]
    pub initiated_by: Option<String>,
    /// The role of the principal recording it, filled in by the application from the token.
    pub recorded_by_role: ActorRole,
}

/// Appoint an officer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointOfficer {
    /// The person; a new id unless they held an office before.
    pub person_id: Uuid,
    /// The office (R5).
    pub role: OfficerRole,
    /// The field, for a kepala bidang.
    #[serde(default)]
    pub bidang: Option<String>,
    /// The name, sealed with the person's key.
    pub name: SealedText,
    /// A contact, sealed with the person's key.
    #[serde(default)]
    pub contact: Option<SealedText>,
    /// Date of appointment.
    pub appointed_on: NaiveDate,
    /// The attestations (R4).
    pub eligibility: Eligibility,
}

/// Dismiss an active officer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DismissOfficer {
    /// The officer.
    pub person_id: Uuid,
    /// Date of dismissal.
    pub dismissed_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Change the member count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberCount {
    /// The new count (R1).
    pub member_count: u32,
    /// From when.
    pub effective_on: NaiveDate,
}

/// Record the village head's SK.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueSk {
    /// SK number.
    pub number: SkNumber,
    /// Date of the SK.
    pub issued_on: NaiveDate,
    /// What it is about (*tentang*).
    pub subject: Title,
    /// The issuing desa/kelurahan (R7).
    pub issuing_office: RegionCode,
    /// The signing office's title, e.g. `Kepala Desa Sardonoharjo`.
    pub signed_by: String,
    /// Whether the roster was acknowledged by the village head.
    pub roster_acknowledged: bool,
}

/// Revoke the active SK.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeSk {
    /// Date of revocation.
    pub revoked_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Assign the nomor induk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRegistrationNumber {
    /// The number (unique in the kabupaten/kota: enforced by the store, R8).
    pub number: RegistrationNumber,
    /// The assigning Dinas' kabupaten/kota (R8).
    pub regency: RegionCode,
    /// Date of assignment.
    pub assigned_on: NaiveDate,
}

/// Record attendance at a bimtek or similar session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBimtek {
    /// The session, shared by all KIM that attended it.
    pub session_id: Uuid,
    /// Its kind.
    pub kind: BimtekKind,
    /// Its title.
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// The organising province or kabupaten/kota.
    pub organizer_region: RegionCode,
    /// The KIM's participants (at least one).
    pub participants: u32,
}

/// Record an activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordActivity {
    /// New id of the activity.
    pub activity_id: Uuid,
    /// Its kind.
    pub kind: ActivityKind,
    /// Its title.
    pub title: Title,
    /// Date held.
    pub held_on: NaiveDate,
    /// Participants, if known.
    #[serde(default)]
    pub participants: Option<u32>,
}

/// Register a new-media channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterMediaChannel {
    /// New id of the channel.
    pub channel_id: Uuid,
    /// Its kind.
    pub kind: MediaChannelKind,
    /// Name or handle.
    pub name: Title,
    /// Address, if public.
    #[serde(default)]
    pub url: Option<String>,
    /// Since when.
    pub registered_on: NaiveDate,
}

/// Deactivate a media channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeactivateMediaChannel {
    /// The channel.
    pub channel_id: Uuid,
    /// Since when.
    pub deactivated_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Register an e-business.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterEBusiness {
    /// New id of the e-business.
    pub enterprise_id: Uuid,
    /// Its name.
    pub name: Title,
    /// Own shop or marketplace.
    pub platform: Title,
    /// Address, if public.
    #[serde(default)]
    pub url: Option<String>,
    /// Since when.
    pub registered_on: NaiveDate,
}

/// Deactivate an e-business.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeactivateEBusiness {
    /// The e-business.
    pub enterprise_id: Uuid,
    /// Since when.
    pub deactivated_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Advance the stage one step, by the regency operator's assessment (R9).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceStage {
    /// The stage asked for: exactly one above the current one.
    pub to: Stage,
    /// Date of the assessment.
    pub assessed_on: NaiveDate,
    /// Sequence numbers of this KIM's events cited as evidence.
    pub evidence: Vec<u64>,
    /// The role of the assessor, filled in by the application from the token.
    pub assessed_by_role: ActorRole,
}

/// Lower the stage, with a reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowerStage {
    /// The stage after: below the current one.
    pub to: Stage,
    /// Date of the assessment.
    pub assessed_on: NaiveDate,
    /// Why (R9, R10).
    pub reason: Reason,
}

/// Suspend an active KIM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendCommunity {
    /// Since when.
    pub suspended_on: NaiveDate,
    /// Why.
    pub reason: Reason,
}

/// Reactivate a suspended KIM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactivateCommunity {
    /// Since when.
    pub reactivated_on: NaiveDate,
    /// Why.
    pub reason: Reason,
}

/// Dissolve a KIM for good.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DissolveCommunity {
    /// Since when.
    pub dissolved_on: NaiveDate,
    /// Why.
    pub reason: Reason,
}

impl CommunityCommand {
    /// The command's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::FormCommunity(_) => "form_community",
            Self::AppointOfficer(_) => "appoint_officer",
            Self::DismissOfficer(_) => "dismiss_officer",
            Self::UpdateMemberCount(_) => "update_member_count",
            Self::IssueSk(_) => "issue_sk",
            Self::RevokeSk(_) => "revoke_sk",
            Self::AssignRegistrationNumber(_) => "assign_registration_number",
            Self::RecordBimtek(_) => "record_bimtek",
            Self::RecordActivity(_) => "record_activity",
            Self::RegisterMediaChannel(_) => "register_media_channel",
            Self::DeactivateMediaChannel(_) => "deactivate_media_channel",
            Self::RegisterEBusiness(_) => "register_e_business",
            Self::DeactivateEBusiness(_) => "deactivate_e_business",
            Self::AdvanceStage(_) => "advance_stage",
            Self::LowerStage(_) => "lower_stage",
            Self::SuspendCommunity(_) => "suspend_community",
            Self::ReactivateCommunity(_) => "reactivate_community",
            Self::DissolveCommunity(_) => "dissolve_community",
        }
    }
}

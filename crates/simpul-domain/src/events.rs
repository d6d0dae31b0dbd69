//! The facts of a KIM's life, as past-tense events.
//!
//! The stored name (`event_type`) and `event_version` of each variant are a contract with the
//! log: a changed shape becomes a new version plus an upcaster, never an edit of an old one.
//! Who, role, request id, reason and server time are metadata, stamped by the store (R11).

use chrono::NaiveDate;
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::region::RegionCode;
use crate::roles::{ActorRole, OfficerRole};
use crate::sealed::SealedText;
use crate::stage::Stage;
use crate::text::{CommunityName, Reason, RegistrationNumber, SkNumber, Title};

/// Every event of the `Community` aggregate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CommunityEvent {
    /// The KIM was formed in a desa/kelurahan (R1, R2, R3). It starts at KIM 1.
    CommunityFormed(CommunityFormed),
    /// An officer (*pengurus*) was appointed (R4, R5).
    OfficerAppointed(OfficerAppointed),
    /// An officer was dismissed (R10).
    OfficerDismissed(OfficerDismissed),
    /// The member count changed (R1).
    MemberCountUpdated(MemberCountUpdated),
    /// The village head's SK establishing the KIM was issued (R6, R7).
    SkIssued(SkIssued),
    /// The SK was revoked (R10).
    SkRevoked(SkRevoked),
    /// The Dinas of the kabupaten/kota assigned the nomor induk (R8).
    RegistrationNumberAssigned(RegistrationNumberAssigned),
    /// Members attended a bimtek (technical guidance) or a similar session.
    BimtekAttended(BimtekAttended),
    /// An activity was recorded (forum, development agent, dissemination, aspiration, networking).
    ActivityRecorded(ActivityRecorded),
    /// A new-media channel (website, social media, messaging) was registered.
    MediaChannelRegistered(MediaChannelRegistered),
    /// A media channel was deactivated (R10).
    MediaChannelDeactivated(MediaChannelDeactivated),
    /// An e-business (online shop, marketplace presence) was registered.
    EBusinessRegistered(EBusinessRegistered),
    /// An e-business was deactivated (R10).
    EBusinessDeactivated(EBusinessDeactivated),
    /// The maturity stage advanced one step (R9).
    StageAdvanced(StageAdvanced),
    /// The maturity stage was lowered, with a reason (R9, R10).
    StageLowered(StageLowered),
    /// The KIM was suspended.
    CommunitySuspended(CommunitySuspended),
    /// A suspended KIM was reactivated.
    CommunityReactivated(CommunityReactivated),
    /// The KIM was dissolved; it accepts no more commands.
    CommunityDissolved(CommunityDissolved),
}

/// Payload of [`CommunityEvent::CommunityFormed`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommunityFormed {
    /// The KIM's name.
    pub name: CommunityName,
    /// The anchor desa/kelurahan.
    pub village: RegionCode,
    /// The edition of the region codes in this event.
    pub region_edition: String,
    /// Date of formation.
    pub formed_on: NaiveDate,
    /// The group it grew from (e.g. a Karang Taruna), if any.
    pub origin_group: Option<String>,
    /// Members at formation.
    pub member_count: u32,
    /// Who initiated the KIM (R3): the community itself, named.
    pub initiated_by: String,
    /// The role that recorded the formation; a government role records on the community's behalf.
    pub recorded_by_role: ActorRole,
    /// Whether a government role recorded it on the community's behalf (R3).
    pub on_behalf_of_community: bool,
    /// Always KIM 1 for a new KIM.
    pub stage: Stage,
    /// The stage policy version in force at formation.
    pub policy_version: String,
}

/// The four attestations of R4 (seed 001: *syarat administratif*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    /// Not a civil servant (*bukan ASN*).
    pub not_asn: bool,
    /// Not involved in criminal acts.
    pub no_criminal_record: bool,
    /// Not affiliated with a political party.
    pub no_party_affiliation: bool,
    /// Not affiliated with an NGO (*LSM*).
    pub no_ngo_affiliation: bool,
}

/// Payload of [`CommunityEvent::OfficerAppointed`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OfficerAppointed {
    /// The person, whose data key seals `name` and `contact`.
    pub person_id: Uuid,
    /// The office.
    pub role: OfficerRole,
    /// The field headed, for a kepala bidang.
    pub bidang: Option<String>,
    /// The officer's name, sealed.
    pub name: SealedText,
    /// A phone number or e-mail, sealed.
    pub contact: Option<SealedText>,
    /// Date of appointment.
    pub appointed_on: NaiveDate,
    /// The attestations of R4.
    pub eligibility: Eligibility,
}

/// Payload of [`CommunityEvent::OfficerDismissed`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OfficerDismissed {
    /// The person dismissed.
    pub person_id: Uuid,
    /// The office they held.
    pub role: OfficerRole,
    /// Date of dismissal.
    pub dismissed_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Payload of [`CommunityEvent::MemberCountUpdated`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberCountUpdated {
    /// The new count.
    pub member_count: u32,
    /// The count before.
    pub previous: u32,
    /// From when.
    pub effective_on: NaiveDate,
}

/// Payload of [`CommunityEvent::SkIssued`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkIssued {
    /// The SK number, e.g. `12/2025`.
    pub number: SkNumber,
    /// Date of the SK.
    pub issued_on: NaiveDate,
    /// What it is about (*tentang*).
    pub subject: Title,
    /// The issuing office: a desa/kelurahan code (R7).
    pub issuing_office: RegionCode,
    /// The edition of `issuing_office`.
    pub region_edition: String,
    /// The office that signed, e.g. `Kepala Desa Sardonoharjo` (a title, not a person's name).
    pub signed_by: String,
    /// Whether the village head acknowledged the officer roster (seed 001).
    pub roster_acknowledged: bool,
}

/// Payload of [`CommunityEvent::SkRevoked`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkRevoked {
    /// The SK revoked.
    pub number: SkNumber,
    /// Date of revocation.
    pub revoked_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Payload of [`CommunityEvent::RegistrationNumberAssigned`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistrationNumberAssigned {
    /// The nomor induk.
    pub number: RegistrationNumber,
    /// The kabupaten/kota whose Dinas assigned it (R8).
    pub regency: RegionCode,
    /// The edition of `regency`.
    pub region_edition: String,
    /// Date of assignment.
    pub assigned_on: NaiveDate,
}

/// The kind of capacity-building session (seed 001).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BimtekKind {
    /// *Bimbingan teknis*.
    Bimtek,
    /// Workshop or *lokakarya*.
    Workshop,
    /// *Sarasehan*.
    Sarasehan,
    /// *Forum diskusi*.
    ForumDiskusi,
}

/// Payload of [`CommunityEvent::BimtekAttended`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BimtekAttended {
    /// Identifies the session, so many KIM can cite the same one.
    pub session_id: Uuid,
    /// The kind of session.
    pub kind: BimtekKind,
    /// Its title.
    pub title: Title,
    /// The date it was held.
    pub held_on: NaiveDate,
    /// The organising Dinas: a province or kabupaten/kota code.
    pub organizer_region: RegionCode,
    /// The edition of `organizer_region`.
    pub region_edition: String,
    /// How many of the KIM's people took part (seed 000: 38).
    pub participants: u32,
}

/// The five working principles of a KIM (seed 001) as activity kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ActivityKind {
    /// A conventional media forum: meetings, notice boards, community radio, bulletins.
    ConventionalForum,
    /// Development-agent work (*agen pembangunan*): evidence for KIM 2.
    DevelopmentAgent,
    /// Dissemination of public information.
    Dissemination,
    /// Collecting citizens' aspirations.
    Aspiration,
    /// Networking with other KIM and institutions.
    Networking,
}

/// Payload of [`CommunityEvent::ActivityRecorded`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecorded {
    /// Identifies the activity.
    pub activity_id: Uuid,
    /// What kind.
    pub kind: ActivityKind,
    /// A title.
    pub title: Title,
    /// When it was held.
    pub held_on: NaiveDate,
    /// How many took part, if known.
    pub participants: Option<u32>,
}

/// New-media kinds (*media baru*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MediaChannelKind {
    /// A website or blog.
    Website,
    /// A social-media account.
    SocialMedia,
    /// A messaging channel or group.
    Messaging,
}

/// Payload of [`CommunityEvent::MediaChannelRegistered`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaChannelRegistered {
    /// Identifies the channel.
    pub channel_id: Uuid,
    /// Its kind.
    pub kind: MediaChannelKind,
    /// Its name or handle.
    pub name: Title,
    /// Its address, if public.
    pub url: Option<String>,
    /// Since when.
    pub registered_on: NaiveDate,
}

/// Payload of [`CommunityEvent::MediaChannelDeactivated`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaChannelDeactivated {
    /// The channel.
    pub channel_id: Uuid,
    /// Since when.
    pub deactivated_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Payload of [`CommunityEvent::EBusinessRegistered`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EBusinessRegistered {
    /// Identifies the e-business.
    pub enterprise_id: Uuid,
    /// Its name.
    pub name: Title,
    /// Where it sells: an own online shop or a marketplace.
    pub platform: Title,
    /// Its address, if public.
    pub url: Option<String>,
    /// Since when.
    pub registered_on: NaiveDate,
}

/// Payload of [`CommunityEvent::EBusinessDeactivated`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EBusinessDeactivated {
    /// The e-business.
    pub enterprise_id: Uuid,
    /// Since when.
    pub deactivated_on: NaiveDate,
    /// Why (R10).
    pub reason: Reason,
}

/// Payload of [`CommunityEvent::StageAdvanced`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageAdvanced {
    /// The stage before.
    pub from: Stage,
    /// The stage after: one step up (R9).
    pub to: Stage,
    /// Date of the assessment.
    pub assessed_on: NaiveDate,
    /// Sequence numbers of this KIM's events cited as evidence.
    pub evidence: Vec<u64>,
    /// The stage policy version applied.
    pub policy_version: String,
}

/// Payload of [`CommunityEvent::StageLowered`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageLowered {
    /// The stage before.
    pub from: Stage,
    /// The stage after (lower).
    pub to: Stage,
    /// Date of the assessment.
    pub assessed_on: NaiveDate,
    /// Why (R9, R10).
    pub reason: Reason,
}

/// Payload of [`CommunityEvent::CommunitySuspended`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommunitySuspended {
    /// Since when.
    pub suspended_on: NaiveDate,
    /// Why.
    pub reason: Reason,
}

/// Payload of [`CommunityEvent::CommunityReactivated`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommunityReactivated {
    /// Since when.
    pub reactivated_on: NaiveDate,
    /// Why.
    pub reason: Reason,
}

/// Payload of [`CommunityEvent::CommunityDissolved`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommunityDissolved {
    /// Since when.
    pub dissolved_on: NaiveDate,
    /// Why.
    pub reason: Reason,
}

/// The version of every event's payload shape; bumped per variant when its shape changes.
pub const EVENT_VERSION: &str = "1.0";

impl CommunityEvent {
    /// Every event's stored name ([`CommunityEvent::name`]), in declaration order: what queries,
    /// filters and documents list. A test holds it to the enum's variants.
    pub const NAMES: [&'static str; 18] = [
        "CommunityFormed",
        "OfficerAppointed",
        "OfficerDismissed",
        "MemberCountUpdated",
        "SkIssued",
        "SkRevoked",
        "RegistrationNumberAssigned",
        "BimtekAttended",
        "ActivityRecorded",
        "MediaChannelRegistered",
        "MediaChannelDeactivated",
        "EBusinessRegistered",
        "EBusinessDeactivated",
        "StageAdvanced",
        "StageLowered",
        "CommunitySuspended",
        "CommunityReactivated",
        "CommunityDissolved",
    ];

    /// The payload fields that hold sealed personal data ([`crate::sealed::SealedText`]), per
    /// event name: what a history, an export or an erasure opens or masks.
    pub const SEALED_FIELDS: [(&'static str, &'static [&'static str]); 1] =
        [("OfficerAppointed", &["name", "contact"])];

    /// The stored name of the event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CommunityFormed(_) => "CommunityFormed",
            Self::OfficerAppointed(_) => "OfficerAppointed",
            Self::OfficerDismissed(_) => "OfficerDismissed",
            Self::MemberCountUpdated(_) => "MemberCountUpdated",
            Self::SkIssued(_) => "SkIssued",
            Self::SkRevoked(_) => "SkRevoked",
            Self::RegistrationNumberAssigned(_) => "RegistrationNumberAssigned",
            Self::BimtekAttended(_) => "BimtekAttended",
            Self::ActivityRecorded(_) => "ActivityRecorded",
            Self::MediaChannelRegistered(_) => "MediaChannelRegistered",
            Self::MediaChannelDeactivated(_) => "MediaChannelDeactivated",
            Self::EBusinessRegistered(_) => "EBusinessRegistered",
            Self::EBusinessDeactivated(_) => "EBusinessDeactivated",
            Self::StageAdvanced(_) => "StageAdvanced",
            Self::StageLowered(_) => "StageLowered",
            Self::CommunitySuspended(_) => "CommunitySuspended",
            Self::CommunityReactivated(_) => "CommunityReactivated",
            Self::CommunityDissolved(_) => "CommunityDissolved",
        }
    }

    /// The reason the event carries, if it is one that must say why.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Self::OfficerDismissed(e) => Some(&e.reason),
            Self::SkRevoked(e) => Some(&e.reason),
            Self::MediaChannelDeactivated(e) => Some(&e.reason),
            Self::EBusinessDeactivated(e) => Some(&e.reason),
            Self::StageLowered(e) => Some(&e.reason),
            Self::CommunitySuspended(e) => Some(&e.reason),
            Self::CommunityReactivated(e) => Some(&e.reason),
            Self::CommunityDissolved(e) => Some(&e.reason),
            _ => None,
        }
    }
}

impl DomainEvent for CommunityEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

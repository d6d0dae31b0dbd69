//! The `Community` aggregate: one KIM's state, folded from its events, and the decisions that turn
//! a command into events.
//!
//! Deciding and folding are kept apart. [`Community::decide`] is a pure function of the state, the
//! command and the services; it checks the lifecycle and the rules of [`crate::rules`] and never
//! mutates. [`Aggregate::apply`] only folds: it trusts the log, checks nothing and never fails,
//! because an event that is stored is a fact, even one recorded by an older, laxer version.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::commands::{
    AdvanceStage, AppointOfficer, AssignRegistrationNumber, CommunityCommand, DeactivateEBusiness,
    DeactivateMediaChannel, DismissOfficer, DissolveCommunity, FormCommunity, IssueSk, LowerStage,
    ReactivateCommunity, RecordActivity, RecordBimtek, RegisterEBusiness, RegisterMediaChannel,
    RevokeSk, SuspendCommunity, UpdateMemberCount,
};
use crate::error::{DomainError, ErrorKind};
use crate::events::{
    ActivityKind, ActivityRecorded, BimtekAttended, CommunityDissolved, CommunityEvent,
    CommunityFormed, CommunityReactivated, CommunitySuspended, EBusinessDeactivated,
    EBusinessRegistered, MediaChannelDeactivated, MediaChannelRegistered, MemberCountUpdated,
    OfficerAppointed, OfficerDismissed, RegistrationNumberAssigned, SkIssued, SkRevoked,
    StageAdvanced, StageLowered,
};
use crate::region::{RegionCode, RegionLevel};
use crate::roles::OfficerRole;
use crate::rules;
use crate::services::CommunityServices;
use crate::stage::{Evidence, Stage};
use crate::text::{CommunityName, RegistrationNumber, SkNumber};

/// Longest free text accepted in a plain `String` field (initiator, origin group, bidang, signer).
const MAX_FREE_TEXT: usize = 300;
/// Longest URL accepted for a media channel or e-business.
const MAX_URL: usize = 2000;

/// Whether a KIM is working, suspended, or gone for good.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CommunityStatus {
    /// Working normally; every command may be accepted.
    #[default]
    Active,
    /// Suspended by the Dinas; only reactivation or dissolution is accepted.
    Suspended,
    /// Dissolved; no command is accepted any more.
    Dissolved,
}

impl CommunityStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [CommunityStatus; 3] = [Self::Active, Self::Suspended, Self::Dissolved];

    /// The stored name (`active`, `suspended`, `dissolved`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Dissolved => "dissolved",
        }
    }
}

impl fmt::Display for CommunityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The facts fixed at formation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Formation {
    name: CommunityName,
    village: RegionCode,
    formed_on: NaiveDate,
}

/// An active officer's office.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Office {
    role: OfficerRole,
    bidang: Option<String>,
}

/// The SK in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ActiveSk {
    number: SkNumber,
    issued_on: NaiveDate,
}

/// The nomor induk and the kabupaten/kota that assigned it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Registration {
    number: RegistrationNumber,
    regency: RegionCode,
}

/// A recorded activity, remembered by the sequence of the event that recorded it (R9 evidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ActivityEntry {
    sequence: u64,
    kind: ActivityKind,
}

/// A registered media channel or e-business: the sequence that registered it and whether it is
/// still active (only active ones count as R9 evidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Listing {
    sequence: u64,
    active: bool,
}

/// One KIM, as folded from its events.
///
/// The state keeps only what decisions and simple reads need; projections keep the rest. `version`
/// counts the events applied, so the N-th event of the stream has sequence N (cqrs-es numbers
/// from 1), which is how an assessment cites its evidence (R9).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Community {
    formation: Option<Formation>,
    member_count: u32,
    stage: Stage,
    status: CommunityStatus,
    officers: BTreeMap<Uuid, Office>,
    sk: Option<ActiveSk>,
    registration: Option<Registration>,
    activities: BTreeMap<Uuid, ActivityEntry>,
    media_channels: BTreeMap<Uuid, Listing>,
    e_businesses: BTreeMap<Uuid, Listing>,
    bimtek_count: u32,
    version: u64,
}

impl Community {
    /// Whether a `CommunityFormed` event has been applied.
    pub fn is_formed(&self) -> bool {
        self.formation.is_some()
    }

    /// The KIM's name, once formed.
    pub fn name(&self) -> Option<&CommunityName> {
        self.formation.as_ref().map(|f| &f.name)
    }

    /// The anchor desa/kelurahan, once formed.
    pub fn village(&self) -> Option<&RegionCode> {
        self.formation.as_ref().map(|f| &f.village)
    }

    /// The formation date, once formed.
    pub fn formed_on(&self) -> Option<NaiveDate> {
        self.formation.as_ref().map(|f| f.formed_on)
    }

    /// The current member count (0 before formation).
    pub fn member_count(&self) -> u32 {
        self.member_count
    }

    /// The current maturity stage (KIM 1 before formation and after it).
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Whether the KIM is active, suspended or dissolved.
    pub fn status(&self) -> CommunityStatus {
        self.status
    }

    /// The active officers and their offices, ordered by person id.
    pub fn active_officers(&self) -> impl Iterator<Item = (Uuid, OfficerRole)> + '_ {
        self.officers
            .iter()
            .map(|(person, office)| (*person, office.role))
    }

    /// The field headed by an active kepala bidang, if `person_id` is one.
    pub fn bidang_of(&self, person_id: Uuid) -> Option<&str> {
        self.officers
            .get(&person_id)
            .and_then(|office| office.bidang.as_deref())
    }

    /// The person holding a unique office (ketua, sekretaris, bendahara), if any; the first
    /// kepala bidang by person id for [`OfficerRole::KepalaBidang`].
    pub fn holder_of(&self, role: OfficerRole) -> Option<Uuid> {
        self.active_officers()
            .find(|(_, held)| *held == role)
            .map(|(person, _)| person)
    }

    /// The SK in force: its number and date.
    pub fn active_sk(&self) -> Option<(&SkNumber, NaiveDate)> {
        self.sk.as_ref().map(|sk| (&sk.number, sk.issued_on))
    }

    /// The nomor induk, once assigned.
    pub fn registration_number(&self) -> Option<&RegistrationNumber> {
        self.registration.as_ref().map(|r| &r.number)
    }

    /// The kabupaten/kota whose Dinas assigned the nomor induk.
    pub fn registration_regency(&self) -> Option<&RegionCode> {
        self.registration.as_ref().map(|r| &r.regency)
    }

    /// Whether the KIM is legal (*berbadan legal*): an active SK and a nomor induk.
    pub fn is_legal(&self) -> bool {
        self.sk.is_some() && self.registration.is_some()
    }

    /// How many bimtek (and similar sessions) the KIM attended.
    pub fn bimtek_count(&self) -> u32 {
        self.bimtek_count
    }

    /// How many activities were recorded.
    pub fn activity_count(&self) -> usize {
        self.activities.len()
    }

    /// How many media channels are still active.
    pub fn active_media_channel_count(&self) -> usize {
        self.media_channels.values().filter(|c| c.active).count()
    }

    /// How many e-businesses are still active.
    pub fn active_e_business_count(&self) -> usize {
        self.e_businesses.values().filter(|e| e.active).count()
    }

    /// The number of events applied, which is also the sequence of the latest one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether the event with `sequence` is evidence of `kind` today (R9): a development-agent
    /// activity, or the registration of a media channel or e-business that is still active.
    pub fn satisfies_evidence(&self, sequence: u64, kind: Evidence) -> bool {
        match kind {
            Evidence::DevelopmentAgentActivity => self
                .activities
                .values()
                .any(|a| a.sequence == sequence && a.kind == ActivityKind::DevelopmentAgent),
            Evidence::ActiveMediaChannel => self
                .media_channels
                .values()
                .any(|c| c.sequence == sequence && c.active),
            Evidence::ActiveEBusiness => self
                .e_businesses
                .values()
                .any(|e| e.sequence == sequence && e.active),
        }
    }

    /// Decides what a command means for this KIM: the events to record, or why it is rejected.
    ///
    /// Checks run in a fixed order so the same command always gets the same error: formation,
    /// status (dissolved, suspended), dates not before formation, then the command's own checks
    /// and rules. Nothing is mutated; `handle` applies the events through the sink.
    pub fn decide(
        &self,
        command: CommunityCommand,
        services: &CommunityServices,
    ) -> Result<Vec<CommunityEvent>, DomainError> {
        let (field, date) = command_date(&command);
        rules::plausible_date(field, date)?;
        let formation = match (&command, &self.formation) {
            (CommunityCommand::FormCommunity(form), None) => {
                return self.form(form, services).map(|event| vec![event]);
            }
            (CommunityCommand::FormCommunity(_), Some(formation)) => {
                return Err(already_formed(formation));
            }
            (_, None) => {
                return Err(DomainError::lifecycle(
                    ErrorKind::NotFormed,
                    "community_id",
                    "no KIM was formed under this id",
                ));
            }
            (_, Some(formation)) => formation,
        };
        self.check_status(&command)?;
        if date < formation.formed_on {
            return Err(DomainError::invalid(
                field,
                format!(
                    "{date} is before the KIM's formation on {}",
                    formation.formed_on
                ),
            ));
        }
        let event = match command {
            // Answered above; at this point the KIM is formed, so the answer is the same.
            CommunityCommand::FormCommunity(_) => return Err(already_formed(formation)),
            CommunityCommand::AppointOfficer(cmd) => self.appoint(cmd)?,
            CommunityCommand::DismissOfficer(cmd) => self.dismiss(cmd)?,
            CommunityCommand::UpdateMemberCount(cmd) => self.update_members(cmd, services)?,
            CommunityCommand::IssueSk(cmd) => self.issue_sk(cmd, formation, services)?,
            CommunityCommand::RevokeSk(cmd) => self.revoke_sk(cmd)?,
            CommunityCommand::AssignRegistrationNumber(cmd) => {
                self.assign_number(cmd, formation, services)?
            }
            CommunityCommand::RecordBimtek(cmd) => record_bimtek(cmd, formation, services)?,
            CommunityCommand::RecordActivity(cmd) => self.record_activity(cmd)?,
            CommunityCommand::RegisterMediaChannel(cmd) => self.register_channel(cmd)?,
            CommunityCommand::DeactivateMediaChannel(cmd) => self.deactivate_channel(cmd)?,
            CommunityCommand::RegisterEBusiness(cmd) => self.register_e_business(cmd)?,
            CommunityCommand::DeactivateEBusiness(cmd) => self.deactivate_e_business(cmd)?,
            CommunityCommand::AdvanceStage(cmd) => self.advance(cmd, services)?,
            CommunityCommand::LowerStage(cmd) => self.lower(cmd)?,
            CommunityCommand::SuspendCommunity(cmd) => suspend(cmd),
            CommunityCommand::ReactivateCommunity(cmd) => reactivate(cmd),
            CommunityCommand::DissolveCommunity(cmd) => dissolve(cmd),
        };
        Ok(vec![event])
    }

    /// A dissolved KIM accepts nothing; a suspended one only reactivation or dissolution; an
    /// active one anything but reactivation.
    fn check_status(&self, command: &CommunityCommand) -> Result<(), DomainError> {
        let is_reactivation = matches!(command, CommunityCommand::ReactivateCommunity(_));
        match self.status {
            CommunityStatus::Dissolved => Err(DomainError::lifecycle(
                ErrorKind::Dissolved,
                "status",
                "the KIM is dissolved and accepts no more commands",
            )),
            CommunityStatus::Suspended
                if !is_reactivation
                    && !matches!(command, CommunityCommand::DissolveCommunity(_)) =>
            {
                Err(DomainError::lifecycle(
                    ErrorKind::Suspended,
                    "status",
                    format!(
                        "the KIM is suspended; only reactivation or dissolution is accepted, not {}",
                        command.name()
                    ),
                ))
            }
            CommunityStatus::Active if is_reactivation => Err(DomainError::invalid(
                "status",
                "the KIM is active; only a suspended KIM can be reactivated",
            )),
            _ => Ok(()),
        }
    }

    fn form(
        &self,
        cmd: &FormCommunity,
        services: &CommunityServices,
    ) -> Result<CommunityEvent, DomainError> {
        rules::r1_member_count(&services.policy, cmd.member_count)?;
        rules::r2_village(services.regions.as_ref(), &cmd.village)?;
        rules::r3_initiator(cmd.recorded_by_role, cmd.initiated_by.as_deref())?;
        let initiated_by = optional_text("initiated_by", cmd.initiated_by.as_deref())?
            .unwrap_or_else(|| rules::COMMUNITY_INITIATOR.to_owned());
        let origin_group = optional_text("origin_group", cmd.origin_group.as_deref())?;
        Ok(CommunityEvent::CommunityFormed(CommunityFormed {
            name: cmd.name.clone(),
            village: cmd.village.clone(),
            region_edition: services.regions.edition().to_owned(),
            formed_on: cmd.formed_on,
            origin_group,
            member_count: cmd.member_count,
            initiated_by,
            recorded_by_role: cmd.recorded_by_role,
            on_behalf_of_community: cmd.recorded_by_role.is_government(),
            stage: Stage::Kim1,
            policy_version: services.policy.version.clone(),
        }))
    }

    fn appoint(&self, cmd: AppointOfficer) -> Result<CommunityEvent, DomainError> {
        // The sealed values must be sealed for this very person, or erasing the person's key
        // (crypto-shredding) would leave another person's data readable, or this one's unreadable.
        if cmd.name.person_id != cmd.person_id {
            return Err(DomainError::invalid(
                "name",
                "the name is sealed for another person than person_id",
            ));
        }
        if cmd
            .contact
            .as_ref()
            .is_some_and(|contact| contact.person_id != cmd.person_id)
        {
            return Err(DomainError::invalid(
                "contact",
                "the contact is sealed for another person than person_id",
            ));
        }
        let bidang = match (cmd.role, optional_text("bidang", cmd.bidang.as_deref())?) {
            (OfficerRole::KepalaBidang, Some(bidang)) => Some(bidang),
            (OfficerRole::KepalaBidang, None) => {
                return Err(DomainError::invalid(
                    "bidang",
                    "a kepala bidang must name the field (bidang) they head",
                ));
            }
            (role, Some(_)) => {
                return Err(DomainError::invalid(
                    "bidang",
                    format!(
                        "only a kepala bidang heads a field, not a {}",
                        role.as_str()
                    ),
                ));
            }
            (_, None) => None,
        };
        rules::r4_eligibility(&cmd.eligibility)?;
        let active: Vec<(Uuid, OfficerRole)> = self.active_officers().collect();
        rules::r5_one_holder(&active, cmd.person_id, cmd.role)?;
        Ok(CommunityEvent::OfficerAppointed(OfficerAppointed {
            person_id: cmd.person_id,
            role: cmd.role,
            bidang,
            name: cmd.name,
            contact: cmd.contact,
            appointed_on: cmd.appointed_on,
            eligibility: cmd.eligibility,
        }))
    }

    fn dismiss(&self, cmd: DismissOfficer) -> Result<CommunityEvent, DomainError> {
        let office = self.officers.get(&cmd.person_id);
        rules::r10_active_officer(office.is_some())?;
        let Some(office) = office else {
            // The rule above has just rejected this case; this only satisfies the type.
            return Err(DomainError::invalid("person_id", "not an active officer"));
        };
        let role = office.role;
        Ok(CommunityEvent::OfficerDismissed(OfficerDismissed {
            person_id: cmd.person_id,
            role,
            dismissed_on: cmd.dismissed_on,
            reason: cmd.reason,
        }))
    }

    fn update_members(
        &self,
        cmd: UpdateMemberCount,
        services: &CommunityServices,
    ) -> Result<CommunityEvent, DomainError> {
        rules::r1_member_count(&services.policy, cmd.member_count)?;
        if cmd.member_count == self.member_count {
            return Err(DomainError::invalid(
                "member_count",
                format!("the KIM already has {} members", self.member_count),
            ));
        }
        Ok(CommunityEvent::MemberCountUpdated(MemberCountUpdated {
            member_count: cmd.member_count,
            previous: self.member_count,
            effective_on: cmd.effective_on,
        }))
    }

    fn issue_sk(
        &self,
        cmd: IssueSk,
        formation: &Formation,
        services: &CommunityServices,
    ) -> Result<CommunityEvent, DomainError> {
        let signed_by =
            optional_text("signed_by", Some(cmd.signed_by.as_str()))?.ok_or_else(|| {
                DomainError::invalid(
                    "signed_by",
                    "the signing office must be named (e.g. Kepala Desa Sardonoharjo)",
                )
            })?;
        rules::r10_no_active_sk(self.sk.as_ref().map(|sk| &sk.number))?;
        let roles: Vec<OfficerRole> = self.active_officers().map(|(_, role)| role).collect();
        rules::r6_sk_prerequisites(&roles, self.member_count, &services.policy)?;
        rules::r7_issuing_office(&formation.village, &cmd.issuing_office)?;
        Ok(CommunityEvent::SkIssued(SkIssued {
            number: cmd.number,
            issued_on: cmd.issued_on,
            subject: cmd.subject,
            issuing_office: cmd.issuing_office,
            region_edition: services.regions.edition().to_owned(),
            signed_by,
            roster_acknowledged: cmd.roster_acknowledged,
        }))
    }

    fn revoke_sk(&self, cmd: RevokeSk) -> Result<CommunityEvent, DomainError> {
        let number = self.sk.as_ref().map(|sk| &sk.number);
        rules::r10_active_sk(number)?;
        let Some(number) = number else {
            // The rule above has just rejected this case; this only satisfies the type.
            return Err(DomainError::invalid("sk", "the KIM has no active SK"));
        };
        Ok(CommunityEvent::SkRevoked(SkRevoked {
            number: number.clone(),
            revoked_on: cmd.revoked_on,
            reason: cmd.reason,
        }))
    }

    fn assign_number(
        &self,
        cmd: AssignRegistrationNumber,
        formation: &Formation,
        services: &CommunityServices,
    ) -> Result<CommunityEvent, DomainError> {
        rules::r8_registration(
            self.sk.as_ref().map(|sk| &sk.number),
            self.registration_number(),
            &formation.village,
            &cmd.regency,
        )?;
        Ok(CommunityEvent::RegistrationNumberAssigned(
            RegistrationNumberAssigned {
                number: cmd.number,
                regency: cmd.regency,
                region_edition: services.regions.edition().to_owned(),
                assigned_on: cmd.assigned_on,
            },
        ))
    }

    fn record_activity(&self, cmd: RecordActivity) -> Result<CommunityEvent, DomainError> {
        if self.activities.contains_key(&cmd.activity_id) {
            return Err(DomainError::invalid(
                "activity_id",
                "an activity with this id is already recorded",
            ));
        }
        if let Some(participants) = cmd.participants {
            // Leave it empty when unknown.
            rules::plausible_participants(participants, "an activity")?;
        }
        Ok(CommunityEvent::ActivityRecorded(ActivityRecorded {
            activity_id: cmd.activity_id,
            kind: cmd.kind,
            title: cmd.title,
            held_on: cmd.held_on,
            participants: cmd.participants,
        }))
    }

    fn register_channel(&self, cmd: RegisterMediaChannel) -> Result<CommunityEvent, DomainError> {
        if self.media_channels.contains_key(&cmd.channel_id) {
            return Err(DomainError::invalid(
                "channel_id",
                "a media channel with this id is already registered",
            ));
        }
        Ok(CommunityEvent::MediaChannelRegistered(
            MediaChannelRegistered {
                channel_id: cmd.channel_id,
                kind: cmd.kind,
                name: cmd.name,
                url: optional_url(cmd.url.as_deref())?,
                registered_on: cmd.registered_on,
            },
        ))
    }

    fn deactivate_channel(
        &self,
        cmd: DeactivateMediaChannel,
    ) -> Result<CommunityEvent, DomainError> {
        let active = self
            .media_channels
            .get(&cmd.channel_id)
            .is_some_and(|c| c.active);
        rules::r10_active_media_channel(active)?;
        Ok(CommunityEvent::MediaChannelDeactivated(
            MediaChannelDeactivated {
                channel_id: cmd.channel_id,
                deactivated_on: cmd.deactivated_on,
                reason: cmd.reason,
            },
        ))
    }

    fn register_e_business(&self, cmd: RegisterEBusiness) -> Result<CommunityEvent, DomainError> {
        if self.e_businesses.contains_key(&cmd.enterprise_id) {
            return Err(DomainError::invalid(
                "enterprise_id",
                "an e-business with this id is already registered",
            ));
        }
        Ok(CommunityEvent::EBusinessRegistered(EBusinessRegistered {
            enterprise_id: cmd.enterprise_id,
            name: cmd.name,
            platform: cmd.platform,
            url: optional_url(cmd.url.as_deref())?,
            registered_on: cmd.registered_on,
        }))
    }

    fn deactivate_e_business(
        &self,
        cmd: DeactivateEBusiness,
    ) -> Result<CommunityEvent, DomainError> {
        let active = self
            .e_businesses
            .get(&cmd.enterprise_id)
            .is_some_and(|e| e.active);
        rules::r10_active_e_business(active)?;
        Ok(CommunityEvent::EBusinessDeactivated(EBusinessDeactivated {
            enterprise_id: cmd.enterprise_id,
            deactivated_on: cmd.deactivated_on,
            reason: cmd.reason,
        }))
    }

    fn advance(
        &self,
        cmd: AdvanceStage,
        services: &CommunityServices,
    ) -> Result<CommunityEvent, DomainError> {
        rules::r9_next_stage(self.stage, cmd.to)?;
        rules::r9_assessor(cmd.assessed_by_role)?;
        rules::r9_legal(self.is_legal())?;
        rules::r9_evidence(
            &cmd.evidence,
            self.version,
            services.policy.evidence_for(cmd.to),
            |sequence, kind| self.satisfies_evidence(sequence, kind),
        )?;
        let mut evidence = cmd.evidence;
        evidence.sort_unstable();
        evidence.dedup();
        Ok(CommunityEvent::StageAdvanced(StageAdvanced {
            from: self.stage,
            to: cmd.to,
            assessed_on: cmd.assessed_on,
            evidence,
            policy_version: services.policy.version.clone(),
        }))
    }

    fn lower(&self, cmd: LowerStage) -> Result<CommunityEvent, DomainError> {
        rules::r9_lower_stage(self.stage, cmd.to)?;
        Ok(CommunityEvent::StageLowered(StageLowered {
            from: self.stage,
            to: cmd.to,
            assessed_on: cmd.assessed_on,
            reason: cmd.reason,
        }))
    }

    /// Folds one event into the state. Tolerates any sequence (an event before `CommunityFormed`,
    /// a dismissal of an unknown person) because the log, not this code, is the authority.
    fn fold(&mut self, event: CommunityEvent) {
        self.version = self.version.saturating_add(1);
        let sequence = self.version;
        match event {
            CommunityEvent::CommunityFormed(e) => {
                self.formation = Some(Formation {
                    name: e.name,
                    village: e.village,
                    formed_on: e.formed_on,
                });
                self.member_count = e.member_count;
                self.stage = e.stage;
                self.status = CommunityStatus::Active;
            }
            CommunityEvent::OfficerAppointed(e) => {
                self.officers.insert(
                    e.person_id,
                    Office {
                        role: e.role,
                        bidang: e.bidang,
                    },
                );
            }
            CommunityEvent::OfficerDismissed(e) => {
                self.officers.remove(&e.person_id);
            }
            CommunityEvent::MemberCountUpdated(e) => self.member_count = e.member_count,
            CommunityEvent::SkIssued(e) => {
                self.sk = Some(ActiveSk {
                    number: e.number,
                    issued_on: e.issued_on,
                });
            }
            CommunityEvent::SkRevoked(_) => self.sk = None,
            CommunityEvent::RegistrationNumberAssigned(e) => {
                self.registration = Some(Registration {
                    number: e.number,
                    regency: e.regency,
                });
            }
            CommunityEvent::BimtekAttended(_) => {
                self.bimtek_count = self.bimtek_count.saturating_add(1);
            }
            CommunityEvent::ActivityRecorded(e) => {
                self.activities.insert(
                    e.activity_id,
                    ActivityEntry {
                        sequence,
                        kind: e.kind,
                    },
                );
            }
            CommunityEvent::MediaChannelRegistered(e) => {
                self.media_channels.insert(
                    e.channel_id,
                    Listing {
                        sequence,
                        active: true,
                    },
                );
            }
            CommunityEvent::MediaChannelDeactivated(e) => {
                if let Some(channel) = self.media_channels.get_mut(&e.channel_id) {
                    channel.active = false;
                }
            }
            CommunityEvent::EBusinessRegistered(e) => {
                self.e_businesses.insert(
                    e.enterprise_id,
                    Listing {
                        sequence,
                        active: true,
                    },
                );
            }
            CommunityEvent::EBusinessDeactivated(e) => {
                if let Some(enterprise) = self.e_businesses.get_mut(&e.enterprise_id) {
                    enterprise.active = false;
                }
            }
            CommunityEvent::StageAdvanced(e) => self.stage = e.to,
            CommunityEvent::StageLowered(e) => self.stage = e.to,
            CommunityEvent::CommunitySuspended(_) => self.status = CommunityStatus::Suspended,
            CommunityEvent::CommunityReactivated(_) => self.status = CommunityStatus::Active,
            CommunityEvent::CommunityDissolved(_) => self.status = CommunityStatus::Dissolved,
        }
    }
}

impl Default for Community {
    /// The state before any event: not formed, at KIM 1 (where every KIM starts), active.
    fn default() -> Self {
        Self {
            formation: None,
            member_count: 0,
            stage: Stage::Kim1,
            status: CommunityStatus::Active,
            officers: BTreeMap::new(),
            sk: None,
            registration: None,
            activities: BTreeMap::new(),
            media_channels: BTreeMap::new(),
            e_businesses: BTreeMap::new(),
            bimtek_count: 0,
            version: 0,
        }
    }
}

impl Aggregate for Community {
    const TYPE: &'static str = "Community";
    type Command = CommunityCommand;
    type Event = CommunityEvent;
    type Error = DomainError;
    type Services = CommunityServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.fold(event);
    }
}

/// The answer to `FormCommunity` on a KIM that exists.
fn already_formed(formation: &Formation) -> DomainError {
    DomainError::lifecycle(
        ErrorKind::AlreadyFormed,
        "community_id",
        format!("the KIM {} is already formed", formation.name),
    )
}

/// Bimtek attendance: at least one participant, organised by a province or kabupaten/kota Dinas
/// whose region contains the KIM's desa/kelurahan.
fn record_bimtek(
    cmd: RecordBimtek,
    formation: &Formation,
    services: &CommunityServices,
) -> Result<CommunityEvent, DomainError> {
    rules::plausible_participants(cmd.participants, "a bimtek")?;
    let organizer = services.regions.lookup(&cmd.organizer_region);
    let Some(organizer) = organizer else {
        return Err(DomainError::invalid(
            "organizer_region",
            format!(
                "region code {} does not exist in edition {}",
                cmd.organizer_region,
                services.regions.edition()
            ),
        ));
    };
    if !matches!(
        organizer.level,
        RegionLevel::Province | RegionLevel::Regency
    ) {
        return Err(DomainError::invalid(
            "organizer_region",
            format!(
                "a bimtek is organised by a province or kabupaten/kota Dinas, not a {} ({})",
                organizer.kind, organizer.name
            ),
        ));
    }
    if !formation.village.is_within(&cmd.organizer_region) {
        return Err(DomainError::invalid(
            "organizer_region",
            format!(
                "the KIM's desa/kelurahan {} is outside the organiser's region {}",
                formation.village, cmd.organizer_region
            ),
        ));
    }
    Ok(CommunityEvent::BimtekAttended(BimtekAttended {
        session_id: cmd.session_id,
        kind: cmd.kind,
        title: cmd.title,
        held_on: cmd.held_on,
        organizer_region: cmd.organizer_region,
        region_edition: services.regions.edition().to_owned(),
        participants: cmd.participants,
    }))
}

fn suspend(cmd: SuspendCommunity) -> CommunityEvent {
    CommunityEvent::CommunitySuspended(CommunitySuspended {
        suspended_on: cmd.suspended_on,
        reason: cmd.reason,
    })
}

fn reactivate(cmd: ReactivateCommunity) -> CommunityEvent {
    CommunityEvent::CommunityReactivated(CommunityReactivated {
        reactivated_on: cmd.reactivated_on,
        reason: cmd.reason,
    })
}

fn dissolve(cmd: DissolveCommunity) -> CommunityEvent {
    CommunityEvent::CommunityDissolved(CommunityDissolved {
        dissolved_on: cmd.dissolved_on,
        reason: cmd.reason,
    })
}

/// The date a command carries and the name of its field; `None` only for `FormCommunity`, whose
/// date is the formation date itself.
/// The date a command states, and the field it came in.
fn command_date(command: &CommunityCommand) -> (&'static str, NaiveDate) {
    match command {
        CommunityCommand::FormCommunity(c) => ("formed_on", c.formed_on),
        CommunityCommand::AppointOfficer(c) => ("appointed_on", c.appointed_on),
        CommunityCommand::DismissOfficer(c) => ("dismissed_on", c.dismissed_on),
        CommunityCommand::UpdateMemberCount(c) => ("effective_on", c.effective_on),
        CommunityCommand::IssueSk(c) => ("issued_on", c.issued_on),
        CommunityCommand::RevokeSk(c) => ("revoked_on", c.revoked_on),
        CommunityCommand::AssignRegistrationNumber(c) => ("assigned_on", c.assigned_on),
        CommunityCommand::RecordBimtek(c) => ("held_on", c.held_on),
        CommunityCommand::RecordActivity(c) => ("held_on", c.held_on),
        CommunityCommand::RegisterMediaChannel(c) => ("registered_on", c.registered_on),
        CommunityCommand::DeactivateMediaChannel(c) => ("deactivated_on", c.deactivated_on),
        CommunityCommand::RegisterEBusiness(c) => ("registered_on", c.registered_on),
        CommunityCommand::DeactivateEBusiness(c) => ("deactivated_on", c.deactivated_on),
        CommunityCommand::AdvanceStage(c) => ("assessed_on", c.assessed_on),
        CommunityCommand::LowerStage(c) => ("assessed_on", c.assessed_on),
        CommunityCommand::SuspendCommunity(c) => ("suspended_on", c.suspended_on),
        CommunityCommand::ReactivateCommunity(c) => ("reactivated_on", c.reactivated_on),
        CommunityCommand::DissolveCommunity(c) => ("dissolved_on", c.dissolved_on),
    }
}

/// An optional free text, trimmed: blank becomes `None`, and overlong or control-character text
/// is rejected naming `field`, since plain `String` fields have no type to check them.
fn optional_text(field: &str, value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_FREE_TEXT {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_FREE_TEXT} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// An optional URL, trimmed: blank becomes `None`; whitespace inside or an overlong value is
/// rejected.
fn optional_url(value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(url) = value.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if url.chars().count() > MAX_URL || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DomainError::invalid(
            "url",
            format!("must be a single address of at most {MAX_URL} characters"),
        ));
    }
    // Only web addresses: a `javascript:` or `data:` URL would run in whoever opens it.
    let lower = url.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    if !host.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')) {
        return Err(DomainError::invalid(
            "url",
            "must be a web address starting with https:// or http://",
        ));
    }
    Ok(Some(url.to_owned()))
}

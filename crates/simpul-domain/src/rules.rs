//! The rules R1–R11 of `domain.md` ("Lifecycle and rules"), one small function per check.
//!
//! Each function looks only at the values it is given and returns `Ok(())` or a [`DomainError`]
//! naming the rule, the command field at fault and a plain-English message. The aggregate
//! ([`crate::Community::decide`]) gathers the values from its state and calls them in order, so the
//! first broken rule is the one reported.
//!
//! Two rules are not decided here:
//! - the uniqueness half of R8 (a nomor induk is unique within its kabupaten/kota, even under
//!   concurrent requests) needs every KIM of the kabupaten/kota, so the store enforces it;
//! - R11 (every event records who, with which role, when, why and from which request) is metadata
//!   that the store stamps on each event; the payloads here carry only the domain facts, plus the
//!   reason of every compensating or lifecycle event (R10), which the event types require.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::error::{DomainError, Rule};
use crate::events::Eligibility;
use crate::region::{RegionCode, RegionDirectory, RegionLevel};
use crate::roles::{ActorRole, OfficerRole};
use crate::stage::{Evidence, Stage, StagePolicy};
use crate::text::{RegistrationNumber, SkNumber};

/// Who initiated a KIM when its own activist records the formation without naming anyone (R3).
pub const COMMUNITY_INITIATOR: &str = "pengurus KIM";

/// R1 (`domain.md` §1 "Formed" and §3 "Members updated"): the member count is within the range of
/// the stage policy in force (3–30, seed 002).
pub fn r1_member_count(policy: &StagePolicy, member_count: u32) -> Result<(), DomainError> {
    if policy.allows_member_count(member_count) {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R1,
            "member_count",
            format!(
                "a KIM has from {} to {} members (stage policy {}), not {member_count}",
                policy.member_min, policy.member_max, policy.version
            ),
        ))
    }
}

/// R2 (`domain.md` §1 "Formed"): the anchor region code exists in the directory's edition and is a
/// desa/kelurahan, not a province, kabupaten/kota or kecamatan.
pub fn r2_village(regions: &dyn RegionDirectory, village: &RegionCode) -> Result<(), DomainError> {
    let Some(info) = regions.lookup(village) else {
        return Err(DomainError::rule(
            Rule::R2,
            "village",
            format!(
                "region code {village} does not exist in edition {}",
                regions.edition()
            ),
        ));
    };
    if info.level == RegionLevel::Village {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R2,
            "village",
            format!(
                "region code {village} is a {} ({}); a KIM is anchored in a desa/kelurahan",
                info.kind, info.name
            ),
        ))
    }
}

/// R3 (`domain.md` §1 "Formed"): a KIM is formed by the community. A government role may record the
/// formation on the community's behalf, but must then name who in the community initiated it.
pub fn r3_initiator(
    recorded_by_role: ActorRole,
    initiated_by: Option<&str>,
) -> Result<(), DomainError> {
    let named = initiated_by.is_some_and(|who| !who.trim().is_empty());
    if recorded_by_role.is_government() && !named {
        Err(DomainError::rule(
            Rule::R3,
            "initiated_by",
            format!(
                "a KIM is formed by its community: a {recorded_by_role} operator recording it on \
                 the community's behalf must name who initiated it"
            ),
        ))
    } else {
        Ok(())
    }
}

/// R4 (`domain.md` §2 "Officers appointed"): each appointee is attested not to be a civil servant,
/// not involved in crime, and affiliated with neither a political party nor an NGO (seed 001).
pub fn r4_eligibility(eligibility: &Eligibility) -> Result<(), DomainError> {
    let attestations = [
        (
            eligibility.not_asn,
            "eligibility.not_asn",
            "an officer must not be a civil servant (bukan ASN)",
        ),
        (
            eligibility.no_criminal_record,
            "eligibility.no_criminal_record",
            "an officer must not be involved in criminal acts",
        ),
        (
            eligibility.no_party_affiliation,
            "eligibility.no_party_affiliation",
            "an officer must not be affiliated with a political party",
        ),
        (
            eligibility.no_ngo_affiliation,
            "eligibility.no_ngo_affiliation",
            "an officer must not be affiliated with an NGO (LSM)",
        ),
    ];
    match attestations.into_iter().find(|(attested, _, _)| !attested) {
        Some((_, field, message)) => Err(DomainError::rule(Rule::R4, field, message)),
        None => Ok(()),
    }
}

/// R5 (`domain.md` §2 "Officers appointed"): at most one active ketua, sekretaris and bendahara at a
/// time, and a person holds one office at a time. `active` lists the active officers.
pub fn r5_one_holder(
    active: &[(Uuid, OfficerRole)],
    person_id: Uuid,
    role: OfficerRole,
) -> Result<(), DomainError> {
    if let Some((_, held)) = active.iter().find(|(person, _)| *person == person_id) {
        return Err(DomainError::rule(
            Rule::R5,
            "person_id",
            format!(
                "this person is already an active {}; dismiss them from that office first",
                held.as_str()
            ),
        ));
    }
    if role.is_unique() && active.iter().any(|(_, held)| *held == role) {
        return Err(DomainError::rule(
            Rule::R5,
            "role",
            format!(
                "the KIM already has an active {}; dismiss them before appointing another",
                role.as_str()
            ),
        ));
    }
    Ok(())
}

/// R6 (`domain.md` §4 "SK issued"): an SK needs an active ketua, sekretaris and bendahara (the first
/// missing one, in that order, is reported) and a member count the policy allows.
pub fn r6_sk_prerequisites(
    active_roles: &[OfficerRole],
    member_count: u32,
    policy: &StagePolicy,
) -> Result<(), DomainError> {
    if let Some(missing) = OfficerRole::CORE
        .into_iter()
        .find(|role| !active_roles.contains(role))
    {
        return Err(DomainError::rule(
            Rule::R6,
            format!("officers.{}", missing.as_str()),
            format!(
                "an SK needs an active ketua, sekretaris and bendahara; the KIM has no active {}",
                missing.as_str()
            ),
        ));
    }
    if !policy.allows_member_count(member_count) {
        return Err(DomainError::rule(
            Rule::R6,
            "member_count",
            format!(
                "an SK needs a member count from {} to {} (stage policy {}); the KIM has {member_count}",
                policy.member_min, policy.member_max, policy.version
            ),
        ));
    }
    Ok(())
}

/// R7 (`domain.md` §4 "SK issued"): the SK's issuing office is the KIM's own desa/kelurahan.
pub fn r7_issuing_office(
    village: &RegionCode,
    issuing_office: &RegionCode,
) -> Result<(), DomainError> {
    if issuing_office == village {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R7,
            "issuing_office",
            format!(
                "the SK must be issued by the KIM's own desa/kelurahan {village}, not {issuing_office}"
            ),
        ))
    }
}

/// R8 (`domain.md` §5 "Nomor induk assigned"): a nomor induk needs an active SK, is assigned by the
/// Dinas of the KIM's own kabupaten/kota, and is assigned once. Its uniqueness within the
/// kabupaten/kota is enforced by the store, which sees every KIM.
pub fn r8_registration(
    active_sk: Option<&SkNumber>,
    assigned: Option<&RegistrationNumber>,
    village: &RegionCode,
    regency: &RegionCode,
) -> Result<(), DomainError> {
    if active_sk.is_none() {
        return Err(DomainError::rule(
            Rule::R8,
            "sk",
            "a nomor induk needs an active SK from the village head",
        ));
    }
    let own_regency = village.ancestor_at(RegionLevel::Regency);
    if own_regency.as_ref() != Some(regency) {
        let own = own_regency.map_or_else(|| "unknown".to_owned(), |code| code.to_string());
        return Err(DomainError::rule(
            Rule::R8,
            "regency",
            format!(
                "the nomor induk is assigned by the Dinas of the KIM's own kabupaten/kota {own}, \
                 not {regency}"
            ),
        ));
    }
    if let Some(number) = assigned {
        return Err(DomainError::rule(
            Rule::R8,
            "number",
            format!("the KIM already has nomor induk {number}"),
        ));
    }
    Ok(())
}

/// R9 (`domain.md` §8 "Stage advanced"): a stage advances exactly one step at a time.
pub fn r9_next_stage(current: Stage, to: Stage) -> Result<(), DomainError> {
    match current.next() {
        Some(next) if next == to => Ok(()),
        Some(next) => Err(DomainError::rule(
            Rule::R9,
            "to",
            format!("a KIM advances one stage at a time: from {current} only to {next}, not {to}"),
        )),
        None => Err(DomainError::rule(
            Rule::R9,
            "to",
            format!("{current} is the highest stage"),
        )),
    }
}

/// R9 (`domain.md` §8 "Stage advanced"): the assessment is made by the regency operator (or an
/// administrator acting for one).
pub fn r9_assessor(assessed_by_role: ActorRole) -> Result<(), DomainError> {
    if matches!(assessed_by_role, ActorRole::Regency | ActorRole::Admin) {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R9,
            "assessed_by_role",
            format!(
                "a stage is assessed by the regency operator (Diskominfo Kabupaten/Kota), \
                 not by a {assessed_by_role}"
            ),
        ))
    }
}

/// R9 (`domain.md` §8 "Stage advanced"): only a legal KIM (active SK and nomor induk) advances past
/// KIM 1.
pub fn r9_legal(is_legal: bool) -> Result<(), DomainError> {
    if is_legal {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R9,
            "legal",
            "only a legal KIM (with an active SK and a nomor induk) advances past KIM 1",
        ))
    }
}

/// R9 (`domain.md` §8 "Stage advanced"): the assessment cites this KIM's events as evidence. Every
/// cited sequence number must exist (`1..=version`), and when the policy requires evidence for the
/// target stage at least one cited event must satisfy it (`satisfies` answers for one sequence).
pub fn r9_evidence(
    evidence: &[u64],
    version: u64,
    required: Option<Evidence>,
    satisfies: impl Fn(u64, Evidence) -> bool,
) -> Result<(), DomainError> {
    if evidence.is_empty() {
        return Err(DomainError::rule(
            Rule::R9,
            "evidence",
            "an assessment must cite at least one of the KIM's events as evidence",
        ));
    }
    if let Some(unknown) = evidence
        .iter()
        .find(|sequence| !(1..=version).contains(*sequence))
    {
        return Err(DomainError::rule(
            Rule::R9,
            "evidence",
            format!("event {unknown} is not one of this KIM's {version} events"),
        ));
    }
    match required {
        Some(kind) if !evidence.iter().any(|sequence| satisfies(*sequence, kind)) => {
            Err(DomainError::rule(
                Rule::R9,
                "evidence",
                format!(
                    "none of the cited events is {}",
                    match kind {
                        Evidence::DevelopmentAgentActivity => "a development-agent activity",
                        Evidence::ActiveMediaChannel => "a still-active new-media channel",
                        Evidence::ActiveEBusiness => "a still-active e-business",
                    }
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// R9 (`domain.md` §8 "Stage lowered"): lowering goes to a stage below the current one (the reason
/// is required by the command's type).
pub fn r9_lower_stage(current: Stage, to: Stage) -> Result<(), DomainError> {
    if to < current {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R9,
            "to",
            format!("a stage is lowered to one below {current}, not to {to}"),
        ))
    }
}

/// R10 (`domain.md` "Lifecycle and rules"): a dismissal corrects an active appointment, so the
/// person must be an active officer.
pub fn r10_active_officer(is_active: bool) -> Result<(), DomainError> {
    if is_active {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R10,
            "person_id",
            "this person is not an active officer of the KIM",
        ))
    }
}

/// R10 (`domain.md` "Lifecycle and rules"): an SK is never replaced in place; a new one is issued
/// only after the active one is revoked, with a reason.
pub fn r10_no_active_sk(active_sk: Option<&SkNumber>) -> Result<(), DomainError> {
    match active_sk {
        Some(number) => Err(DomainError::rule(
            Rule::R10,
            "number",
            format!(
                "SK {number} is still active; revoke it, with a reason, before issuing another"
            ),
        )),
        None => Ok(()),
    }
}

/// R10 (`domain.md` "Lifecycle and rules"): a revocation compensates an active SK.
pub fn r10_active_sk(active_sk: Option<&SkNumber>) -> Result<(), DomainError> {
    match active_sk {
        Some(_) => Ok(()),
        None => Err(DomainError::rule(
            Rule::R10,
            "sk",
            "the KIM has no active SK to revoke",
        )),
    }
}

/// R10 (`domain.md` "Lifecycle and rules"): a deactivation compensates a registered, still-active
/// media channel.
pub fn r10_active_media_channel(is_active: bool) -> Result<(), DomainError> {
    if is_active {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R10,
            "channel_id",
            "the KIM has no active media channel with this id",
        ))
    }
}

/// R10 (`domain.md` "Lifecycle and rules"): a deactivation compensates a registered, still-active
/// e-business.
pub fn r10_active_e_business(is_active: bool) -> Result<(), DomainError> {
    if is_active {
        Ok(())
    } else {
        Err(DomainError::rule(
            Rule::R10,
            "enterprise_id",
            "the KIM has no active e-business with this id",
        ))
    }
}

/// The earliest date a command may state: the proclamation of independence (17 August 1945).
/// No KIM, SK, bimtek or nomor induk is older.
pub fn earliest_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1945, 8, 17).unwrap_or(NaiveDate::MIN)
}

/// The latest date a command may state: 31 December 2099. The domain has no clock, so "the
/// future" is a fixed bound, far enough for any plan and near enough for every store and read
/// model to hold it.
pub fn latest_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2099, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// Every date a command states lies within [`earliest_date`] ..= [`latest_date`].
pub fn plausible_date(field: &str, date: NaiveDate) -> Result<(), DomainError> {
    let (earliest, latest) = (earliest_date(), latest_date());
    if date < earliest || date > latest {
        return Err(DomainError::invalid(
            field,
            format!("{date} is outside the dates Simpul records ({earliest} to {latest})"),
        ));
    }
    Ok(())
}

/// The most participants a bimtek or an activity may count (a large hall; the national events
/// of the sources count hundreds).
pub const MAX_PARTICIPANTS: u32 = 10_000;

/// A participant count, when given, is from 1 to [`MAX_PARTICIPANTS`].
pub fn plausible_participants(participants: u32, what: &str) -> Result<(), DomainError> {
    if participants == 0 {
        return Err(DomainError::invalid(
            "participants",
            format!("{what} has at least one participant"),
        ));
    }
    if participants > MAX_PARTICIPANTS {
        return Err(DomainError::invalid(
            "participants",
            format!("{participants} is more than the {MAX_PARTICIPANTS} participants Simpul records for {what}"),
        ));
    }
    Ok(())
}

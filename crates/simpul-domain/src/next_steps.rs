//! *Langkah berikutnya* (next steps): what the rules still require of a KIM for legal standing
//! (SK and nomor induk) and for its next maturity stage.
//!
//! [`next_steps`] is a pure reading of a folded [`Community`] under a [`StagePolicy`]: it decides
//! nothing and records nothing. It asks the same questions [`Community::decide`] asks when an SK
//! is issued (R6), a nomor induk assigned (R8) or a stage advanced (R9), through the same rule
//! functions and state predicates, so an empty list means the aggregate would accept the step.

use serde::{Deserialize, Serialize};

use crate::aggregate::{Community, CommunityStatus};
use crate::error::Rule;
use crate::roles::OfficerRole;
use crate::rules;
use crate::stage::{Evidence, Stage, StagePolicy};

/// The most hypothetical evidence events [`evidence_shortfall`] asks the R9 rule about. Far above
/// what any stage policy asks for (one, seed 000); a rule needing more would be reported as
/// needing this many.
const EVIDENCE_PROBE_LIMIT: u32 = 64;

/// One thing a rule still requires of the KIM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// R6: an SK needs an active holder of this office (ketua, sekretaris or bendahara).
    NeedsOfficer {
        /// The vacant office.
        role: OfficerRole,
    },
    /// R6 (and R1): an SK needs a member count within the policy's range.
    MemberCountOutOfRange {
        /// The KIM's member count.
        count: u32,
        /// Smallest count the policy allows.
        min: u32,
        /// Largest count the policy allows.
        max: u32,
    },
    /// R8: a nomor induk needs an active SK from the village head.
    NeedsSk,
    /// R8: the Dinas of the KIM's kabupaten/kota has yet to assign the nomor induk; with it and
    /// an SK the KIM is legal (*berbadan legal*).
    NeedsNomorInduk,
    /// R9: only a legal KIM (active SK and nomor induk) advances past KIM 1.
    MustBeLegal {
        /// The stage the KIM would advance to.
        to: Stage,
    },
    /// R9: the assessment for `to` must cite evidence of this kind, and the KIM has too little.
    NeedsEvidence {
        /// The stage the evidence is for.
        to: Stage,
        /// The kind of evidence the policy asks for that stage.
        evidence: Evidence,
        /// How many more such events the KIM needs.
        needed: u32,
    },
}

impl Step {
    /// The rule of `domain.md` that requires this step.
    pub fn rule(&self) -> Rule {
        match self {
            Step::NeedsOfficer { .. } | Step::MemberCountOutOfRange { .. } => Rule::R6,
            Step::NeedsSk | Step::NeedsNomorInduk => Rule::R8,
            Step::MustBeLegal { .. } | Step::NeedsEvidence { .. } => Rule::R9,
        }
    }
}

/// Why no step can be taken now, whatever the rules require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocker {
    /// No KIM was formed under this id: it must be formed first.
    NotFormed,
    /// The KIM is suspended: it must be reactivated first, since a suspended KIM accepts only
    /// reactivation or dissolution. The steps listed apply once it is.
    Suspended,
    /// The KIM is dissolved and accepts no more commands: there is nothing further.
    Dissolved,
}

/// The next maturity stage and what R9 still requires to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSteps {
    /// The stage one step up from the current one.
    pub to: Stage,
    /// What is missing; empty when the KIM is ready for the regency operator's assessment.
    pub steps: Vec<Step>,
}

/// What the rules still require of a KIM (*langkah berikutnya*).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextSteps {
    /// Set when the KIM's lifecycle stops every step: not formed, suspended or dissolved.
    pub blocked_by: Option<Blocker>,
    /// What legal standing (SK and nomor induk) still needs, in order (R6, R8); empty when the
    /// KIM is legal. Empty when not formed or dissolved.
    pub legal: Vec<Step>,
    /// The next stage and what it still needs (R9); `None` at KIM 4, the highest stage, and when
    /// not formed or dissolved.
    pub stage: Option<StageSteps>,
}

impl NextSteps {
    /// Whether the regency operator can assess the KIM for its next stage now: it is active,
    /// below KIM 4, and R9 requires nothing more.
    pub fn is_ready_for_assessment(&self) -> bool {
        self.blocked_by.is_none()
            && self
                .stage
                .as_ref()
                .is_some_and(|next| next.steps.is_empty())
    }
}

/// What R6, R8 and R9 still require of `community` under `policy` (the stage policy in force, as
/// handed to the aggregate in [`crate::CommunityServices`]).
///
/// Legal steps, in the order they can be taken: each vacant core office (ketua, sekretaris,
/// bendahara) and a member count outside the policy's range (R6) while there is no active SK,
/// then the SK itself and the nomor induk (R8). R6 is checked when an SK is issued, so an office
/// falling vacant while an SK is in force is not a step until that SK is revoked.
///
/// Stage steps, for the stage one above the current one: legal standing, then the evidence the
/// policy asks for that stage (R9). The evidence kind comes from [`StagePolicy::evidence_for`]
/// and the count from [`rules::r9_evidence`] itself, the function the aggregate's stage advance
/// calls.
pub fn next_steps(community: &Community, policy: &StagePolicy) -> NextSteps {
    let blocked_by = match (community.is_formed(), community.status()) {
        (false, _) => Some(Blocker::NotFormed),
        (true, CommunityStatus::Dissolved) => Some(Blocker::Dissolved),
        (true, CommunityStatus::Suspended) => Some(Blocker::Suspended),
        (true, CommunityStatus::Active) => None,
    };
    if matches!(blocked_by, Some(Blocker::NotFormed | Blocker::Dissolved)) {
        return NextSteps {
            blocked_by,
            legal: Vec::new(),
            stage: None,
        };
    }
    NextSteps {
        blocked_by,
        legal: legal_steps(community, policy),
        stage: stage_steps(community, policy),
    }
}

/// R6 (while there is no active SK) and R8, in the order the aggregate checks them.
fn legal_steps(community: &Community, policy: &StagePolicy) -> Vec<Step> {
    let mut steps = Vec::new();
    if community.active_sk().is_none() {
        steps.extend(
            OfficerRole::CORE
                .into_iter()
                .filter(|role| community.holder_of(*role).is_none())
                .map(|role| Step::NeedsOfficer { role }),
        );
        let count = community.member_count();
        if !policy.allows_member_count(count) {
            steps.push(Step::MemberCountOutOfRange {
                count,
                min: policy.member_min,
                max: policy.member_max,
            });
        }
        steps.push(Step::NeedsSk);
    }
    if community.registration_number().is_none() {
        steps.push(Step::NeedsNomorInduk);
    }
    steps
}

/// R9 for the stage one above the current one; `None` at the highest stage.
fn stage_steps(community: &Community, policy: &StagePolicy) -> Option<StageSteps> {
    let to = community.stage().next()?;
    let mut steps = Vec::new();
    if rules::r9_legal(community.is_legal()).is_err() {
        steps.push(Step::MustBeLegal { to });
    }
    if let Some(evidence) = policy.evidence_for(to) {
        let needed = evidence_shortfall(community, evidence);
        if needed > 0 {
            steps.push(Step::NeedsEvidence {
                to,
                evidence,
                needed,
            });
        }
    }
    Some(StageSteps { to, steps })
}

/// How many more events of `kind` the KIM needs before [`rules::r9_evidence`] accepts an
/// assessment citing them; 0 when it already would.
///
/// The rule is asked rather than restated, so the threshold ("≥ 1", seed 000) lives only there.
/// It is given every event that is evidence of `kind` today (as [`Community::satisfies_evidence`]
/// decides, the predicate the aggregate hands it) plus `more` hypothetical later events of that
/// kind, for `more` = 0, 1, 2, …; the first `more` it accepts is the shortfall.
fn evidence_shortfall(community: &Community, kind: Evidence) -> u32 {
    let version = community.version();
    let held: Vec<u64> = (1..=version)
        .filter(|sequence| community.satisfies_evidence(*sequence, kind))
        .collect();
    let accepts = |more: u32| {
        let last = version.saturating_add(u64::from(more));
        let cited: Vec<u64> = held
            .iter()
            .copied()
            .chain(version.saturating_add(1)..=last)
            .collect();
        rules::r9_evidence(&cited, last, Some(kind), |sequence, wanted| {
            sequence > version || community.satisfies_evidence(sequence, wanted)
        })
        .is_ok()
    };
    (0..=EVIDENCE_PROBE_LIMIT)
        .find(|more| accepts(*more))
        .unwrap_or(EVIDENCE_PROBE_LIMIT)
}

#[cfg(test)]
mod tests {
    //! Given a KIM folded from its events, when its next steps are read, then exactly these.

    use std::sync::Arc;

    use chrono::NaiveDate;
    use cqrs_es::Aggregate;
    use uuid::Uuid;

    use super::*;
    use crate::commands::{AdvanceStage, CommunityCommand};
    use crate::events::{
        ActivityKind, ActivityRecorded, CommunityDissolved, CommunityEvent, CommunityFormed,
        CommunitySuspended, EBusinessRegistered, Eligibility, MediaChannelDeactivated,
        MediaChannelKind, MediaChannelRegistered, OfficerAppointed, OfficerDismissed,
        RegistrationNumberAssigned, SkIssued, SkRevoked, StageAdvanced,
    };
    use crate::region::{RegionCode, RegionDirectory, RegionInfo};
    use crate::roles::ActorRole;
    use crate::sealed::DataKey;
    use crate::services::CommunityServices;
    use crate::text::{CommunityName, Reason, RegistrationNumber, SkNumber, Title};
    use crate::ErrorKind;

    // -----------------------------------------------------------------------------------------
    // Fixtures: the events of KIM Pemping Bersatu (Pemping, Kota Batam), folded directly.
    // -----------------------------------------------------------------------------------------

    const PEMPING: &str = "21.71.01.1002";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn region(code: &str) -> RegionCode {
        RegionCode::parse(code).unwrap()
    }

    fn title(text: &str) -> Title {
        Title::parse(text).unwrap()
    }

    fn reason(text: &str) -> Reason {
        Reason::parse(text).unwrap()
    }

    /// Folds `events` into a KIM, as the store does.
    fn given(events: Vec<CommunityEvent>) -> Community {
        let mut community = Community::default();
        for event in events {
            community.apply(event);
        }
        community
    }

    /// The next steps under the policy in force.
    fn when_read(community: &Community) -> NextSteps {
        next_steps(community, &StagePolicy::current())
    }

    fn formed(member_count: u32) -> CommunityEvent {
        CommunityEvent::CommunityFormed(CommunityFormed {
            name: CommunityName::parse("KIM Pemping Bersatu").unwrap(),
            village: region(PEMPING),
            region_edition: "test-edition".to_owned(),
            formed_on: date(2025, 1, 15),
            origin_group: Some("Karang Taruna Pemping".to_owned()),
            member_count,
            initiated_by: "pengurus KIM".to_owned(),
            recorded_by_role: ActorRole::Pegiat,
            on_behalf_of_community: false,
            stage: Stage::Kim1,
            policy_version: StagePolicy::current().version,
        })
    }

    /// The appointment of `person_id` to `role`.
    fn appointed_as(person_id: Uuid, role: OfficerRole) -> CommunityEvent {
        CommunityEvent::OfficerAppointed(OfficerAppointed {
            person_id,
            role,
            bidang: (role == OfficerRole::KepalaBidang).then(|| "Bidang Media".to_owned()),
            name: DataKey::generate().seal(person_id, "Officer").unwrap(),
            contact: None,
            appointed_on: date(2025, 2, 1),
            eligibility: Eligibility {
                not_asn: true,
                no_criminal_record: true,
                no_party_affiliation: true,
                no_ngo_affiliation: true,
            },
        })
    }

    fn appointed(role: OfficerRole) -> CommunityEvent {
        appointed_as(Uuid::new_v4(), role)
    }

    fn dismissed(person_id: Uuid, role: OfficerRole) -> CommunityEvent {
        CommunityEvent::OfficerDismissed(OfficerDismissed {
            person_id,
            role,
            dismissed_on: date(2025, 4, 1),
            reason: reason("Pindah domisili"),
        })
    }

    fn sk_issued() -> CommunityEvent {
        CommunityEvent::SkIssued(SkIssued {
            number: SkNumber::parse("12/2025").unwrap(),
            issued_on: date(2025, 3, 3),
            subject: title("Pembentukan KIM Pemping Bersatu"),
            issuing_office: region(PEMPING),
            region_edition: "test-edition".to_owned(),
            signed_by: "Lurah Pemping".to_owned(),
            roster_acknowledged: true,
        })
    }

    fn sk_revoked() -> CommunityEvent {
        CommunityEvent::SkRevoked(SkRevoked {
            number: SkNumber::parse("12/2025").unwrap(),
            revoked_on: date(2025, 5, 1),
            reason: reason("Susunan pengurus berubah"),
        })
    }

    fn number_assigned() -> CommunityEvent {
        CommunityEvent::RegistrationNumberAssigned(RegistrationNumberAssigned {
            number: RegistrationNumber::parse("KIM-2171-0001").unwrap(),
            regency: region("21.71"),
            region_edition: "test-edition".to_owned(),
            assigned_on: date(2025, 4, 10),
        })
    }

    fn activity(kind: ActivityKind) -> CommunityEvent {
        CommunityEvent::ActivityRecorded(ActivityRecorded {
            activity_id: Uuid::new_v4(),
            kind,
            title: title("Sosialisasi program desa"),
            held_on: date(2025, 5, 5),
            participants: Some(20),
        })
    }

    fn channel_registered(channel_id: Uuid) -> CommunityEvent {
        CommunityEvent::MediaChannelRegistered(MediaChannelRegistered {
            channel_id,
            kind: MediaChannelKind::SocialMedia,
            name: title("@kimpempingbersatu"),
            url: Some("https://instagram.com/kimpempingbersatu".to_owned()),
            registered_on: date(2025, 6, 1),
        })
    }

    fn channel_deactivated(channel_id: Uuid) -> CommunityEvent {
        CommunityEvent::MediaChannelDeactivated(MediaChannelDeactivated {
            channel_id,
            deactivated_on: date(2025, 8, 1),
            reason: reason("Akun diretas"),
        })
    }

    fn e_business_registered() -> CommunityEvent {
        CommunityEvent::EBusinessRegistered(EBusinessRegistered {
            enterprise_id: Uuid::new_v4(),
            name: title("Kerupuk Ikan Pemping"),
            platform: title("Shopee"),
            url: None,
            registered_on: date(2025, 7, 1),
        })
    }

    fn stage_advanced(from: Stage, to: Stage, evidence: Vec<u64>) -> CommunityEvent {
        CommunityEvent::StageAdvanced(StageAdvanced {
            from,
            to,
            assessed_on: date(2025, 9, 1),
            evidence,
            policy_version: StagePolicy::current().version,
        })
    }

    fn suspended() -> CommunityEvent {
        CommunityEvent::CommunitySuspended(CommunitySuspended {
            suspended_on: date(2025, 10, 1),
            reason: reason("Tidak aktif selama enam bulan"),
        })
    }

    fn dissolved() -> CommunityEvent {
        CommunityEvent::CommunityDissolved(CommunityDissolved {
            dissolved_on: date(2025, 11, 1),
            reason: reason("Dibubarkan atas keputusan anggota"),
        })
    }

    /// Formed with 25 members (1), ketua (2), sekretaris (3) and bendahara (4).
    fn with_officers() -> Vec<CommunityEvent> {
        vec![
            formed(25),
            appointed(OfficerRole::Ketua),
            appointed(OfficerRole::Sekretaris),
            appointed(OfficerRole::Bendahara),
        ]
    }

    /// A legal KIM 1: `with_officers`, SK (5) and nomor induk (6).
    fn legal_kim_1() -> Vec<CommunityEvent> {
        let mut events = with_officers();
        events.extend([sk_issued(), number_assigned()]);
        events
    }

    /// A legal KIM 2: `legal_kim_1`, a development-agent activity (7) and the advance (8).
    fn legal_kim_2() -> Vec<CommunityEvent> {
        let mut events = legal_kim_1();
        events.extend([
            activity(ActivityKind::DevelopmentAgent),
            stage_advanced(Stage::Kim1, Stage::Kim2, vec![7]),
        ]);
        events
    }

    /// A legal KIM 3: `legal_kim_2`, a new-media channel (9) and the advance (10).
    fn legal_kim_3() -> Vec<CommunityEvent> {
        let mut events = legal_kim_2();
        events.extend([
            channel_registered(Uuid::new_v4()),
            stage_advanced(Stage::Kim2, Stage::Kim3, vec![9]),
        ]);
        events
    }

    /// Every legal step of a KIM with no officers, SK or nomor induk.
    fn all_legal_steps() -> Vec<Step> {
        vec![
            Step::NeedsOfficer {
                role: OfficerRole::Ketua,
            },
            Step::NeedsOfficer {
                role: OfficerRole::Sekretaris,
            },
            Step::NeedsOfficer {
                role: OfficerRole::Bendahara,
            },
            Step::NeedsSk,
            Step::NeedsNomorInduk,
        ]
    }

    /// What a KIM 1 that is not legal needs for KIM 2.
    fn kim_2_when_not_legal() -> Option<StageSteps> {
        Some(StageSteps {
            to: Stage::Kim2,
            steps: vec![
                Step::MustBeLegal { to: Stage::Kim2 },
                Step::NeedsEvidence {
                    to: Stage::Kim2,
                    evidence: Evidence::DevelopmentAgentActivity,
                    needed: 1,
                },
            ],
        })
    }

    /// A region directory with no codes: advancing a stage looks none up.
    struct NoRegions;

    impl RegionDirectory for NoRegions {
        fn edition(&self) -> &str {
            "test-edition"
        }

        fn lookup(&self, _code: &RegionCode) -> Option<RegionInfo> {
            None
        }
    }

    /// What the aggregate decides on an assessment to `to` citing `evidence`.
    fn decide_advance(
        community: &Community,
        to: Stage,
        evidence: Vec<u64>,
    ) -> Result<Vec<CommunityEvent>, crate::DomainError> {
        community.decide(
            CommunityCommand::AdvanceStage(AdvanceStage {
                to,
                assessed_on: date(2025, 9, 1),
                evidence,
                assessed_by_role: ActorRole::Regency,
            }),
            &CommunityServices::new(Arc::new(NoRegions)),
        )
    }

    // -----------------------------------------------------------------------------------------
    // Legal standing (R6, R8)
    // -----------------------------------------------------------------------------------------

    #[test]
    fn a_freshly_formed_kim_needs_its_three_officers_an_sk_and_a_nomor_induk() {
        let kim = given(vec![formed(25)]);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: all_legal_steps(),
                stage: kim_2_when_not_legal(),
            }
        );
        assert!(!steps.is_ready_for_assessment());
    }

    #[test]
    fn a_kim_with_its_officers_but_no_sk_needs_an_sk_then_a_nomor_induk() {
        let kim = given(with_officers());

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![Step::NeedsSk, Step::NeedsNomorInduk],
                stage: kim_2_when_not_legal(),
            }
        );
    }

    #[test]
    fn a_kim_with_an_sk_but_no_nomor_induk_needs_only_the_nomor_induk() {
        let mut events = with_officers();
        events.push(sk_issued());
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![Step::NeedsNomorInduk],
                stage: kim_2_when_not_legal(),
            }
        );
    }

    #[test]
    fn a_member_count_outside_the_policy_range_is_an_r6_step_before_the_sk() {
        let kim = given(with_officers()); // 25 members
        let stricter = StagePolicy {
            version: "test.strict".to_owned(),
            member_min: 3,
            member_max: 20,
        };

        let steps = next_steps(&kim, &stricter);

        assert_eq!(
            steps.legal,
            vec![
                Step::MemberCountOutOfRange {
                    count: 25,
                    min: 3,
                    max: 20,
                },
                Step::NeedsSk,
                Step::NeedsNomorInduk,
            ]
        );
    }

    #[test]
    fn a_ketua_dismissed_after_the_sk_is_needed_again_only_once_the_sk_is_revoked() {
        let ketua = Uuid::new_v4();
        let mut events = vec![
            formed(25),
            appointed_as(ketua, OfficerRole::Ketua),
            appointed(OfficerRole::Sekretaris),
            appointed(OfficerRole::Bendahara),
            sk_issued(),
            dismissed(ketua, OfficerRole::Ketua),
        ];
        let kim = given(events.clone());

        let steps = when_read(&kim);

        // R6 is checked when an SK is issued: the SK in force still stands, and R8 needs only it.
        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![Step::NeedsNomorInduk],
                stage: kim_2_when_not_legal(),
            }
        );

        events.push(sk_revoked());
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps.legal,
            vec![
                Step::NeedsOfficer {
                    role: OfficerRole::Ketua,
                },
                Step::NeedsSk,
                Step::NeedsNomorInduk,
            ]
        );
    }

    #[test]
    fn a_revoked_sk_is_needed_again_while_the_nomor_induk_stays_assigned() {
        let mut events = legal_kim_1();
        events.push(sk_revoked());
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![Step::NeedsSk],
                stage: kim_2_when_not_legal(),
            }
        );
    }

    #[test]
    fn the_r6_steps_are_empty_exactly_when_the_sk_rule_accepts() {
        let policy = StagePolicy::current();
        for mask in 0..8_u8 {
            for members in [2, 3, 30, 31] {
                let mut events = vec![formed(members)];
                let mut roles = Vec::new();
                for (bit, role) in OfficerRole::CORE.into_iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        events.push(appointed(role));
                        roles.push(role);
                    }
                }
                let kim = given(events);

                let r6_steps: Vec<Step> = next_steps(&kim, &policy)
                    .legal
                    .into_iter()
                    .filter(|step| step.rule() == Rule::R6)
                    .collect();

                assert_eq!(
                    r6_steps.is_empty(),
                    rules::r6_sk_prerequisites(&roles, members, &policy).is_ok(),
                    "roles {roles:?}, {members} members: {r6_steps:?}"
                );
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Maturity stage (R9)
    // -----------------------------------------------------------------------------------------

    #[test]
    fn a_legal_kim_1_without_development_agent_activity_needs_one_for_kim_2() {
        let mut events = legal_kim_1();
        events.push(activity(ActivityKind::ConventionalForum)); // 7: not evidence for KIM 2
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![],
                stage: Some(StageSteps {
                    to: Stage::Kim2,
                    steps: vec![Step::NeedsEvidence {
                        to: Stage::Kim2,
                        evidence: Evidence::DevelopmentAgentActivity,
                        needed: 1,
                    }],
                }),
            }
        );
        assert!(!steps.is_ready_for_assessment());
        // The aggregate agrees: an assessment citing every event is rejected for its evidence.
        let error = decide_advance(&kim, Stage::Kim2, (1..=7).collect()).unwrap_err();
        assert_eq!(
            (error.rule, error.field.as_str()),
            (Some(Rule::R9), "evidence")
        );
    }

    #[test]
    fn a_legal_kim_1_with_a_development_agent_activity_is_ready_for_assessment_to_kim_2() {
        let mut events = legal_kim_1();
        events.push(activity(ActivityKind::DevelopmentAgent)); // 7
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![],
                stage: Some(StageSteps {
                    to: Stage::Kim2,
                    steps: vec![],
                }),
            }
        );
        assert!(steps.is_ready_for_assessment());
        // The aggregate agrees: the assessment citing the activity is accepted.
        assert!(decide_advance(&kim, Stage::Kim2, vec![7]).is_ok());
    }

    #[test]
    fn a_kim_2_whose_only_channel_was_deactivated_needs_an_active_one_for_kim_3() {
        let channel = Uuid::new_v4();
        let mut events = legal_kim_2();
        events.extend([channel_registered(channel), channel_deactivated(channel)]); // 9, 10
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![],
                stage: Some(StageSteps {
                    to: Stage::Kim3,
                    steps: vec![Step::NeedsEvidence {
                        to: Stage::Kim3,
                        evidence: Evidence::ActiveMediaChannel,
                        needed: 1,
                    }],
                }),
            }
        );
    }

    #[test]
    fn a_kim_2_that_lost_its_sk_must_be_legal_again_to_advance() {
        let mut events = legal_kim_2();
        events.extend([channel_registered(Uuid::new_v4()), sk_revoked()]); // 9, 10
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![Step::NeedsSk],
                stage: Some(StageSteps {
                    to: Stage::Kim3,
                    steps: vec![Step::MustBeLegal { to: Stage::Kim3 }],
                }),
            }
        );
    }

    #[test]
    fn a_kim_3_without_an_e_business_needs_one_for_kim_4() {
        let kim = given(legal_kim_3());

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![],
                stage: Some(StageSteps {
                    to: Stage::Kim4,
                    steps: vec![Step::NeedsEvidence {
                        to: Stage::Kim4,
                        evidence: Evidence::ActiveEBusiness,
                        needed: 1,
                    }],
                }),
            }
        );
    }

    #[test]
    fn a_kim_4_has_no_further_stage() {
        let mut events = legal_kim_3();
        events.extend([
            e_business_registered(),                            // 11
            stage_advanced(Stage::Kim3, Stage::Kim4, vec![11]), // 12
        ]);
        let kim = given(events);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: None,
                legal: vec![],
                stage: None,
            }
        );
        assert!(!steps.is_ready_for_assessment());
    }

    // -----------------------------------------------------------------------------------------
    // Lifecycle
    // -----------------------------------------------------------------------------------------

    #[test]
    fn a_suspended_kim_must_be_reactivated_first() {
        let mut events = legal_kim_1();
        events.extend([activity(ActivityKind::DevelopmentAgent), suspended()]);
        let kim = given(events);

        let steps = when_read(&kim);

        // The steps that apply once it is reactivated are still listed.
        assert_eq!(
            steps,
            NextSteps {
                blocked_by: Some(Blocker::Suspended),
                legal: vec![],
                stage: Some(StageSteps {
                    to: Stage::Kim2,
                    steps: vec![],
                }),
            }
        );
        assert!(!steps.is_ready_for_assessment());
        let error = decide_advance(&kim, Stage::Kim2, vec![7]).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Suspended);
    }

    #[test]
    fn a_dissolved_kim_has_no_next_steps() {
        let kim = given(vec![formed(25), dissolved()]);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: Some(Blocker::Dissolved),
                legal: vec![],
                stage: None,
            }
        );
    }

    #[test]
    fn a_community_never_formed_must_be_formed_first() {
        let kim = given(vec![]);

        let steps = when_read(&kim);

        assert_eq!(
            steps,
            NextSteps {
                blocked_by: Some(Blocker::NotFormed),
                legal: vec![],
                stage: None,
            }
        );
    }

    #[test]
    fn every_step_names_the_rule_it_comes_from() {
        let evidence = Step::NeedsEvidence {
            to: Stage::Kim2,
            evidence: Evidence::DevelopmentAgentActivity,
            needed: 1,
        };
        let rules: Vec<Rule> = [
            Step::NeedsOfficer {
                role: OfficerRole::Ketua,
            },
            Step::MemberCountOutOfRange {
                count: 2,
                min: 3,
                max: 30,
            },
            Step::NeedsSk,
            Step::NeedsNomorInduk,
            Step::MustBeLegal { to: Stage::Kim2 },
            evidence,
        ]
        .iter()
        .map(Step::rule)
        .collect();

        assert_eq!(
            rules,
            vec![Rule::R6, Rule::R6, Rule::R8, Rule::R8, Rule::R9, Rule::R9]
        );
    }
}

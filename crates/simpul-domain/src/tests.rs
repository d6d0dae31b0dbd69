//! Given/when/then tests of the `Community` aggregate: the executable form of `domain.md`.
//!
//! Every rule R1–R10 has at least one accepted and one rejected case. Rejections are checked by
//! rule, kind and field (the stable parts of an error); a few also pin the exact message where
//! its wording is part of the behaviour (R2 asking for a desa/kelurahan).

use std::sync::Arc;

use chrono::NaiveDate;
use cqrs_es::test::{AggregateResultValidator, TestFramework};
use cqrs_es::Aggregate;
use uuid::Uuid;

use crate::commands::{
    AdvanceStage, AppointOfficer, AssignRegistrationNumber, CommunityCommand, DeactivateEBusiness,
    DeactivateMediaChannel, DismissOfficer, DissolveCommunity, FormCommunity, IssueSk, LowerStage,
    ReactivateCommunity, RecordActivity, RecordBimtek, RegisterEBusiness, RegisterMediaChannel,
    RevokeSk, SuspendCommunity, UpdateMemberCount,
};
use crate::events::{
    ActivityKind, ActivityRecorded, BimtekAttended, BimtekKind, CommunityDissolved, CommunityEvent,
    CommunityFormed, CommunityReactivated, CommunitySuspended, EBusinessDeactivated,
    EBusinessRegistered, Eligibility, MediaChannelDeactivated, MediaChannelKind,
    MediaChannelRegistered, MemberCountUpdated, OfficerAppointed, OfficerDismissed,
    RegistrationNumberAssigned, SkIssued, SkRevoked, StageAdvanced, StageLowered,
};
use crate::sealed::DataKey;
use crate::stage::Evidence;
use crate::text::{CommunityName, Reason, RegistrationNumber, SkNumber, Title};
use crate::{
    ActorRole, Community, CommunityServices, CommunityStatus, DomainError, ErrorKind, OfficerRole,
    RegionCode, RegionDirectory, RegionInfo, RegionLevel, Rule, Stage, StagePolicy,
};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const EDITION: &str = "test-edition";

/// Our KIM's kelurahan: Pemping, kecamatan Belakang Padang, Kota Batam. (21.71.01.1001 is not a
/// code of the 2025 edition, so the first kelurahan of Belakang Padang is 1002.)
const PEMPING: &str = "21.71.01.1002";

/// A dozen real Kemendagri rows (Kepmendagri 300.2.2-2138/2025), enough for every rule.
struct FixtureRegions(Vec<RegionInfo>);

impl FixtureRegions {
    fn new() -> Self {
        let rows = [
            ("21", "Kepulauan Riau", RegionLevel::Province, "provinsi"),
            ("21.71", "Batam", RegionLevel::Regency, "kota"),
            (
                "21.71.01",
                "Belakang Padang",
                RegionLevel::District,
                "kecamatan",
            ),
            (PEMPING, "Pemping", RegionLevel::Village, "kelurahan"),
            ("21.71.01.1003", "Kasu", RegionLevel::Village, "kelurahan"),
            (
                "34",
                "Daerah Istimewa Yogyakarta",
                RegionLevel::Province,
                "provinsi",
            ),
            ("34.04", "Sleman", RegionLevel::Regency, "kabupaten"),
            ("34.04.01", "Gamping", RegionLevel::District, "kecamatan"),
            ("34.04.01.2001", "Balecatur", RegionLevel::Village, "desa"),
            ("34.71", "Yogyakarta", RegionLevel::Regency, "kota"),
        ];
        Self(
            rows.into_iter()
                .map(|(code, name, level, kind)| RegionInfo {
                    code: region(code),
                    name: name.to_owned(),
                    level,
                    kind: kind.to_owned(),
                })
                .collect(),
        )
    }
}

impl RegionDirectory for FixtureRegions {
    fn edition(&self) -> &str {
        EDITION
    }

    fn lookup(&self, code: &RegionCode) -> Option<RegionInfo> {
        self.0.iter().find(|info| &info.code == code).cloned()
    }
}

fn services() -> CommunityServices {
    CommunityServices::new(Arc::new(FixtureRegions::new()))
}

fn framework() -> TestFramework<Community> {
    TestFramework::with(services())
}

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn title(text: &str) -> Title {
    Title::parse(text).unwrap()
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

fn formed_on() -> NaiveDate {
    date(2025, 1, 15)
}

fn policy_version() -> String {
    StagePolicy::current().version
}

fn eligible() -> Eligibility {
    Eligibility {
        not_asn: true,
        no_criminal_record: true,
        no_party_affiliation: true,
        no_ngo_affiliation: true,
    }
}

/// A pegiat forms KIM Pemping Bersatu in Pemping, Batam, with 25 members.
fn form_command() -> FormCommunity {
    FormCommunity {
        name: CommunityName::parse("KIM Pemping Bersatu").unwrap(),
        village: region(PEMPING),
        formed_on: formed_on(),
        origin_group: Some("Karang Taruna Pemping".to_owned()),
        member_count: 25,
        initiated_by: None,
        recorded_by_role: ActorRole::Pegiat,
    }
}

/// The event `form_command` produces.
fn formed_event(form: &FormCommunity) -> CommunityFormed {
    CommunityFormed {
        name: form.name.clone(),
        village: form.village.clone(),
        region_edition: EDITION.to_owned(),
        formed_on: form.formed_on,
        origin_group: form.origin_group.clone(),
        member_count: form.member_count,
        initiated_by: "pengurus KIM".to_owned(),
        recorded_by_role: form.recorded_by_role,
        on_behalf_of_community: false,
        stage: Stage::Kim1,
        policy_version: policy_version(),
    }
}

fn formed() -> CommunityEvent {
    CommunityEvent::CommunityFormed(formed_event(&form_command()))
}

/// An appointment command for a new person, with a name sealed under their own key.
fn appoint(role: OfficerRole, name: &str) -> AppointOfficer {
    let person_id = Uuid::new_v4();
    AppointOfficer {
        person_id,
        role,
        bidang: (role == OfficerRole::KepalaBidang).then(|| "Bidang Media".to_owned()),
        name: DataKey::generate().seal(person_id, name).unwrap(),
        contact: None,
        appointed_on: date(2025, 2, 1),
        eligibility: eligible(),
    }
}

/// The event an accepted appointment produces.
fn appointed_event(cmd: &AppointOfficer) -> OfficerAppointed {
    OfficerAppointed {
        person_id: cmd.person_id,
        role: cmd.role,
        bidang: cmd.bidang.clone(),
        name: cmd.name.clone(),
        contact: cmd.contact.clone(),
        appointed_on: cmd.appointed_on,
        eligibility: cmd.eligibility,
    }
}

fn appointed(role: OfficerRole) -> CommunityEvent {
    CommunityEvent::OfficerAppointed(appointed_event(&appoint(role, "Officer")))
}

fn issue_sk() -> IssueSk {
    IssueSk {
        number: SkNumber::parse("12/2025").unwrap(),
        issued_on: date(2025, 3, 3),
        subject: title("Pembentukan KIM Pemping Bersatu"),
        issuing_office: region(PEMPING),
        signed_by: "Lurah Pemping".to_owned(),
        roster_acknowledged: true,
    }
}

fn sk_issued_event(cmd: &IssueSk) -> SkIssued {
    SkIssued {
        number: cmd.number.clone(),
        issued_on: cmd.issued_on,
        subject: cmd.subject.clone(),
        issuing_office: cmd.issuing_office.clone(),
        region_edition: EDITION.to_owned(),
        signed_by: cmd.signed_by.clone(),
        roster_acknowledged: cmd.roster_acknowledged,
    }
}

fn sk_issued() -> CommunityEvent {
    CommunityEvent::SkIssued(sk_issued_event(&issue_sk()))
}

fn assign_number(regency: &str) -> AssignRegistrationNumber {
    AssignRegistrationNumber {
        number: RegistrationNumber::parse("KIM-2171-0001").unwrap(),
        regency: region(regency),
        assigned_on: date(2025, 4, 10),
    }
}

fn number_assigned() -> CommunityEvent {
    let cmd = assign_number("21.71");
    CommunityEvent::RegistrationNumberAssigned(RegistrationNumberAssigned {
        number: cmd.number,
        regency: cmd.regency,
        region_edition: EDITION.to_owned(),
        assigned_on: cmd.assigned_on,
    })
}

/// Formed (1) with ketua (2), sekretaris (3) and bendahara (4).
fn with_officers() -> Vec<CommunityEvent> {
    vec![
        formed(),
        appointed(OfficerRole::Ketua),
        appointed(OfficerRole::Sekretaris),
        appointed(OfficerRole::Bendahara),
    ]
}

/// A legal KIM 1: `with_officers`, SK (5) and nomor induk (6).
fn legal_kim() -> Vec<CommunityEvent> {
    let mut events = with_officers();
    events.extend([sk_issued(), number_assigned()]);
    events
}

fn record_activity(kind: ActivityKind) -> RecordActivity {
    RecordActivity {
        activity_id: Uuid::new_v4(),
        kind,
        title: title("Sosialisasi program desa"),
        held_on: date(2025, 5, 5),
        participants: Some(20),
    }
}

fn activity_recorded(kind: ActivityKind) -> CommunityEvent {
    let cmd = record_activity(kind);
    CommunityEvent::ActivityRecorded(ActivityRecorded {
        activity_id: cmd.activity_id,
        kind: cmd.kind,
        title: cmd.title,
        held_on: cmd.held_on,
        participants: cmd.participants,
    })
}

fn register_channel() -> RegisterMediaChannel {
    RegisterMediaChannel {
        channel_id: Uuid::new_v4(),
        kind: MediaChannelKind::SocialMedia,
        name: title("@kimpempingbersatu"),
        url: Some("https://instagram.com/kimpempingbersatu".to_owned()),
        registered_on: date(2025, 6, 1),
    }
}

fn channel_registered(cmd: &RegisterMediaChannel) -> CommunityEvent {
    CommunityEvent::MediaChannelRegistered(MediaChannelRegistered {
        channel_id: cmd.channel_id,
        kind: cmd.kind,
        name: cmd.name.clone(),
        url: cmd.url.clone(),
        registered_on: cmd.registered_on,
    })
}

fn register_e_business() -> RegisterEBusiness {
    RegisterEBusiness {
        enterprise_id: Uuid::new_v4(),
        name: title("Kerupuk Ikan Pemping"),
        platform: title("Shopee"),
        url: None,
        registered_on: date(2025, 7, 1),
    }
}

fn e_business_registered(cmd: &RegisterEBusiness) -> CommunityEvent {
    CommunityEvent::EBusinessRegistered(EBusinessRegistered {
        enterprise_id: cmd.enterprise_id,
        name: cmd.name.clone(),
        platform: cmd.platform.clone(),
        url: cmd.url.clone(),
        registered_on: cmd.registered_on,
    })
}

fn advance(to: Stage, evidence: Vec<u64>) -> AdvanceStage {
    AdvanceStage {
        to,
        assessed_on: date(2025, 9, 1),
        evidence,
        assessed_by_role: ActorRole::Regency,
    }
}

fn stage_advanced(from: Stage, to: Stage, evidence: Vec<u64>) -> CommunityEvent {
    CommunityEvent::StageAdvanced(StageAdvanced {
        from,
        to,
        assessed_on: date(2025, 9, 1),
        evidence,
        policy_version: policy_version(),
    })
}

fn record_bimtek(organizer: &str, participants: u32) -> RecordBimtek {
    RecordBimtek {
        session_id: Uuid::new_v4(),
        kind: BimtekKind::Bimtek,
        title: title("Bimtek KIM Kota Batam"),
        held_on: date(2025, 8, 27),
        organizer_region: region(organizer),
        participants,
    }
}

fn bimtek_attended(cmd: &RecordBimtek) -> CommunityEvent {
    CommunityEvent::BimtekAttended(BimtekAttended {
        session_id: cmd.session_id,
        kind: cmd.kind,
        title: cmd.title.clone(),
        held_on: cmd.held_on,
        organizer_region: cmd.organizer_region.clone(),
        region_edition: EDITION.to_owned(),
        participants: cmd.participants,
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

/// One command of every kind, all dated after the formation.
fn one_of_each_command() -> Vec<CommunityCommand> {
    vec![
        CommunityCommand::FormCommunity(form_command()),
        CommunityCommand::AppointOfficer(appoint(OfficerRole::Ketua, "Zul Arif")),
        CommunityCommand::DismissOfficer(DismissOfficer {
            person_id: Uuid::new_v4(),
            dismissed_on: date(2025, 12, 1),
            reason: reason("Pindah domisili"),
        }),
        CommunityCommand::UpdateMemberCount(UpdateMemberCount {
            member_count: 20,
            effective_on: date(2025, 12, 1),
        }),
        CommunityCommand::IssueSk(issue_sk()),
        CommunityCommand::RevokeSk(RevokeSk {
            revoked_on: date(2025, 12, 1),
            reason: reason("Salah nomor"),
        }),
        CommunityCommand::AssignRegistrationNumber(assign_number("21.71")),
        CommunityCommand::RecordBimtek(record_bimtek("21.71", 38)),
        CommunityCommand::RecordActivity(record_activity(ActivityKind::DevelopmentAgent)),
        CommunityCommand::RegisterMediaChannel(register_channel()),
        CommunityCommand::DeactivateMediaChannel(DeactivateMediaChannel {
            channel_id: Uuid::new_v4(),
            deactivated_on: date(2025, 12, 1),
            reason: reason("Akun diretas"),
        }),
        CommunityCommand::RegisterEBusiness(register_e_business()),
        CommunityCommand::DeactivateEBusiness(DeactivateEBusiness {
            enterprise_id: Uuid::new_v4(),
            deactivated_on: date(2025, 12, 1),
            reason: reason("Toko tutup"),
        }),
        CommunityCommand::AdvanceStage(advance(Stage::Kim2, vec![1])),
        CommunityCommand::LowerStage(LowerStage {
            to: Stage::Kim1,
            assessed_on: date(2025, 12, 1),
            reason: reason("Tidak ada kegiatan"),
        }),
        CommunityCommand::SuspendCommunity(SuspendCommunity {
            suspended_on: date(2025, 12, 1),
            reason: reason("Tidak aktif"),
        }),
        CommunityCommand::ReactivateCommunity(ReactivateCommunity {
            reactivated_on: date(2025, 12, 1),
            reason: reason("Aktif kembali"),
        }),
        CommunityCommand::DissolveCommunity(DissolveCommunity {
            dissolved_on: date(2025, 12, 1),
            reason: reason("Bubar"),
        }),
    ]
}

/// Asserts a rejection under `rule` at `field` and returns it for further checks.
fn expect_rule(
    validator: AggregateResultValidator<Community>,
    rule: Rule,
    field: &str,
) -> DomainError {
    let error = validator
        .inspect_result()
        .expect_err("the command should have been rejected");
    assert_eq!(
        (error.rule, error.kind, error.field.as_str()),
        (Some(rule), ErrorKind::Rule, field),
        "unexpected error: {error}"
    );
    assert!(!error.message.is_empty());
    error
}

/// Asserts a rejection of `kind` (not a numbered rule) at `field` and returns it.
fn expect_kind(
    validator: AggregateResultValidator<Community>,
    kind: ErrorKind,
    field: &str,
) -> DomainError {
    let error = validator
        .inspect_result()
        .expect_err("the command should have been rejected");
    assert_eq!(
        (error.rule, error.kind, error.field.as_str()),
        (None, kind, field),
        "unexpected error: {error}"
    );
    assert!(!error.message.is_empty());
    error
}

/// Decides `command` on `community` and applies the result, as `handle` does.
fn run(community: &mut Community, command: CommunityCommand) -> Vec<CommunityEvent> {
    let events = community
        .decide(command, &services())
        .unwrap_or_else(|error| panic!("command rejected: {error}"));
    for event in events.clone() {
        community.apply(event);
    }
    events
}

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

#[test]
fn a_command_on_a_community_never_formed_is_rejected_as_not_formed() {
    for command in one_of_each_command().into_iter().skip(1) {
        let name = command.name();
        let error = framework()
            .given_no_previous_events()
            .when(command)
            .inspect_result()
            .expect_err(name);
        assert_eq!(
            (error.kind, error.field.as_str()),
            (ErrorKind::NotFormed, "community_id"),
            "{name}"
        );
    }
}

#[test]
fn forming_a_community_twice_is_rejected_as_already_formed() {
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::FormCommunity(form_command())),
        ErrorKind::AlreadyFormed,
        "community_id",
    );
}

#[test]
fn a_dissolved_kim_rejects_every_command() {
    for command in one_of_each_command().into_iter().skip(1) {
        let name = command.name();
        let error = framework()
            .given(vec![formed(), dissolved()])
            .when(command)
            .inspect_result()
            .expect_err(name);
        assert_eq!(
            (error.kind, error.field.as_str()),
            (ErrorKind::Dissolved, "status"),
            "{name}"
        );
    }
}

#[test]
fn a_suspended_kim_rejects_an_appointment() {
    expect_kind(
        framework()
            .given(vec![formed(), suspended()])
            .when(CommunityCommand::AppointOfficer(appoint(
                OfficerRole::Ketua,
                "Zul Arif",
            ))),
        ErrorKind::Suspended,
        "status",
    );
}

#[test]
fn a_suspended_kim_accepts_reactivation() {
    framework()
        .given(vec![formed(), suspended()])
        .when(CommunityCommand::ReactivateCommunity(ReactivateCommunity {
            reactivated_on: date(2025, 10, 20),
            reason: reason("Pengurus baru terbentuk"),
        }))
        .then_expect_events(vec![CommunityEvent::CommunityReactivated(
            CommunityReactivated {
                reactivated_on: date(2025, 10, 20),
                reason: reason("Pengurus baru terbentuk"),
            },
        )]);
}

#[test]
fn a_suspended_kim_accepts_dissolution() {
    framework()
        .given(vec![formed(), suspended()])
        .when(CommunityCommand::DissolveCommunity(DissolveCommunity {
            dissolved_on: date(2025, 11, 1),
            reason: reason("Dibubarkan atas keputusan anggota"),
        }))
        .then_expect_events(vec![dissolved()]);
}

#[test]
fn an_active_kim_is_suspended_with_its_reason() {
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::SuspendCommunity(SuspendCommunity {
            suspended_on: date(2025, 10, 1),
            reason: reason("Tidak aktif selama enam bulan"),
        }))
        .then_expect_events(vec![suspended()]);
}

#[test]
fn a_suspended_kim_cannot_be_suspended_again() {
    expect_kind(
        framework()
            .given(vec![formed(), suspended()])
            .when(CommunityCommand::SuspendCommunity(SuspendCommunity {
                suspended_on: date(2025, 10, 2),
                reason: reason("Lagi"),
            })),
        ErrorKind::Suspended,
        "status",
    );
}

#[test]
fn reactivating_an_active_kim_is_rejected() {
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::ReactivateCommunity(ReactivateCommunity {
                reactivated_on: date(2025, 10, 20),
                reason: reason("Aktif"),
            })),
        ErrorKind::Invalid,
        "status",
    );
}

#[test]
fn a_date_before_the_formation_is_rejected_naming_its_field() {
    let mut early = appoint(OfficerRole::Ketua, "Zul Arif");
    early.appointed_on = date(2025, 1, 14);
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::AppointOfficer(early)),
        ErrorKind::Invalid,
        "appointed_on",
    );
    let mut early = issue_sk();
    early.issued_on = date(2024, 12, 31);
    expect_kind(
        framework()
            .given(with_officers())
            .when(CommunityCommand::IssueSk(early)),
        ErrorKind::Invalid,
        "issued_on",
    );
}

#[test]
fn dates_outside_1945_08_17_to_2099_12_31_are_rejected_naming_their_field() {
    // The values a fuzzer sent (year 10000, year -1) stopped the read models on PostgreSQL.
    for formed_on in [
        NaiveDate::from_ymd_opt(-1, 1, 1).unwrap(),
        date(1945, 8, 16),
        date(2100, 1, 1),
    ] {
        let mut cmd = form_command();
        cmd.formed_on = formed_on;
        expect_kind(
            framework()
                .given_no_previous_events()
                .when(CommunityCommand::FormCommunity(cmd)),
            ErrorKind::Invalid,
            "formed_on",
        );
    }
    let mut bimtek = record_bimtek("21.71", 38);
    bimtek.held_on = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::RecordBimtek(bimtek)),
        ErrorKind::Invalid,
        "held_on",
    );
}

#[test]
fn the_first_and_last_recordable_dates_are_accepted() {
    let mut cmd = form_command();
    cmd.formed_on = date(1945, 8, 17);
    let expected = formed_event(&cmd);
    framework()
        .given_no_previous_events()
        .when(CommunityCommand::FormCommunity(cmd))
        .then_expect_events(vec![CommunityEvent::CommunityFormed(expected)]);
    let mut activity = record_activity(ActivityKind::Dissemination);
    activity.held_on = date(2099, 12, 31);
    assert!(framework()
        .given(vec![formed()])
        .when(CommunityCommand::RecordActivity(activity))
        .inspect_result()
        .is_ok());
}

#[test]
fn participants_beyond_10000_are_rejected() {
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::RecordBimtek(record_bimtek(
                "21.71", 10_001,
            ))),
        ErrorKind::Invalid,
        "participants",
    );
    let mut activity = record_activity(ActivityKind::Dissemination);
    activity.participants = Some(u32::MAX);
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::RecordActivity(activity)),
        ErrorKind::Invalid,
        "participants",
    );
    assert!(framework()
        .given(vec![formed()])
        .when(CommunityCommand::RecordBimtek(record_bimtek(
            "21.71", 10_000
        )))
        .inspect_result()
        .is_ok());
}

#[test]
fn media_and_e_business_urls_must_be_web_addresses() {
    for url in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.org/kim",
        "https://",
        "instagram.com/kim",
    ] {
        let mut channel = register_channel();
        channel.url = Some(url.to_owned());
        expect_kind(
            framework()
                .given(vec![formed()])
                .when(CommunityCommand::RegisterMediaChannel(channel)),
            ErrorKind::Invalid,
            "url",
        );
    }
    let mut channel = register_channel();
    channel.url = Some("HTTP://KIM.example.id/berita".to_owned());
    assert!(framework()
        .given(vec![formed()])
        .when(CommunityCommand::RegisterMediaChannel(channel))
        .inspect_result()
        .is_ok());
}

#[test]
fn an_appointment_on_the_formation_day_is_accepted() {
    let mut cmd = appoint(OfficerRole::Ketua, "Zul Arif");
    cmd.appointed_on = formed_on();
    let expected = appointed_event(&cmd);
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::AppointOfficer(cmd))
        .then_expect_events(vec![CommunityEvent::OfficerAppointed(expected)]);
}

// ---------------------------------------------------------------------------------------------
// R1 member count
// ---------------------------------------------------------------------------------------------

#[test]
fn r1_forming_with_2_members_is_rejected() {
    let mut cmd = form_command();
    cmd.member_count = 2;
    expect_rule(
        framework()
            .given_no_previous_events()
            .when(CommunityCommand::FormCommunity(cmd)),
        Rule::R1,
        "member_count",
    );
}

#[test]
fn r1_forming_with_31_members_is_rejected() {
    let mut cmd = form_command();
    cmd.member_count = 31;
    expect_rule(
        framework()
            .given_no_previous_events()
            .when(CommunityCommand::FormCommunity(cmd)),
        Rule::R1,
        "member_count",
    );
}

#[test]
fn r1_forming_with_3_or_30_members_is_accepted() {
    for count in [3, 30] {
        let mut cmd = form_command();
        cmd.member_count = count;
        let expected = formed_event(&cmd);
        framework()
            .given_no_previous_events()
            .when(CommunityCommand::FormCommunity(cmd))
            .then_expect_events(vec![CommunityEvent::CommunityFormed(expected)]);
    }
}

#[test]
fn r1_updating_the_member_count_to_31_is_rejected() {
    expect_rule(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::UpdateMemberCount(UpdateMemberCount {
                member_count: 31,
                effective_on: date(2025, 6, 1),
            })),
        Rule::R1,
        "member_count",
    );
}

#[test]
fn r1_updating_the_member_count_within_range_records_the_previous_count() {
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::UpdateMemberCount(UpdateMemberCount {
            member_count: 30,
            effective_on: date(2025, 6, 1),
        }))
        .then_expect_events(vec![CommunityEvent::MemberCountUpdated(
            MemberCountUpdated {
                member_count: 30,
                previous: 25,
                effective_on: date(2025, 6, 1),
            },
        )]);
}

#[test]
fn updating_the_member_count_to_the_same_count_is_rejected() {
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::UpdateMemberCount(UpdateMemberCount {
                member_count: 25,
                effective_on: date(2025, 6, 1),
            })),
        ErrorKind::Invalid,
        "member_count",
    );
}

// ---------------------------------------------------------------------------------------------
// R2 anchor desa/kelurahan, R3 initiated by the community
// ---------------------------------------------------------------------------------------------

#[test]
fn r2_r3_a_pegiat_forms_a_kim_in_a_kelurahan_of_the_edition() {
    framework()
        .given_no_previous_events()
        .when(CommunityCommand::FormCommunity(form_command()))
        .then_expect_events(vec![formed()]);
}

#[test]
fn r2_forming_in_a_desa_of_sleman_is_accepted() {
    let mut cmd = form_command();
    cmd.village = region("34.04.01.2001");
    let expected = formed_event(&cmd);
    framework()
        .given_no_previous_events()
        .when(CommunityCommand::FormCommunity(cmd))
        .then_expect_events(vec![CommunityEvent::CommunityFormed(expected)]);
}

#[test]
fn r2_forming_with_a_code_unknown_to_the_edition_is_rejected_naming_the_edition() {
    let mut cmd = form_command();
    cmd.village = region("21.71.01.1001");
    let error = expect_rule(
        framework()
            .given_no_previous_events()
            .when(CommunityCommand::FormCommunity(cmd)),
        Rule::R2,
        "village",
    );
    assert!(error.message.contains(EDITION), "{error}");
}

#[test]
fn r2_forming_in_a_kecamatan_is_rejected_asking_for_a_desa_or_kelurahan() {
    let mut cmd = form_command();
    cmd.village = region("21.71.01");
    framework()
        .given_no_previous_events()
        .when(CommunityCommand::FormCommunity(cmd))
        .then_expect_error(DomainError::rule(
            Rule::R2,
            "village",
            "region code 21.71.01 is a kecamatan (Belakang Padang); a KIM is anchored in a \
             desa/kelurahan",
        ));
}

#[test]
fn r3_a_regency_operator_forming_a_kim_must_name_the_initiator() {
    for initiated_by in [None, Some("   ".to_owned())] {
        let mut cmd = form_command();
        cmd.recorded_by_role = ActorRole::Regency;
        cmd.initiated_by = initiated_by;
        expect_rule(
            framework()
                .given_no_previous_events()
                .when(CommunityCommand::FormCommunity(cmd)),
            Rule::R3,
            "initiated_by",
        );
    }
}

#[test]
fn r3_a_regency_operator_records_the_formation_on_the_communitys_behalf() {
    let mut cmd = form_command();
    cmd.recorded_by_role = ActorRole::Regency;
    cmd.initiated_by = Some("  Karang Taruna Pemping  ".to_owned());
    let mut expected = formed_event(&cmd);
    expected.initiated_by = "Karang Taruna Pemping".to_owned();
    expected.on_behalf_of_community = true;
    framework()
        .given_no_previous_events()
        .when(CommunityCommand::FormCommunity(cmd))
        .then_expect_events(vec![CommunityEvent::CommunityFormed(expected)]);
}

#[test]
fn r3_a_pegiat_naming_the_initiator_is_recorded_as_the_community_itself() {
    let mut cmd = form_command();
    cmd.initiated_by = Some("Ketua RW 03".to_owned());
    let mut expected = formed_event(&cmd);
    expected.initiated_by = "Ketua RW 03".to_owned();
    framework()
        .given_no_previous_events()
        .when(CommunityCommand::FormCommunity(cmd))
        .then_expect_events(vec![CommunityEvent::CommunityFormed(expected)]);
}

// ---------------------------------------------------------------------------------------------
// R4 eligibility, R5 one holder per office
// ---------------------------------------------------------------------------------------------

#[test]
fn r4_an_eligible_ketua_is_appointed() {
    let cmd = appoint(OfficerRole::Ketua, "Zul Arif");
    let expected = appointed_event(&cmd);
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::AppointOfficer(cmd))
        .then_expect_events(vec![CommunityEvent::OfficerAppointed(expected)]);
}

#[test]
fn r4_a_civil_servant_is_not_appointed() {
    let mut cmd = appoint(OfficerRole::Ketua, "Zul Arif");
    cmd.eligibility.not_asn = false;
    expect_rule(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::AppointOfficer(cmd)),
        Rule::R4,
        "eligibility.not_asn",
    );
}

#[test]
fn r4_the_first_missing_attestation_is_the_field_at_fault() {
    let mut cmd = appoint(OfficerRole::Sekretaris, "Indra Sufian");
    cmd.eligibility.no_party_affiliation = false;
    cmd.eligibility.no_ngo_affiliation = false;
    expect_rule(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::AppointOfficer(cmd)),
        Rule::R4,
        "eligibility.no_party_affiliation",
    );
}

#[test]
fn r5_a_second_ketua_is_rejected() {
    expect_rule(
        framework()
            .given(with_officers())
            .when(CommunityCommand::AppointOfficer(appoint(
                OfficerRole::Ketua,
                "Ketua Kedua",
            ))),
        Rule::R5,
        "role",
    );
}

#[test]
fn r5_a_new_ketua_is_accepted_after_the_old_one_is_dismissed() {
    let old = appoint(OfficerRole::Ketua, "Ketua Lama");
    let new = appoint(OfficerRole::Ketua, "Ketua Baru");
    let expected = appointed_event(&new);
    framework()
        .given(vec![
            formed(),
            CommunityEvent::OfficerAppointed(appointed_event(&old)),
            CommunityEvent::OfficerDismissed(OfficerDismissed {
                person_id: old.person_id,
                role: OfficerRole::Ketua,
                dismissed_on: date(2025, 3, 1),
                reason: reason("Mengundurkan diri"),
            }),
        ])
        .when(CommunityCommand::AppointOfficer(new))
        .then_expect_events(vec![CommunityEvent::OfficerAppointed(expected)]);
}

#[test]
fn r5_one_person_cannot_hold_two_offices_at_once() {
    let ketua = appoint(OfficerRole::Ketua, "Zul Arif");
    let mut also_bendahara = appoint(OfficerRole::Bendahara, "Zul Arif");
    also_bendahara.person_id = ketua.person_id;
    also_bendahara.name = ketua.name.clone();
    expect_rule(
        framework()
            .given(vec![
                formed(),
                CommunityEvent::OfficerAppointed(appointed_event(&ketua)),
            ])
            .when(CommunityCommand::AppointOfficer(also_bendahara)),
        Rule::R5,
        "person_id",
    );
}

#[test]
fn r5_several_kepala_bidang_may_be_active() {
    let cmd = appoint(OfficerRole::KepalaBidang, "Kepala Bidang Kedua");
    let expected = appointed_event(&cmd);
    framework()
        .given(vec![formed(), appointed(OfficerRole::KepalaBidang)])
        .when(CommunityCommand::AppointOfficer(cmd))
        .then_expect_events(vec![CommunityEvent::OfficerAppointed(expected)]);
}

#[test]
fn a_kepala_bidang_without_a_bidang_is_rejected() {
    for bidang in [None, Some("  ".to_owned())] {
        let mut cmd = appoint(OfficerRole::KepalaBidang, "Kepala Bidang");
        cmd.bidang = bidang;
        expect_kind(
            framework()
                .given(vec![formed()])
                .when(CommunityCommand::AppointOfficer(cmd)),
            ErrorKind::Invalid,
            "bidang",
        );
    }
}

#[test]
fn a_name_sealed_for_another_person_is_rejected() {
    let mut cmd = appoint(OfficerRole::Ketua, "Zul Arif");
    cmd.name = DataKey::generate()
        .seal(Uuid::new_v4(), "Zul Arif")
        .unwrap();
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::AppointOfficer(cmd)),
        ErrorKind::Invalid,
        "name",
    );
}

#[test]
fn a_contact_sealed_for_another_person_is_rejected() {
    let mut cmd = appoint(OfficerRole::Ketua, "Zul Arif");
    cmd.contact = Some(
        DataKey::generate()
            .seal(Uuid::new_v4(), "0812-0000-0000")
            .unwrap(),
    );
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::AppointOfficer(cmd)),
        ErrorKind::Invalid,
        "contact",
    );
}

// ---------------------------------------------------------------------------------------------
// R6 SK prerequisites, R7 issuing office
// ---------------------------------------------------------------------------------------------

#[test]
fn r6_r7_an_sk_with_all_three_officers_from_the_kims_own_kelurahan_is_issued() {
    framework()
        .given(with_officers())
        .when(CommunityCommand::IssueSk(issue_sk()))
        .then_expect_events(vec![sk_issued()]);
}

#[test]
fn r6_an_sk_without_officers_is_rejected() {
    expect_rule(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::IssueSk(issue_sk())),
        Rule::R6,
        "officers.ketua",
    );
}

#[test]
fn r6_an_sk_without_a_bendahara_is_rejected() {
    expect_rule(
        framework()
            .given(vec![
                formed(),
                appointed(OfficerRole::Ketua),
                appointed(OfficerRole::Sekretaris),
                appointed(OfficerRole::KepalaBidang),
            ])
            .when(CommunityCommand::IssueSk(issue_sk())),
        Rule::R6,
        "officers.bendahara",
    );
}

#[test]
fn r6_an_sk_with_a_member_count_the_policy_no_longer_allows_is_rejected() {
    let mut services = services();
    services.policy.member_max = 20;
    services.policy.version = "2026.1".to_owned();
    expect_rule(
        TestFramework::<Community>::with(services)
            .given(with_officers())
            .when(CommunityCommand::IssueSk(issue_sk())),
        Rule::R6,
        "member_count",
    );
}

#[test]
fn an_sk_without_a_signing_office_is_rejected() {
    let mut cmd = issue_sk();
    cmd.signed_by = " ".to_owned();
    expect_kind(
        framework()
            .given(with_officers())
            .when(CommunityCommand::IssueSk(cmd)),
        ErrorKind::Invalid,
        "signed_by",
    );
}

#[test]
fn r7_an_sk_issued_by_another_kelurahan_is_rejected() {
    let mut cmd = issue_sk();
    cmd.issuing_office = region("21.71.01.1003");
    expect_rule(
        framework()
            .given(with_officers())
            .when(CommunityCommand::IssueSk(cmd)),
        Rule::R7,
        "issuing_office",
    );
}

// ---------------------------------------------------------------------------------------------
// R8 nomor induk
// ---------------------------------------------------------------------------------------------

#[test]
fn r8_a_nomor_induk_from_the_kims_own_kota_is_assigned() {
    let mut given = with_officers();
    given.push(sk_issued());
    framework()
        .given(given)
        .when(CommunityCommand::AssignRegistrationNumber(assign_number(
            "21.71",
        )))
        .then_expect_events(vec![number_assigned()]);
}

#[test]
fn r8_a_nomor_induk_without_an_sk_is_rejected() {
    expect_rule(
        framework()
            .given(with_officers())
            .when(CommunityCommand::AssignRegistrationNumber(assign_number(
                "21.71",
            ))),
        Rule::R8,
        "sk",
    );
}

#[test]
fn r8_a_nomor_induk_after_the_sk_was_revoked_is_rejected() {
    let mut given = with_officers();
    given.push(sk_issued());
    given.push(CommunityEvent::SkRevoked(SkRevoked {
        number: SkNumber::parse("12/2025").unwrap(),
        revoked_on: date(2025, 3, 10),
        reason: reason("Salah nomor"),
    }));
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::AssignRegistrationNumber(assign_number(
                "21.71",
            ))),
        Rule::R8,
        "sk",
    );
}

#[test]
fn r8_a_nomor_induk_from_another_kabupaten_is_rejected() {
    let mut given = with_officers();
    given.push(sk_issued());
    for other in ["34.04", "21"] {
        expect_rule(
            framework()
                .given(given.clone())
                .when(CommunityCommand::AssignRegistrationNumber(assign_number(
                    other,
                ))),
            Rule::R8,
            "regency",
        );
    }
}

#[test]
fn r8_a_second_nomor_induk_is_rejected() {
    expect_rule(
        framework()
            .given(legal_kim())
            .when(CommunityCommand::AssignRegistrationNumber(assign_number(
                "21.71",
            ))),
        Rule::R8,
        "number",
    );
}

// ---------------------------------------------------------------------------------------------
// R9 stages
// ---------------------------------------------------------------------------------------------

#[test]
fn r9_a_legal_kim_advances_to_kim_2_citing_a_development_agent_activity() {
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // sequence 7
    framework()
        .given(given)
        .when(CommunityCommand::AdvanceStage(advance(
            Stage::Kim2,
            vec![7, 5, 7, 1],
        )))
        .then_expect_events(vec![stage_advanced(
            Stage::Kim1,
            Stage::Kim2,
            vec![1, 5, 7],
        )]);
}

#[test]
fn r9_an_administrator_may_also_assess_the_stage() {
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent));
    let mut cmd = advance(Stage::Kim2, vec![7]);
    cmd.assessed_by_role = ActorRole::Admin;
    framework()
        .given(given)
        .when(CommunityCommand::AdvanceStage(cmd))
        .then_expect_events(vec![stage_advanced(Stage::Kim1, Stage::Kim2, vec![7])]);
}

#[test]
fn r9_a_jump_from_kim_1_to_kim_3_is_rejected() {
    let channel = register_channel();
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // 7
    given.push(channel_registered(&channel)); // 8
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::AdvanceStage(advance(
                Stage::Kim3,
                vec![7, 8],
            ))),
        Rule::R9,
        "to",
    );
}

#[test]
fn r9_an_assessment_by_a_pegiat_or_the_province_is_rejected() {
    for role in [ActorRole::Pegiat, ActorRole::Province] {
        let mut given = legal_kim();
        given.push(activity_recorded(ActivityKind::DevelopmentAgent));
        let mut cmd = advance(Stage::Kim2, vec![7]);
        cmd.assessed_by_role = role;
        expect_rule(
            framework()
                .given(given)
                .when(CommunityCommand::AdvanceStage(cmd)),
            Rule::R9,
            "assessed_by_role",
        );
    }
}

#[test]
fn r9_a_kim_without_a_nomor_induk_does_not_advance_past_kim_1() {
    let mut given = with_officers();
    given.push(sk_issued()); // 5
    given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // 6
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::AdvanceStage(advance(
                Stage::Kim2,
                vec![6],
            ))),
        Rule::R9,
        "legal",
    );
}

#[test]
fn r9_an_advance_without_evidence_is_rejected() {
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent));
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::AdvanceStage(advance(Stage::Kim2, vec![]))),
        Rule::R9,
        "evidence",
    );
}

#[test]
fn r9_evidence_citing_an_event_that_does_not_exist_is_rejected() {
    for missing in [0, 8] {
        let mut given = legal_kim();
        given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // 7
        expect_rule(
            framework()
                .given(given)
                .when(CommunityCommand::AdvanceStage(advance(
                    Stage::Kim2,
                    vec![7, missing],
                ))),
            Rule::R9,
            "evidence",
        );
    }
}

#[test]
fn r9_evidence_that_is_not_a_development_agent_activity_is_rejected() {
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::ConventionalForum)); // 7
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::AdvanceStage(advance(
                Stage::Kim2,
                vec![1, 5, 7],
            ))),
        Rule::R9,
        "evidence",
    );
}

#[test]
fn r9_an_active_media_channel_is_evidence_for_kim_3() {
    let channel = register_channel();
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // 7
    given.push(stage_advanced(Stage::Kim1, Stage::Kim2, vec![7])); // 8
    given.push(channel_registered(&channel)); // 9
    framework()
        .given(given)
        .when(CommunityCommand::AdvanceStage(advance(
            Stage::Kim3,
            vec![9],
        )))
        .then_expect_events(vec![stage_advanced(Stage::Kim2, Stage::Kim3, vec![9])]);
}

#[test]
fn r9_a_deactivated_media_channel_is_no_evidence_for_kim_3() {
    let channel = register_channel();
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // 7
    given.push(stage_advanced(Stage::Kim1, Stage::Kim2, vec![7])); // 8
    given.push(channel_registered(&channel)); // 9
    given.push(CommunityEvent::MediaChannelDeactivated(
        MediaChannelDeactivated {
            channel_id: channel.channel_id,
            deactivated_on: date(2025, 8, 1),
            reason: reason("Akun diretas"),
        },
    )); // 10
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::AdvanceStage(advance(
                Stage::Kim3,
                vec![9],
            ))),
        Rule::R9,
        "evidence",
    );
}

#[test]
fn r9_an_active_e_business_is_evidence_for_kim_4() {
    let channel = register_channel();
    let shop = register_e_business();
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // 7
    given.push(stage_advanced(Stage::Kim1, Stage::Kim2, vec![7])); // 8
    given.push(channel_registered(&channel)); // 9
    given.push(stage_advanced(Stage::Kim2, Stage::Kim3, vec![9])); // 10
    given.push(e_business_registered(&shop)); // 11
    framework()
        .given(given.clone())
        .when(CommunityCommand::AdvanceStage(advance(
            Stage::Kim4,
            vec![11],
        )))
        .then_expect_events(vec![stage_advanced(Stage::Kim3, Stage::Kim4, vec![11])]);
    // A media channel is not e-business evidence.
    expect_rule(
        framework()
            .given(given.clone())
            .when(CommunityCommand::AdvanceStage(advance(
                Stage::Kim4,
                vec![9],
            ))),
        Rule::R9,
        "evidence",
    );
    // And KIM 4 is the top: there is nothing above it.
    given.push(stage_advanced(Stage::Kim3, Stage::Kim4, vec![11])); // 12
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::AdvanceStage(advance(
                Stage::Kim4,
                vec![11],
            ))),
        Rule::R9,
        "to",
    );
}

#[test]
fn r9_lowering_to_a_lower_stage_is_recorded_with_its_reason() {
    let mut given = legal_kim();
    given.push(activity_recorded(ActivityKind::DevelopmentAgent)); // 7
    given.push(stage_advanced(Stage::Kim1, Stage::Kim2, vec![7])); // 8
    let lower = LowerStage {
        to: Stage::Kim1,
        assessed_on: date(2025, 12, 1),
        reason: reason("Tidak ada kegiatan agen pembangunan selama setahun"),
    };
    framework()
        .given(given)
        .when(CommunityCommand::LowerStage(lower.clone()))
        .then_expect_events(vec![CommunityEvent::StageLowered(StageLowered {
            from: Stage::Kim2,
            to: Stage::Kim1,
            assessed_on: lower.assessed_on,
            reason: lower.reason,
        })]);
}

#[test]
fn r9_lowering_to_the_same_or_a_higher_stage_is_rejected() {
    for to in [Stage::Kim1, Stage::Kim2] {
        expect_rule(
            framework()
                .given(vec![formed()])
                .when(CommunityCommand::LowerStage(LowerStage {
                    to,
                    assessed_on: date(2025, 12, 1),
                    reason: reason("Evaluasi"),
                })),
            Rule::R9,
            "to",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// R10 compensating events
// ---------------------------------------------------------------------------------------------

#[test]
fn r10_dismissing_an_active_officer_records_the_role_and_the_reason() {
    let sekretaris = appoint(OfficerRole::Sekretaris, "Indra Sufian");
    framework()
        .given(vec![
            formed(),
            CommunityEvent::OfficerAppointed(appointed_event(&sekretaris)),
        ])
        .when(CommunityCommand::DismissOfficer(DismissOfficer {
            person_id: sekretaris.person_id,
            dismissed_on: date(2025, 5, 1),
            reason: reason("Pindah domisili"),
        }))
        .then_expect_events(vec![CommunityEvent::OfficerDismissed(OfficerDismissed {
            person_id: sekretaris.person_id,
            role: OfficerRole::Sekretaris,
            dismissed_on: date(2025, 5, 1),
            reason: reason("Pindah domisili"),
        })]);
}

#[test]
fn r10_dismissing_someone_who_is_not_an_active_officer_is_rejected() {
    let ketua = appoint(OfficerRole::Ketua, "Zul Arif");
    let dismissal = DismissOfficer {
        person_id: ketua.person_id,
        dismissed_on: date(2025, 5, 1),
        reason: reason("Mengundurkan diri"),
    };
    // Never appointed.
    expect_rule(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::DismissOfficer(dismissal.clone())),
        Rule::R10,
        "person_id",
    );
    // Already dismissed.
    expect_rule(
        framework()
            .given(vec![
                formed(),
                CommunityEvent::OfficerAppointed(appointed_event(&ketua)),
                CommunityEvent::OfficerDismissed(OfficerDismissed {
                    person_id: ketua.person_id,
                    role: OfficerRole::Ketua,
                    dismissed_on: date(2025, 4, 1),
                    reason: reason("Mengundurkan diri"),
                }),
            ])
            .when(CommunityCommand::DismissOfficer(dismissal)),
        Rule::R10,
        "person_id",
    );
}

#[test]
fn r10_a_second_sk_while_one_is_active_is_rejected() {
    let mut given = with_officers();
    given.push(sk_issued());
    let mut second = issue_sk();
    second.number = SkNumber::parse("13/2025").unwrap();
    expect_rule(
        framework()
            .given(given)
            .when(CommunityCommand::IssueSk(second)),
        Rule::R10,
        "number",
    );
}

#[test]
fn r10_revoking_the_active_sk_records_its_number_and_the_reason() {
    let mut given = with_officers();
    given.push(sk_issued());
    framework()
        .given(given)
        .when(CommunityCommand::RevokeSk(RevokeSk {
            revoked_on: date(2025, 3, 10),
            reason: reason("Salah penulisan nama KIM"),
        }))
        .then_expect_events(vec![CommunityEvent::SkRevoked(SkRevoked {
            number: SkNumber::parse("12/2025").unwrap(),
            revoked_on: date(2025, 3, 10),
            reason: reason("Salah penulisan nama KIM"),
        })]);
}

#[test]
fn r10_a_revoked_sk_can_be_replaced_by_a_new_one() {
    let mut given = with_officers();
    given.push(sk_issued());
    given.push(CommunityEvent::SkRevoked(SkRevoked {
        number: SkNumber::parse("12/2025").unwrap(),
        revoked_on: date(2025, 3, 10),
        reason: reason("Salah penulisan nama KIM"),
    }));
    let mut second = issue_sk();
    second.number = SkNumber::parse("14/2025").unwrap();
    second.issued_on = date(2025, 3, 11);
    let expected = sk_issued_event(&second);
    framework()
        .given(given)
        .when(CommunityCommand::IssueSk(second))
        .then_expect_events(vec![CommunityEvent::SkIssued(expected)]);
}

#[test]
fn r10_revoking_without_an_active_sk_is_rejected() {
    expect_rule(
        framework()
            .given(with_officers())
            .when(CommunityCommand::RevokeSk(RevokeSk {
                revoked_on: date(2025, 3, 10),
                reason: reason("Salah nomor"),
            })),
        Rule::R10,
        "sk",
    );
}

#[test]
fn r10_deactivating_an_active_media_channel_records_the_reason() {
    let channel = register_channel();
    let deactivation = DeactivateMediaChannel {
        channel_id: channel.channel_id,
        deactivated_on: date(2025, 8, 1),
        reason: reason("Akun diretas"),
    };
    framework()
        .given(vec![formed(), channel_registered(&channel)])
        .when(CommunityCommand::DeactivateMediaChannel(
            deactivation.clone(),
        ))
        .then_expect_events(vec![CommunityEvent::MediaChannelDeactivated(
            MediaChannelDeactivated {
                channel_id: deactivation.channel_id,
                deactivated_on: deactivation.deactivated_on,
                reason: deactivation.reason,
            },
        )]);
}

#[test]
fn r10_deactivating_an_unknown_or_inactive_media_channel_is_rejected() {
    let channel = register_channel();
    let deactivation = DeactivateMediaChannel {
        channel_id: channel.channel_id,
        deactivated_on: date(2025, 8, 1),
        reason: reason("Akun diretas"),
    };
    expect_rule(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::DeactivateMediaChannel(
                deactivation.clone(),
            )),
        Rule::R10,
        "channel_id",
    );
    expect_rule(
        framework()
            .given(vec![
                formed(),
                channel_registered(&channel),
                CommunityEvent::MediaChannelDeactivated(MediaChannelDeactivated {
                    channel_id: channel.channel_id,
                    deactivated_on: date(2025, 7, 1),
                    reason: reason("Akun diretas"),
                }),
            ])
            .when(CommunityCommand::DeactivateMediaChannel(deactivation)),
        Rule::R10,
        "channel_id",
    );
}

#[test]
fn r10_deactivating_an_active_e_business_records_the_reason() {
    let shop = register_e_business();
    framework()
        .given(vec![formed(), e_business_registered(&shop)])
        .when(CommunityCommand::DeactivateEBusiness(DeactivateEBusiness {
            enterprise_id: shop.enterprise_id,
            deactivated_on: date(2025, 9, 1),
            reason: reason("Toko tutup"),
        }))
        .then_expect_events(vec![CommunityEvent::EBusinessDeactivated(
            EBusinessDeactivated {
                enterprise_id: shop.enterprise_id,
                deactivated_on: date(2025, 9, 1),
                reason: reason("Toko tutup"),
            },
        )]);
}

#[test]
fn r10_deactivating_an_unknown_e_business_is_rejected() {
    expect_rule(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::DeactivateEBusiness(DeactivateEBusiness {
                enterprise_id: Uuid::new_v4(),
                deactivated_on: date(2025, 9, 1),
                reason: reason("Toko tutup"),
            })),
        Rule::R10,
        "enterprise_id",
    );
}

// ---------------------------------------------------------------------------------------------
// Bimtek, activities, media and e-business
// ---------------------------------------------------------------------------------------------

#[test]
fn a_bimtek_of_the_batam_dinas_with_38_participants_is_recorded() {
    let cmd = record_bimtek("21.71", 38);
    let expected = bimtek_attended(&cmd);
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::RecordBimtek(cmd))
        .then_expect_events(vec![expected]);
}

#[test]
fn a_bimtek_of_the_province_dinas_is_recorded() {
    let cmd = record_bimtek("21", 5);
    let expected = bimtek_attended(&cmd);
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::RecordBimtek(cmd))
        .then_expect_events(vec![expected]);
}

#[test]
fn a_bimtek_without_participants_is_rejected() {
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::RecordBimtek(record_bimtek("21.71", 0))),
        ErrorKind::Invalid,
        "participants",
    );
}

#[test]
fn a_bimtek_organised_outside_the_kims_region_or_not_by_a_dinas_is_rejected() {
    // Sleman does not contain Batam; a kecamatan runs no Dinas; 21.72 is not in the edition.
    for organizer in ["34.04", "34", "21.71.01", "21.72"] {
        expect_kind(
            framework()
                .given(vec![formed()])
                .when(CommunityCommand::RecordBimtek(record_bimtek(organizer, 10))),
            ErrorKind::Invalid,
            "organizer_region",
        );
    }
}

#[test]
fn an_activity_is_recorded() {
    let cmd = record_activity(ActivityKind::Aspiration);
    let expected = CommunityEvent::ActivityRecorded(ActivityRecorded {
        activity_id: cmd.activity_id,
        kind: cmd.kind,
        title: cmd.title.clone(),
        held_on: cmd.held_on,
        participants: cmd.participants,
    });
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::RecordActivity(cmd))
        .then_expect_events(vec![expected]);
}

#[test]
fn recording_the_same_activity_twice_is_rejected() {
    let cmd = record_activity(ActivityKind::Dissemination);
    let first = CommunityEvent::ActivityRecorded(ActivityRecorded {
        activity_id: cmd.activity_id,
        kind: cmd.kind,
        title: cmd.title.clone(),
        held_on: cmd.held_on,
        participants: cmd.participants,
    });
    expect_kind(
        framework()
            .given(vec![formed(), first])
            .when(CommunityCommand::RecordActivity(cmd)),
        ErrorKind::Invalid,
        "activity_id",
    );
}

#[test]
fn an_activity_with_zero_participants_is_rejected() {
    let mut cmd = record_activity(ActivityKind::Networking);
    cmd.participants = Some(0);
    expect_kind(
        framework()
            .given(vec![formed()])
            .when(CommunityCommand::RecordActivity(cmd)),
        ErrorKind::Invalid,
        "participants",
    );
}

#[test]
fn a_media_channel_is_registered() {
    let cmd = register_channel();
    let expected = channel_registered(&cmd);
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::RegisterMediaChannel(cmd))
        .then_expect_events(vec![expected]);
}

#[test]
fn registering_the_same_media_channel_twice_is_rejected() {
    let cmd = register_channel();
    expect_kind(
        framework()
            .given(vec![formed(), channel_registered(&cmd)])
            .when(CommunityCommand::RegisterMediaChannel(cmd)),
        ErrorKind::Invalid,
        "channel_id",
    );
}

#[test]
fn an_e_business_is_registered() {
    let cmd = register_e_business();
    let expected = e_business_registered(&cmd);
    framework()
        .given(vec![formed()])
        .when(CommunityCommand::RegisterEBusiness(cmd))
        .then_expect_events(vec![expected]);
}

#[test]
fn registering_the_same_e_business_twice_is_rejected() {
    let cmd = register_e_business();
    expect_kind(
        framework()
            .given(vec![formed(), e_business_registered(&cmd)])
            .when(CommunityCommand::RegisterEBusiness(cmd)),
        ErrorKind::Invalid,
        "enterprise_id",
    );
}

// ---------------------------------------------------------------------------------------------
// Folding
// ---------------------------------------------------------------------------------------------

#[test]
fn the_batam_story_folds_into_a_legal_kim_2() {
    let mut kim = Community::default();
    assert!(!kim.is_formed());
    let ketua = appoint(OfficerRole::Ketua, "Zul Arif");
    let ketua_id = ketua.person_id;
    run(&mut kim, CommunityCommand::FormCommunity(form_command())); // 1
    run(&mut kim, CommunityCommand::AppointOfficer(ketua)); // 2
    run(
        &mut kim,
        CommunityCommand::AppointOfficer(appoint(OfficerRole::Sekretaris, "Indra Sufian")),
    ); // 3
    run(
        &mut kim,
        CommunityCommand::AppointOfficer(appoint(OfficerRole::Bendahara, "Siti Aminah")),
    ); // 4
    run(&mut kim, CommunityCommand::IssueSk(issue_sk())); // 5
    run(
        &mut kim,
        CommunityCommand::AssignRegistrationNumber(assign_number("21.71")),
    ); // 6
    run(
        &mut kim,
        CommunityCommand::RecordBimtek(record_bimtek("21.71", 38)),
    ); // 7
    run(
        &mut kim,
        CommunityCommand::RecordActivity(record_activity(ActivityKind::DevelopmentAgent)),
    ); // 8
    assert!(kim.satisfies_evidence(8, Evidence::DevelopmentAgentActivity));
    assert!(!kim.satisfies_evidence(7, Evidence::DevelopmentAgentActivity));
    let advanced = run(
        &mut kim,
        CommunityCommand::AdvanceStage(advance(Stage::Kim2, vec![8])),
    ); // 9
    assert_eq!(
        advanced,
        vec![stage_advanced(Stage::Kim1, Stage::Kim2, vec![8])]
    );

    assert!(kim.is_formed());
    assert_eq!(
        kim.name().map(CommunityName::as_str),
        Some("KIM Pemping Bersatu")
    );
    assert_eq!(kim.village(), Some(&region(PEMPING)));
    assert_eq!(kim.formed_on(), Some(formed_on()));
    assert_eq!(kim.member_count(), 25);
    assert_eq!(kim.stage(), Stage::Kim2);
    assert_eq!(kim.status(), CommunityStatus::Active);
    assert_eq!(kim.status().as_str(), "active");
    let mut roles: Vec<OfficerRole> = kim.active_officers().map(|(_, role)| role).collect();
    roles.sort_by_key(|role| role.as_str());
    assert_eq!(
        roles,
        vec![
            OfficerRole::Bendahara,
            OfficerRole::Ketua,
            OfficerRole::Sekretaris
        ]
    );
    assert_eq!(kim.holder_of(OfficerRole::Ketua), Some(ketua_id));
    assert_eq!(
        kim.active_sk(),
        Some((&SkNumber::parse("12/2025").unwrap(), date(2025, 3, 3)))
    );
    assert_eq!(
        kim.registration_number().map(RegistrationNumber::as_str),
        Some("KIM-2171-0001")
    );
    assert_eq!(kim.registration_regency(), Some(&region("21.71")));
    assert!(kim.is_legal());
    assert_eq!(kim.bimtek_count(), 1);
    assert_eq!(kim.activity_count(), 1);
    assert_eq!(kim.version(), 9);
}

#[test]
fn revoking_the_sk_makes_the_kim_no_longer_legal() {
    let mut kim = Community::default();
    for event in legal_kim() {
        kim.apply(event);
    }
    assert!(kim.is_legal());
    run(
        &mut kim,
        CommunityCommand::RevokeSk(RevokeSk {
            revoked_on: date(2025, 5, 1),
            reason: reason("SK dibatalkan oleh Lurah"),
        }),
    );
    assert!(!kim.is_legal());
    assert!(kim.active_sk().is_none());
    assert!(kim.registration_number().is_some());
}

#[test]
fn deactivation_removes_channels_and_e_businesses_from_the_active_counts() {
    let channel = register_channel();
    let shop = register_e_business();
    let mut kim = Community::default();
    for event in [
        formed(),
        channel_registered(&channel),
        e_business_registered(&shop),
    ] {
        kim.apply(event);
    }
    assert_eq!(
        (
            kim.active_media_channel_count(),
            kim.active_e_business_count()
        ),
        (1, 1)
    );
    assert!(kim.satisfies_evidence(2, Evidence::ActiveMediaChannel));
    assert!(kim.satisfies_evidence(3, Evidence::ActiveEBusiness));
    kim.apply(CommunityEvent::MediaChannelDeactivated(
        MediaChannelDeactivated {
            channel_id: channel.channel_id,
            deactivated_on: date(2025, 8, 1),
            reason: reason("Akun diretas"),
        },
    ));
    kim.apply(CommunityEvent::EBusinessDeactivated(EBusinessDeactivated {
        enterprise_id: shop.enterprise_id,
        deactivated_on: date(2025, 8, 1),
        reason: reason("Toko tutup"),
    }));
    assert_eq!(
        (
            kim.active_media_channel_count(),
            kim.active_e_business_count()
        ),
        (0, 0)
    );
    assert!(!kim.satisfies_evidence(2, Evidence::ActiveMediaChannel));
    assert!(!kim.satisfies_evidence(3, Evidence::ActiveEBusiness));
    assert_eq!(kim.version(), 5);
}

#[test]
fn apply_never_panics_on_an_odd_sequence() {
    let channel = register_channel();
    let mut kim = Community::default();
    let odd = vec![
        // Compensations of things that never happened, before the KIM exists.
        CommunityEvent::OfficerDismissed(OfficerDismissed {
            person_id: Uuid::new_v4(),
            role: OfficerRole::Ketua,
            dismissed_on: date(2020, 1, 1),
            reason: reason("?"),
        }),
        CommunityEvent::SkRevoked(SkRevoked {
            number: SkNumber::parse("1/2020").unwrap(),
            revoked_on: date(2020, 1, 1),
            reason: reason("?"),
        }),
        CommunityEvent::MediaChannelDeactivated(MediaChannelDeactivated {
            channel_id: channel.channel_id,
            deactivated_on: date(2020, 1, 1),
            reason: reason("?"),
        }),
        CommunityEvent::EBusinessDeactivated(EBusinessDeactivated {
            enterprise_id: Uuid::new_v4(),
            deactivated_on: date(2020, 1, 1),
            reason: reason("?"),
        }),
        stage_advanced(Stage::Kim3, Stage::Kim4, vec![u64::MAX]),
        CommunityEvent::StageLowered(StageLowered {
            from: Stage::Kim1,
            to: Stage::Kim4,
            assessed_on: date(2020, 1, 1),
            reason: reason("?"),
        }),
        dissolved(),
        suspended(),
        appointed(OfficerRole::Ketua),
        appointed(OfficerRole::Ketua),
        number_assigned(),
        CommunityEvent::MemberCountUpdated(MemberCountUpdated {
            member_count: u32::MAX,
            previous: 0,
            effective_on: date(2020, 1, 1),
        }),
        // Then the formation, twice, and a channel registered twice.
        formed(),
        formed(),
        channel_registered(&channel),
        channel_registered(&channel),
    ];
    let count = odd.len() as u64;
    for event in odd {
        kim.apply(event);
    }
    assert_eq!(kim.version(), count);
    assert!(kim.is_formed());
    assert_eq!(kim.status(), CommunityStatus::Active);
    assert_eq!(kim.active_officers().count(), 2);
    assert!(!kim.is_legal());
    assert_eq!(kim.active_media_channel_count(), 1);
    // The state is still usable: decisions run on it without panicking either.
    let _ = kim.decide(CommunityCommand::IssueSk(issue_sk()), &services());
}

#[test]
fn the_state_survives_a_snapshot_round_trip() {
    let mut kim = Community::default();
    for event in legal_kim() {
        kim.apply(event);
    }
    kim.apply(channel_registered(&register_channel()));
    let json = serde_json::to_string(&kim).unwrap();
    let back: Community = serde_json::from_str(&json).unwrap();
    assert_eq!(back, kim);
    assert_eq!(
        serde_json::to_value(CommunityStatus::Suspended).unwrap(),
        "suspended"
    );
}

#[test]
fn handle_applies_the_decided_events_to_the_aggregate() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut kim = Community::default();
        let sink = cqrs_es::event_sink::EventSink::default();
        kim.handle(
            CommunityCommand::FormCommunity(form_command()),
            &services(),
            &sink,
        )
        .await
        .unwrap();
        assert_eq!(sink.collect().await, vec![formed()]);
        assert!(kim.is_formed());
        assert_eq!(kim.version(), 1);
    });
}

#[test]
fn errors_read_as_plain_sentences_with_their_rule_and_field() {
    let error = framework()
        .given(vec![formed()])
        .when(CommunityCommand::IssueSk(issue_sk()))
        .inspect_result()
        .expect_err("no officers");
    assert_eq!(
        error.to_string(),
        "R6: an SK needs an active ketua, sekretaris and bendahara; the KIM has no active ketua \
         (field `officers.ketua`)"
    );
}

#[test]
fn the_list_of_event_names_is_the_enum_s_variants() {
    // serde names every variant when it refuses an unknown one: the list must be exactly those.
    let error = serde_json::from_value::<CommunityEvent>(serde_json::json!({"NoSuchEvent": {}}))
        .expect_err("an unknown event");
    let message = error.to_string();
    let expected = message
        .split("expected one of ")
        .nth(1)
        .expect("serde lists the variants");
    let variants: Vec<&str> = expected
        .split(", ")
        .map(|name| name.trim_matches(|c| c == '`' || c == ' '))
        .map(|name| name.split('`').next().unwrap_or(name))
        .collect();
    assert_eq!(variants, CommunityEvent::NAMES, "{message}");
    for (name, fields) in CommunityEvent::SEALED_FIELDS {
        assert!(CommunityEvent::NAMES.contains(&name), "{name}");
        assert!(!fields.is_empty());
    }
}

//! The analytics export's lines: the measures' fields, and nothing that names a KIM or a person.

use std::collections::HashMap;

use serde_json::Value;
use simpul_domain::events::*;
use simpul_domain::sealed::SealedText;
use simpul_domain::text::{CommunityName, Reason, RegistrationNumber, SkNumber, Title};
use simpul_domain::ActorRole;
use simpul_store::MasterKey;
use uuid::Uuid;

use super::*;

const ID: &str = "0199a8f2-7c1e-7d3a-9b1e-3f5c2a8d4e62";
const NAME: &str = "KIM Maju Bersama";
const SK: &str = "12/2025";
const NOMOR_INDUK: &str = "KIM-3404-0001";
const REASON: &str = "Tidak aktif setahun";
const TITLE: &str = "Bimtek Literasi Digital";

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn code(text: &str) -> RegionCode {
    RegionCode::parse(text).unwrap()
}

fn reason() -> Reason {
    Reason::parse(REASON).unwrap()
}

fn stored(position: u64, event: &CommunityEvent) -> StoredEvent {
    let payload = serde_json::to_value(event).unwrap();
    let event_type = payload
        .as_object()
        .and_then(|object| object.keys().next().cloned())
        .unwrap();
    StoredEvent {
        position,
        aggregate_type: "Community".to_owned(),
        aggregate_id: ID.to_owned(),
        sequence: position,
        event_type,
        event_version: "1.0".to_owned(),
        payload,
        metadata: HashMap::from([
            ("actor_id".to_owned(), "token:operator-sleman".to_owned()),
            ("request_id".to_owned(), "req-rahasia".to_owned()),
            ("reason".to_owned(), REASON.to_owned()),
        ]),
    }
}

/// One event of every type, the names, numbers and reasons a line must not carry in them.
fn history() -> Vec<CommunityEvent> {
    let person_id = Uuid::new_v4();
    let sealed = SealedText {
        person_id,
        alg: simpul_domain::sealed::ALGORITHM.to_owned(),
        nonce: "bm9uY2U=".to_owned(),
        ciphertext: "Y2lwaGVy".to_owned(),
    };
    vec![
        CommunityEvent::CommunityFormed(CommunityFormed {
            name: CommunityName::parse(NAME).unwrap(),
            village: code("34.04.01.2001"),
            region_edition: "2025".to_owned(),
            formed_on: date("2025-01-10"),
            origin_group: Some("Karang Taruna Maju".to_owned()),
            member_count: 12,
            initiated_by: "Rudi Hartono".to_owned(),
            recorded_by_role: ActorRole::Regency,
            on_behalf_of_community: true,
            stage: Stage::Kim1,
            policy_version: "2025.1".to_owned(),
        }),
        CommunityEvent::OfficerAppointed(OfficerAppointed {
            person_id,
            role: simpul_domain::OfficerRole::Ketua,
            bidang: None,
            name: sealed,
            contact: None,
            appointed_on: date("2025-01-11"),
            eligibility: Eligibility {
                not_asn: true,
                no_criminal_record: true,
                no_party_affiliation: true,
                no_ngo_affiliation: true,
            },
        }),
        CommunityEvent::SkIssued(SkIssued {
            number: SkNumber::parse(SK).unwrap(),
            issued_on: date("2025-03-01"),
            subject: Title::parse("Pembentukan KIM Maju Bersama").unwrap(),
            issuing_office: code("34.04.01.2001"),
            region_edition: "2025".to_owned(),
            signed_by: "Kepala Desa Balecatur".to_owned(),
            roster_acknowledged: true,
        }),
        CommunityEvent::RegistrationNumberAssigned(RegistrationNumberAssigned {
            number: RegistrationNumber::parse(NOMOR_INDUK).unwrap(),
            regency: code("34.04"),
            region_edition: "2025".to_owned(),
            assigned_on: date("2025-03-15"),
        }),
        CommunityEvent::BimtekAttended(BimtekAttended {
            session_id: Uuid::new_v4(),
            kind: BimtekKind::Workshop,
            title: Title::parse(TITLE).unwrap(),
            held_on: date("2025-05-20"),
            organizer_region: code("34"),
            region_edition: "2025".to_owned(),
            participants: 25,
        }),
        CommunityEvent::StageAdvanced(StageAdvanced {
            from: Stage::Kim1,
            to: Stage::Kim2,
            assessed_on: date("2025-09-10"),
            evidence: vec![5],
            policy_version: "2025.1".to_owned(),
        }),
        CommunityEvent::StageLowered(StageLowered {
            from: Stage::Kim2,
            to: Stage::Kim1,
            assessed_on: date("2025-10-01"),
            reason: reason(),
        }),
        CommunityEvent::SkRevoked(SkRevoked {
            number: SkNumber::parse(SK).unwrap(),
            revoked_on: date("2025-10-02"),
            reason: reason(),
        }),
        CommunityEvent::CommunitySuspended(CommunitySuspended {
            suspended_on: date("2025-10-03"),
            reason: reason(),
        }),
        CommunityEvent::CommunityReactivated(CommunityReactivated {
            reactivated_on: date("2025-10-04"),
            reason: reason(),
        }),
        CommunityEvent::CommunityDissolved(CommunityDissolved {
            dissolved_on: date("2025-10-05"),
            reason: reason(),
        }),
    ]
}

fn lines(pseudonyms: &Pseudonyms) -> Vec<AnalyticsLine> {
    let village = code("34.04.01.2001");
    history()
        .iter()
        .enumerate()
        .filter_map(|(index, event)| {
            AnalyticsLine::from_stored(stored(index as u64 + 1, event), &village, pseudonyms)
                .unwrap()
        })
        .collect()
}

fn json(line: &AnalyticsLine) -> Value {
    let mut out = Vec::new();
    line.write_to(&mut out).unwrap();
    assert_eq!(out.last(), Some(&b'\n'));
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn each_progression_event_gives_its_dates_stages_and_region_codes() {
    let pseudonyms = Pseudonyms::new(MasterKey::generate().derive("test"));
    let lines = lines(&pseudonyms);
    let events: Vec<&str> = lines.iter().map(|line| line.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "CommunityFormed",
            "SkIssued",
            "RegistrationNumberAssigned",
            "BimtekAttended",
            "StageAdvanced",
            "StageLowered",
            "SkRevoked",
            "CommunitySuspended",
            "CommunityReactivated",
            "CommunityDissolved",
        ],
        "officers are left out"
    );
    let kim = pseudonyms.of(ID);
    let expected = [
        serde_json::json!({"position": 1, "event": "CommunityFormed", "formed_on": "2025-01-10"}),
        serde_json::json!({"position": 3, "event": "SkIssued", "issued_on": "2025-03-01"}),
        serde_json::json!({"position": 4, "event": "RegistrationNumberAssigned",
            "assigned_on": "2025-03-15"}),
        serde_json::json!({"position": 5, "event": "BimtekAttended", "held_on": "2025-05-20",
            "kind": "workshop", "organizer_level": "province", "participants": 25}),
        serde_json::json!({"position": 6, "event": "StageAdvanced", "assessed_on": "2025-09-10",
            "from": "kim1", "to": "kim2"}),
        serde_json::json!({"position": 7, "event": "StageLowered", "assessed_on": "2025-10-01",
            "from": "kim2", "to": "kim1"}),
        serde_json::json!({"position": 8, "event": "SkRevoked", "revoked_on": "2025-10-02"}),
        serde_json::json!({"position": 9, "event": "CommunitySuspended",
            "suspended_on": "2025-10-03"}),
        serde_json::json!({"position": 10, "event": "CommunityReactivated",
            "reactivated_on": "2025-10-04"}),
        serde_json::json!({"position": 11, "event": "CommunityDissolved",
            "dissolved_on": "2025-10-05"}),
    ];
    for (line, expected) in lines.iter().zip(expected) {
        let mut expected = expected;
        for (key, value) in [
            ("kim", kim.as_str()),
            ("desa_code", "34.04.01.2001"),
            ("kecamatan_code", "34.04.01"),
            ("regency_code", "34.04"),
            ("province_code", "34"),
        ] {
            expected[key] = Value::String(value.to_owned());
        }
        let actual = json(line);
        assert_eq!(actual, expected);
        // What is written reads back as the same line.
        assert_eq!(
            &serde_json::from_value::<AnalyticsLine>(actual).unwrap(),
            line
        );
    }
}

#[test]
fn no_line_names_the_kim_a_person_an_sk_a_nomor_induk_or_an_actor() {
    let pseudonyms = Pseudonyms::new(MasterKey::generate().derive("test"));
    let mut text = Vec::new();
    for line in lines(&pseudonyms) {
        line.write_to(&mut text).unwrap();
    }
    let text = String::from_utf8(text).unwrap();
    for secret in [
        ID,
        NAME,
        "Maju",
        SK,
        NOMOR_INDUK,
        REASON,
        TITLE,
        "Rudi Hartono",
        "Karang Taruna",
        "Kepala Desa",
        "token:",
        "req-rahasia",
        "regency\"",
        "session",
        "evidence",
        "2025.1",
    ] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}

#[test]
fn pseudonyms_are_stable_per_key_and_differ_between_keys_and_kim() {
    let master = MasterKey::generate();
    let one = Pseudonyms::new(master.derive("test"));
    let again = Pseudonyms::new(master.derive("test"));
    let other = Pseudonyms::new(MasterKey::generate().derive("test"));
    let pseudonym = one.of(ID);
    assert_eq!(pseudonym.len(), 2 * PSEUDONYM_BYTES);
    assert!(pseudonym
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(again.of(ID), pseudonym);
    assert_ne!(other.of(ID), pseudonym);
    assert_ne!(one.of(&Uuid::new_v4().to_string()), pseudonym);
    assert!(!pseudonym.contains(&ID.replace('-', "")[..8]));
}

#[test]
fn files_are_named_after_the_region_and_the_start() {
    assert_eq!(filename(None, 0), "simpul-analytics-indonesia.jsonl");
    assert_eq!(filename(Some("34.04"), 0), "simpul-analytics-34.04.jsonl");
    assert_eq!(
        filename(Some("34"), 17),
        "simpul-analytics-34-after-17.jsonl"
    );
}

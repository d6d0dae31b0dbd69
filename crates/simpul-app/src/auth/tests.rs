//! The authorization matrix, generated from a table written independently of `role_may`:
//! every role × every action × (in scope / out of scope / missing), for communities and regions.

use chrono::Utc;
use simpul_domain::{RegionInfo, RegionLevel};

use super::*;

const EDITION: &str = "test-edition";
const SLEMAN_DESA: &str = "34.04.01.2001";
const KOTA_YOGYA_KELURAHAN: &str = "34.71.01.1001";
const BATAM_KELURAHAN: &str = "21.71.01.1002";

/// A few real Kemendagri rows (Kepmendagri 300.2.2-2138/2025).
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
            (
                BATAM_KELURAHAN,
                "Pemping",
                RegionLevel::Village,
                "kelurahan",
            ),
            (
                "34",
                "Daerah Istimewa Yogyakarta",
                RegionLevel::Province,
                "provinsi",
            ),
            ("34.04", "Sleman", RegionLevel::Regency, "kabupaten"),
            ("34.04.01", "Gamping", RegionLevel::District, "kecamatan"),
            (SLEMAN_DESA, "Balecatur", RegionLevel::Village, "desa"),
            ("34.71", "Yogyakarta", RegionLevel::Regency, "kota"),
            (
                "34.71.01",
                "Mantrijeron",
                RegionLevel::District,
                "kecamatan",
            ),
            (
                KOTA_YOGYA_KELURAHAN,
                "Gedongkiwo",
                RegionLevel::Village,
                "kelurahan",
            ),
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

fn region(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

/// The issue's table, one row per action; columns: admin national province regency pegiat
/// auditor analyst. `x` = may (inside the scope), `.` = may not.
const MATRIX: [(Action, &str); 27] = [
    (Action::ReadCommunity, "xxxxxx."),
    (Action::ReadHistory, "x....x."),
    (Action::ReadTimeline, "xxxxxx."),
    (Action::FormCommunity, "x..x..."),
    (Action::AppointOfficer, "x...x.."),
    (Action::DismissOfficer, "x...x.."),
    (Action::UpdateMembers, "x...x.."),
    (Action::IssueSk, "x..x..."),
    (Action::RevokeSk, "x..x..."),
    (Action::AssignRegistration, "x..x..."),
    (Action::RecordBimtek, "x.xx..."),
    (Action::RecordActivity, "x...x.."),
    (Action::RegisterMediaChannel, "x...x.."),
    (Action::DeactivateMediaChannel, "x...x.."),
    (Action::RegisterEBusiness, "x...x.."),
    (Action::DeactivateEBusiness, "x...x.."),
    (Action::ChangeStage, "x..x..."),
    (Action::Suspend, "x..x..."),
    (Action::Reactivate, "x..x..."),
    (Action::Dissolve, "x..x..."),
    (Action::ManageTokens, "x......"),
    (Action::ReadRegion, "xxxxxxx"),
    (Action::ImportRegistry, "x..x..."),
    (Action::ReadStatus, "x....x."),
    (Action::ReadLedger, "x....x."),
    (Action::ReadAnalytics, "xxxx.xx"),
    (Action::ExportAnalytics, "x....xx"),
];

/// The community every principal's scope covers (a desa in Sleman; the pegiat's own KIM).
fn own_community() -> Uuid {
    Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001)
}

fn principal(role: ActorRole, scope: &str) -> Principal {
    let regions = FixtureRegions::new();
    Principal {
        token_id: Uuid::new_v4(),
        name: format!("{role} test"),
        role,
        scope: Scope::parse(role, scope, &regions).unwrap(),
    }
}

/// One principal per role, scoped so that Sleman is inside and Batam outside (except national).
fn principals() -> Vec<Principal> {
    let own = own_community().to_string();
    vec![
        principal(ActorRole::Admin, "national"),
        principal(ActorRole::National, "national"),
        principal(ActorRole::Province, "34"),
        principal(ActorRole::Regency, "34.04"),
        principal(ActorRole::Pegiat, &own),
        principal(ActorRole::Auditor, "34.04"),
        principal(ActorRole::Analyst, "34.04"),
    ]
}

fn allowed(role: ActorRole, action: Action) -> bool {
    let column = TOKEN_ROLES.iter().position(|r| *r == role).unwrap();
    let (_, row) = MATRIX.iter().find(|(a, _)| *a == action).unwrap();
    row.as_bytes()[column] == b'x'
}

fn forbidden(result: &Result<(), AuthError>) -> bool {
    matches!(result, Err(AuthError::Forbidden { .. }))
}

#[test]
fn the_matrix_table_names_every_action_once() {
    let mut listed: Vec<Action> = MATRIX.iter().map(|(action, _)| *action).collect();
    listed.sort();
    let mut all = Action::ALL.to_vec();
    all.sort();
    all.dedup();
    assert_eq!(listed, all);
    assert_eq!(all.len(), Action::ALL.len());
    assert!(MATRIX.iter().all(|(_, row)| row.len() == TOKEN_ROLES.len()));
}

#[test]
fn the_full_community_matrix_holds() {
    let sleman = region(SLEMAN_DESA);
    let batam = region(BATAM_KELURAHAN);
    let own = own_community().to_string();
    let other = Uuid::new_v4().to_string();
    let mut checked = 0;
    for principal in principals() {
        let national = principal.scope == Scope::National;
        for action in Action::ALL {
            let may = allowed(principal.role, action);
            let case = format!("{} ({}) {action:?}", principal.role, principal.scope);
            assert_eq!(principal.can(action), may, "{case}: can");

            // In scope: the permission decides, 403 when lacking.
            let in_scope = principal.authorize_community(action, &own, Some(&sleman));
            if may {
                assert_eq!(in_scope, Ok(()), "{case}: in scope");
            } else {
                assert!(forbidden(&in_scope), "{case}: in scope gave {in_scope:?}");
            }

            // Out of scope: 404 exactly like a missing community, whatever the permission.
            let out_of_scope = principal.authorize_community(action, &other, Some(&batam));
            if national {
                assert_eq!(out_of_scope, in_scope, "{case}: national sees Batam");
            } else {
                assert_eq!(
                    out_of_scope,
                    Err(AuthError::NotFound),
                    "{case}: out of scope"
                );
            }

            // Missing: 404 for everyone, even admin.
            let missing = principal.authorize_community(action, &other, None);
            assert_eq!(missing, Err(AuthError::NotFound), "{case}: missing");
            let missing_own = principal.authorize_community(action, &own, None);
            assert_eq!(missing_own, Err(AuthError::NotFound), "{case}: missing own");
            checked += 4;
        }
    }
    assert_eq!(checked, TOKEN_ROLES.len() * Action::ALL.len() * 4);
}

#[test]
fn the_full_region_matrix_holds() {
    let sleman_desa = region(SLEMAN_DESA);
    let sleman = region("34.04");
    let batam = region("21.71");
    for principal in principals() {
        let national = principal.scope == Scope::National;
        let community_scope = matches!(principal.scope, Scope::Community(_));
        for action in Action::ALL {
            let may = allowed(principal.role, action);
            let case = format!("{} ({}) {action:?}", principal.role, principal.scope);
            for inside in [&sleman_desa, &sleman] {
                let result = principal.authorize_region(action, inside);
                if action == Action::ReadRegion || (may && !community_scope) {
                    assert_eq!(result, Ok(()), "{case}: {inside}");
                } else {
                    assert!(forbidden(&result), "{case}: {inside} gave {result:?}");
                }
            }
            let outside = principal.authorize_region(action, &batam);
            if action == Action::ReadRegion || (may && national) {
                assert_eq!(outside, Ok(()), "{case}: Batam");
            } else {
                assert!(forbidden(&outside), "{case}: Batam gave {outside:?}");
            }
            let everywhere = principal.authorize_national(action);
            if action == Action::ReadRegion || (may && national) {
                assert_eq!(everywhere, Ok(()), "{case}: national");
            } else {
                assert!(
                    forbidden(&everywhere),
                    "{case}: national gave {everywhere:?}"
                );
            }
        }
    }
}

/// Reads over many KIM: every principal × read action × (a region inside, one outside, none),
/// with a missing region meaning the token's own scope or the whole country.
#[test]
fn the_read_scope_matrix_holds() {
    let sleman = region("34.04");
    let batam = region("21.71");
    for principal in principals() {
        for action in [
            Action::ReadCommunity,
            Action::ReadHistory,
            Action::ReadAnalytics,
            Action::ExportAnalytics,
        ] {
            let may = allowed(principal.role, action);
            let case = format!("{} ({}) {action:?}", principal.role, principal.scope);
            let national = principal.scope == Scope::National;
            let community = matches!(principal.scope, Scope::Community(_));
            for without in [WithoutRegion::OwnScope, WithoutRegion::Country] {
                let inside = principal.read_scope(action, Some(&sleman), without);
                if may && !community {
                    assert_eq!(inside, Ok(Scope::Region(sleman.clone())), "{case}");
                } else {
                    assert!(forbidden(&inside.map(drop)), "{case}: Sleman");
                }
                let outside = principal.read_scope(action, Some(&batam), without);
                if may && national {
                    assert_eq!(outside, Ok(Scope::Region(batam.clone())), "{case}");
                } else {
                    assert!(forbidden(&outside.map(drop)), "{case}: Batam");
                }
            }
            let own = principal.read_scope(action, None, WithoutRegion::OwnScope);
            match (&principal.scope, may) {
                (_, false) => assert!(forbidden(&own.map(drop)), "{case}: own scope"),
                (Scope::National, true) => assert_eq!(own, Ok(Scope::National), "{case}"),
                (Scope::Region(scope), true) => {
                    assert_eq!(own, Ok(Scope::Region(scope.clone())), "{case}")
                }
                (Scope::Community(id), true) => {
                    assert_eq!(own, Ok(Scope::Community(*id)), "{case}")
                }
            }
            let country = principal.read_scope(action, None, WithoutRegion::Country);
            if may && national {
                assert_eq!(country, Ok(Scope::National), "{case}");
            } else {
                assert!(forbidden(&country.map(drop)), "{case}: country");
            }
        }
    }
    // Analytics covers regions: one KIM is not one.
    assert_eq!(Scope::National.regions_only(), Ok(None));
    assert_eq!(
        Scope::Region(sleman.clone()).regions_only(),
        Ok(Some(sleman))
    );
    assert!(forbidden(
        &Scope::Community(own_community()).regions_only().map(drop)
    ));
}

#[test]
fn a_regency_token_cannot_reach_a_kim_of_another_kabupaten_even_by_its_id() {
    let sleman = principal(ActorRole::Regency, "34.04");
    let kota = region(KOTA_YOGYA_KELURAHAN);
    let guessed = Uuid::new_v4().to_string();
    for action in Action::ALL {
        assert_eq!(
            sleman.authorize_community(action, &guessed, Some(&kota)),
            Err(AuthError::NotFound),
            "{action:?}"
        );
    }
    // Forming a KIM in Kota Yogyakarta or listing the province is outside its kabupaten.
    assert!(forbidden(
        &sleman.authorize_region(Action::FormCommunity, &kota)
    ));
    assert!(forbidden(
        &sleman.authorize_region(Action::ReadCommunity, &region("34"))
    ));
    assert_eq!(
        sleman.authorize_region(Action::FormCommunity, &region(SLEMAN_DESA)),
        Ok(())
    );
    // The province sees both kabupaten/kota.
    let diy = principal(ActorRole::Province, "34");
    assert_eq!(
        diy.authorize_community(Action::ReadCommunity, &guessed, Some(&kota)),
        Ok(())
    );
    assert_eq!(
        diy.authorize_community(Action::RecordBimtek, &guessed, Some(&kota)),
        Ok(())
    );
    assert!(forbidden(&diy.authorize_community(
        Action::IssueSk,
        &guessed,
        Some(&kota)
    )));
}

#[test]
fn a_pegiat_reaches_only_its_own_community() {
    let own = own_community();
    let pegiat = principal(ActorRole::Pegiat, &own.to_string());
    let desa = region(SLEMAN_DESA);
    // The same KIM, whatever the spelling of its id.
    let upper = own.to_string().to_uppercase();
    assert_eq!(
        pegiat.authorize_community(Action::AppointOfficer, &upper, Some(&desa)),
        Ok(())
    );
    // Another KIM in the very same desa, or an id that is not a UUID: not found.
    for other in [
        Uuid::new_v4().to_string(),
        "kim-1".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            pegiat.authorize_community(Action::ReadCommunity, &other, Some(&desa)),
            Err(AuthError::NotFound),
            "{other}"
        );
    }
    // Inside its KIM, government work is forbidden, not hidden.
    let refused = pegiat.authorize_community(Action::IssueSk, &own.to_string(), Some(&desa));
    assert_eq!(
        refused,
        Err(AuthError::Forbidden {
            reason: "role `pegiat` may not record an SK".to_owned()
        })
    );
}

#[test]
fn an_auditor_reads_history_in_any_scope_it_was_given() {
    let regions = FixtureRegions::new();
    let desa = region(SLEMAN_DESA);
    let id = Uuid::new_v4().to_string();
    for scope in ["national", "34", "34.04", "34.04.01", SLEMAN_DESA] {
        let auditor = principal(ActorRole::Auditor, scope);
        assert_eq!(auditor.scope.to_string(), scope);
        assert_eq!(
            auditor.authorize_community(Action::ReadHistory, &id, Some(&desa)),
            Ok(()),
            "{scope}"
        );
        assert!(forbidden(&auditor.authorize_community(
            Action::Suspend,
            &id,
            Some(&desa)
        )));
    }
    let narrow = Principal {
        scope: Scope::parse(ActorRole::Auditor, "34.04.01", &regions).unwrap(),
        ..principal(ActorRole::Auditor, "national")
    };
    assert_eq!(
        narrow.authorize_community(
            Action::ReadHistory,
            &id,
            Some(&region(KOTA_YOGYA_KELURAHAN))
        ),
        Err(AuthError::NotFound)
    );
}

#[test]
fn the_system_role_may_do_everything_and_unseals() {
    let system = Principal {
        token_id: Uuid::nil(),
        name: "import".to_owned(),
        role: ActorRole::System,
        scope: Scope::National,
    };
    for action in Action::ALL {
        assert!(system.can(action), "{action:?}");
    }
    assert!(system.may_unseal_personal_data());
}

#[test]
fn only_admin_auditor_regency_and_pegiat_unseal_personal_data() {
    let unseal: Vec<(ActorRole, bool)> = principals()
        .iter()
        .map(|p| (p.role, p.may_unseal_personal_data()))
        .collect();
    assert_eq!(
        unseal,
        vec![
            (ActorRole::Admin, true),
            (ActorRole::National, false),
            (ActorRole::Province, false),
            (ActorRole::Regency, true),
            (ActorRole::Pegiat, true),
            (ActorRole::Auditor, true),
            (ActorRole::Analyst, false),
        ]
    );
}

#[test]
fn scopes_parse_per_role_and_round_trip_through_display() {
    let regions = FixtureRegions::new();
    let community = Uuid::new_v4().to_string();
    for (role, text, expected) in [
        (ActorRole::Admin, "national", Scope::National),
        (ActorRole::National, "national", Scope::National),
        (ActorRole::Province, "34", Scope::Region(region("34"))),
        (ActorRole::Regency, "34.04", Scope::Region(region("34.04"))),
        (ActorRole::Regency, "21.71", Scope::Region(region("21.71"))),
        (
            ActorRole::Pegiat,
            community.as_str(),
            Scope::Community(Uuid::parse_str(&community).unwrap()),
        ),
        (ActorRole::Auditor, "national", Scope::National),
        (ActorRole::Auditor, "21", Scope::Region(region("21"))),
        (
            ActorRole::Auditor,
            SLEMAN_DESA,
            Scope::Region(region(SLEMAN_DESA)),
        ),
        (ActorRole::Analyst, "national", Scope::National),
        (ActorRole::Analyst, "34", Scope::Region(region("34"))),
        (ActorRole::Analyst, "21.71", Scope::Region(region("21.71"))),
    ] {
        let scope = Scope::parse(role, text, &regions).unwrap();
        assert_eq!(scope, expected, "{role} {text}");
        assert_eq!(scope.to_string(), text);
        assert_eq!(
            Scope::parse(role, &scope.to_string(), &regions).unwrap(),
            scope
        );
        assert_eq!(serde_json::to_value(&scope).unwrap(), text);
    }
}

#[test]
fn bad_scopes_are_refused_with_the_reason() {
    let regions = FixtureRegions::new();
    let check = |role: ActorRole, text: &str, expected: &str| {
        let error = Scope::parse(role, text, &regions).unwrap_err().to_string();
        assert!(error.contains(expected), "{role} {text}: {error}");
    };
    check(ActorRole::Admin, "34", "takes the scope `national`");
    check(ActorRole::National, "", "takes the scope `national`");
    check(ActorRole::Province, "national", "a province code");
    check(ActorRole::Province, "34.04", "but 34.04 is a kabupaten");
    check(
        ActorRole::Province,
        "99",
        "does not exist in edition test-edition",
    );
    check(ActorRole::Regency, "34", "but 34 is a provinsi");
    check(
        ActorRole::Regency,
        "34.04.01",
        "but 34.04.01 is a kecamatan",
    );
    check(ActorRole::Regency, "3404", "a kabupaten/kota code");
    check(ActorRole::Regency, "34.99", "does not exist");
    check(ActorRole::Pegiat, "34.04", "takes a community id");
    check(ActorRole::Auditor, "34.99.01", "does not exist");
    check(
        ActorRole::Auditor,
        "everything",
        "`national` or a region code",
    );
    check(
        ActorRole::Analyst,
        "34.04.01",
        "takes `national`, a province code (PP) or a kabupaten/kota code (PP.RR), but 34.04.01 \
         is a kecamatan",
    );
    check(ActorRole::Analyst, SLEMAN_DESA, "is a desa");
    check(ActorRole::Analyst, "34.99", "does not exist");
    check(
        ActorRole::Analyst,
        "everything",
        "takes `national`, a province code (PP) or a kabupaten/kota code (PP.RR), got",
    );
    check(ActorRole::System, "national", "cannot hold a token");
}

#[test]
fn token_roles_parse_but_system_and_unknown_names_do_not() {
    for role in TOKEN_ROLES {
        assert_eq!(parse_token_role(role.as_str()), Ok(role));
    }
    assert_eq!(
        parse_token_role("system"),
        Err(ScopeError::NotATokenRole(ActorRole::System))
    );
    assert!(parse_token_role("root")
        .unwrap_err()
        .to_string()
        .contains("unknown role `root`"));
}

#[test]
fn a_stored_token_becomes_a_principal_with_a_token_actor() {
    let regions = FixtureRegions::new();
    let mut stored = StoredToken {
        id: Uuid::new_v4(),
        name: "Diskominfo Sleman".to_owned(),
        role: "regency".to_owned(),
        scope: "34.04".to_owned(),
        created_at: Utc::now(),
        revoked_at: None,
    };
    let principal = Principal::from_stored(&stored, &regions).unwrap();
    assert_eq!(principal.role, ActorRole::Regency);
    assert_eq!(principal.scope, Scope::Region(region("34.04")));
    assert_eq!(principal.actor_id(), format!("token:{}", stored.id));
    let context = principal.command_context("req-1", Some(3));
    assert_eq!(context.actor_id, principal.actor_id());
    assert_eq!(context.actor_role, ActorRole::Regency);
    assert_eq!(context.expected_version, Some(3));

    stored.scope = "34".to_owned();
    assert!(Principal::from_stored(&stored, &regions).is_err());
    stored.scope = "34.04".to_owned();
    stored.role = "system".to_owned();
    assert!(Principal::from_stored(&stored, &regions).is_err());
    stored.role = "regency".to_owned();
    stored.revoked_at = Some(Utc::now());
    assert_eq!(
        Principal::from_stored(&stored, &regions),
        Err(ScopeError::Revoked(stored.id))
    );
}

#[test]
fn refusals_never_name_what_lies_outside_the_scope() {
    let sleman = principal(ActorRole::Regency, "34.04");
    let error = sleman
        .authorize_community(
            Action::ReadCommunity,
            "kim-batam",
            Some(&region(BATAM_KELURAHAN)),
        )
        .unwrap_err();
    assert_eq!(error.to_string(), "not found");
}

#[test]
fn an_analyst_reads_aggregates_and_the_export_and_nothing_that_names_a_kim() {
    let analyst = principal(ActorRole::Analyst, "34.04");
    let allowed: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|action| analyst.can(*action))
        .collect();
    assert_eq!(
        allowed,
        [
            Action::ReadRegion,
            Action::ReadAnalytics,
            Action::ExportAnalytics
        ]
    );
    assert!(!analyst.may_unseal_personal_data());
    // One KIM, even in its own kabupaten: forbidden (it exists there, and the analyst may know
    // that much from the aggregates); another kabupaten's: not found, as for every role.
    let id = Uuid::new_v4().to_string();
    for action in [
        Action::ReadCommunity,
        Action::ReadTimeline,
        Action::ReadHistory,
    ] {
        assert!(forbidden(&analyst.authorize_community(
            action,
            &id,
            Some(&region(SLEMAN_DESA))
        )));
        assert_eq!(
            analyst.authorize_community(action, &id, Some(&region(BATAM_KELURAHAN))),
            Err(AuthError::NotFound)
        );
    }
    // Aggregates of its kabupaten and of a kecamatan in it; not of the province or the country.
    let sleman = region("34.04");
    for action in [Action::ReadAnalytics, Action::ExportAnalytics] {
        assert_eq!(
            analyst.read_scope(action, None, WithoutRegion::OwnScope),
            Ok(Scope::Region(sleman.clone()))
        );
        assert_eq!(
            analyst.read_scope(action, Some(&region("34.04.01")), WithoutRegion::OwnScope),
            Ok(Scope::Region(region("34.04.01")))
        );
        assert!(forbidden(
            &analyst
                .read_scope(action, Some(&region("34")), WithoutRegion::OwnScope)
                .map(drop)
        ));
        assert!(forbidden(
            &analyst
                .read_scope(action, None, WithoutRegion::Country)
                .map(drop)
        ));
    }
    // The list of KIM (names) is not an aggregate.
    assert!(forbidden(
        &analyst
            .read_scope(Action::ReadCommunity, None, WithoutRegion::OwnScope)
            .map(drop)
    ));
    // A national analyst reads the country.
    let national = principal(ActorRole::Analyst, "national");
    assert_eq!(
        national.read_scope(Action::ReadAnalytics, None, WithoutRegion::Country),
        Ok(Scope::National)
    );
}

#[test]
fn supervisors_read_aggregates_but_only_analyst_auditor_and_admin_export_them() {
    for principal in principals() {
        let supervises = !matches!(principal.role, ActorRole::Pegiat);
        assert_eq!(
            principal.can(Action::ReadAnalytics),
            supervises,
            "{}",
            principal.role
        );
        let exports = matches!(
            principal.role,
            ActorRole::Admin | ActorRole::Auditor | ActorRole::Analyst
        );
        assert_eq!(
            principal.can(Action::ExportAnalytics),
            exports,
            "{}",
            principal.role
        );
    }
    // Reading aggregates widens nothing: every role that reads them read the same regions'
    // communities before, and the pegiat reads neither.
    for principal in principals() {
        if principal.role != ActorRole::Analyst {
            assert!(
                !principal.can(Action::ReadAnalytics) || principal.can(Action::ReadCommunity),
                "{}",
                principal.role
            );
        }
    }
}

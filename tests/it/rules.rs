//! The rules through the whole stack (executor + store) on both backends: the bad-input table
//! of issue 3 and an accepted twin for each. The exhaustive given/when/then cases live beside
//! the aggregate in `simpul-domain`.

use simpul_app::AppError;
use simpul_domain::commands::AdvanceStage;
use simpul_domain::events::ActivityKind;
use simpul_domain::{ActorRole, CommunityCommand, Rule, Stage};

use crate::both_backends;
use crate::helpers::*;

fn rule_of(result: Result<simpul_app::Outcome, AppError>) -> (Rule, String) {
    match result {
        Err(AppError::Domain(error)) => (error.rule.expect("a rule is named"), error.field.clone()),
        other => panic!("expected a rule error, got {other:?}"),
    }
}

both_backends!(
    bad_input_is_refused_naming_rule_and_field,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        let regency = context(ActorRole::Regency);
        let new_id = || uuid::Uuid::new_v4().to_string();

        // R2: unknown code, and a kecamatan where a desa is needed.
        assert_eq!(
            rule_of(
                executor
                    .execute(&new_id(), form("34.04.01.2999", 10), &regency)
                    .await
            ),
            (Rule::R2, "village".to_owned())
        );
        assert_eq!(
            rule_of(
                executor
                    .execute(&new_id(), form("34.04.01", 10), &regency)
                    .await
            ),
            (Rule::R2, "village".to_owned())
        );
        // R1: 2 and 31 members refused; 3 and 30 accepted.
        for members in [2, 31] {
            assert_eq!(
                rule_of(
                    executor
                        .execute(&new_id(), form(SLEMAN_DESA, members), &regency)
                        .await
                ),
                (Rule::R1, "member_count".to_owned())
            );
        }
        for members in [3, 30] {
            executor
                .execute(&new_id(), form(SLEMAN_DESA, members), &regency)
                .await
                .unwrap();
        }
        // R6: SK without officers.
        let id = new_id();
        executor
            .execute(&id, form(SLEMAN_DESA, 10), &regency)
            .await
            .unwrap();
        let (rule, field) = rule_of(executor.execute(&id, issue_sk(SLEMAN_DESA), &regency).await);
        assert_eq!(rule, Rule::R6);
        assert!(field.starts_with("officers."), "{field}");

        // R8: nomor induk from another kabupaten (Kota Yogyakarta for a Sleman KIM).
        let legal = legal_ready(&executor, &keys, SLEMAN_DESA).await;
        assert_eq!(
            rule_of(
                executor
                    .execute(&legal, assign_number("KIM-3471-0001", "34.71"), &regency)
                    .await
            ),
            (Rule::R8, "regency".to_owned())
        );
        executor
            .execute(&legal, assign_number("KIM-3404-0001", SLEMAN), &regency)
            .await
            .unwrap();

        // R9: KIM 1 → KIM 3 is refused; KIM 1 → KIM 2 with evidence is accepted.
        let (_, command) = activity(ActivityKind::DevelopmentAgent);
        let evidence = executor
            .execute(&legal, command, &context(ActorRole::Pegiat))
            .await
            .unwrap()
            .version;
        let advance = |to| {
            CommunityCommand::AdvanceStage(AdvanceStage {
                to,
                assessed_on: date("2025-05-01"),
                evidence: vec![evidence],
                assessed_by_role: ActorRole::Regency,
            })
        };
        assert_eq!(
            rule_of(
                executor
                    .execute(&legal, advance(Stage::Kim3), &regency)
                    .await
            ),
            (Rule::R9, "to".to_owned())
        );
        let before = db.store().count().await.unwrap();
        executor
            .execute(&legal, advance(Stage::Kim2), &regency)
            .await
            .unwrap();
        let (community, _) = db.store().load(&legal).await.unwrap();
        assert_eq!(community.stage(), Stage::Kim2);
        assert_eq!(db.store().count().await.unwrap(), before + 1);
        // Refused commands wrote nothing: 2 accepted formations + id + legal's 7 events.
        assert_eq!(before, 2 + 1 + 7);
    }
);

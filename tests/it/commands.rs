//! Running commands against the store: event-sourced loading, concurrency, claims, versions.

use std::collections::HashMap;
use std::sync::Arc;

use simpul_app::AppError;
use simpul_domain::events::ActivityKind;
use simpul_domain::{ActorRole, CommunityCommand, OfficerRole};
use simpul_store::{Append, Database, DatabaseUrl, EventMetadata, NewEvent, StoreError};

use crate::both_backends;
use crate::helpers::*;

// cqrs-es 0.5.0's snapshot and aggregate-store modes apply committed events a second time; the
// store must load in event-sourced mode, so every event counts exactly once.
both_backends!(
    loading_applies_each_event_exactly_once,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        let id = legal_ready(&executor, &keys, SLEMAN_DESA).await;
        let (_, command) = activity(ActivityKind::DevelopmentAgent);
        executor
            .execute(&id, command, &context(ActorRole::Pegiat))
            .await
            .unwrap();
        for _ in 0..2 {
            let (community, version) = db.store().load(&id).await.unwrap();
            assert_eq!(version, 6);
            assert_eq!(community.version(), 6, "events applied more than once");
            assert_eq!(community.active_officers().count(), 3);
            assert_eq!(community.member_count(), 12);
        }
        // A fresh executor (empty cache) decides on the same state as the warm one.
        let fresh = db.executor();
        let outcome = fresh
            .execute(
                &id,
                assign_number("KIM-3404-0001", SLEMAN),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();
        assert_eq!(outcome.version, 7);
    }
);

// 8 tasks × 200 commands on 10 communities, through two executors (two processes' caches).
both_backends!(
    concurrent_writers_never_lose_or_duplicate_an_event,
    |db: TestDb| async move {
        let executors = [Arc::new(db.executor()), Arc::new(db.executor())];
        let mut ids = Vec::new();
        for _ in 0..10 {
            let id = uuid::Uuid::new_v4().to_string();
            executors[0]
                .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
                .await
                .unwrap();
            ids.push(id);
        }
        let ids = Arc::new(ids);
        let mut tasks = Vec::new();
        for task in 0..8usize {
            let executor = executors[task % 2].clone();
            let ids = ids.clone();
            tasks.push(tokio::spawn(async move {
                let mut accepted = Vec::new();
                let mut conflicts = 0;
                for n in 0..200usize {
                    let id = &ids[(task * 7 + n) % ids.len()];
                    let (activity_id, command) = activity(ActivityKind::Dissemination);
                    match executor
                        .execute(id, command, &context(ActorRole::Pegiat))
                        .await
                    {
                        Ok(_) => accepted.push((id.clone(), activity_id)),
                        Err(AppError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("unexpected rejection: {other}"),
                    }
                }
                (accepted, conflicts)
            }));
        }
        let mut accepted = Vec::new();
        let mut conflicts = 0;
        for task in tasks {
            let (a, c) = task.await.unwrap();
            accepted.extend(a);
            conflicts += c;
        }
        assert_eq!(accepted.len() + conflicts, 1600);
        // A command gives up only after losing every retry to the other executor, each loss to
        // a write it accepted: most commands go through.
        assert!(accepted.len() >= 800, "only {} accepted", accepted.len());
        let mut stored_activities = HashMap::new();
        for id in ids.iter() {
            let events = db.store().stream(id).await.unwrap();
            let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
            let expected: Vec<u64> = (1..=events.len() as u64).collect();
            assert_eq!(sequences, expected, "sequences of {id} are not contiguous");
            for event in &events[1..] {
                let activity_id = event.payload["ActivityRecorded"]["activity_id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(
                    stored_activities.insert(activity_id, id.clone()).is_none(),
                    "an activity was stored twice"
                );
            }
        }
        assert_eq!(stored_activities.len(), accepted.len(), "accepted ≠ stored");
        for (id, activity_id) in &accepted {
            assert_eq!(stored_activities.get(&activity_id.to_string()), Some(id));
        }
        let total = db.store().count().await.unwrap();
        assert_eq!(total as usize, 10 + accepted.len());
    }
);

// R8: 20 concurrent assignments of one nomor induk in one kabupaten → exactly one succeeds.
both_backends!(
    one_nomor_induk_is_assigned_once_under_concurrency,
    |db: TestDb| async move {
        let executor = Arc::new(db.executor());
        let keys = db.keys();
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(legal_ready(&executor, &keys, SLEMAN_DESA).await);
        }
        let mut tasks = Vec::new();
        for id in ids.clone() {
            let executor = executor.clone();
            tasks.push(tokio::spawn(async move {
                executor
                    .execute(
                        &id,
                        assign_number("KIM-3404-0007", SLEMAN),
                        &context(ActorRole::Regency),
                    )
                    .await
            }));
        }
        let mut successes = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => successes += 1,
                Err(AppError::DuplicateRegistrationNumber { regency, number }) => {
                    assert_eq!(regency, SLEMAN);
                    assert_eq!(number, "KIM-3404-0007");
                }
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(successes, 1);
        let text = db.events_table_text().await;
        assert_eq!(text.matches("|RegistrationNumberAssigned|").count(), 1);
        // A losing community's failed claim left nothing behind: it can take another number.
        let mut assigned = 0;
        for id in &ids {
            let (community, _) = db.store().load(id).await.unwrap();
            if community.registration_number().is_none() {
                executor
                    .execute(
                        id,
                        assign_number("KIM-3404-0100", SLEMAN),
                        &context(ActorRole::Regency),
                    )
                    .await
                    .unwrap();
                break;
            }
            assigned += 1;
        }
        assert!(assigned < ids.len());
    }
);

both_backends!(
    an_expected_version_mismatch_is_its_own_error,
    |db: TestDb| async move {
        let executor = db.executor();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
            .await
            .unwrap();
        let mut stale = context(ActorRole::Pegiat);
        stale.expected_version = Some(0);
        let (_, command) = activity(ActivityKind::Aspiration);
        match executor.execute(&id, command.clone(), &stale).await {
            Err(AppError::VersionMismatch {
                expected: 0,
                actual: 1,
            }) => {}
            other => panic!("expected a version mismatch, got {other:?}"),
        }
        let mut current = context(ActorRole::Pegiat);
        current.expected_version = Some(1);
        let outcome = executor.execute(&id, command, &current).await.unwrap();
        assert_eq!(outcome.version, 2);
        assert_eq!(db.store().count().await.unwrap(), 2);
    }
);

// R11: the store refuses an append without an actor, and writes nothing.
both_backends!(
    r11_an_append_without_an_actor_is_refused,
    |db: TestDb| async move {
        let append = Append {
            community_id: "no-actor".to_owned(),
            after_sequence: 0,
            events: vec![NewEvent {
                event_type: "CommunityFormed".to_owned(),
                event_version: "1.0".to_owned(),
                payload: "{}".to_owned(),
            }],
            metadata: EventMetadata {
                actor_id: String::new(),
                actor_role: "regency".to_owned(),
                request_id: "req".to_owned(),
                reason: None,
                recorded_at: chrono::Utc::now(),
                region_edition: simpul_regions::EDITION.to_owned(),
                import_file: None,
                import_sha256: None,
            },
            claims: vec![],
        };
        let error = db.store().append(&append).await.unwrap_err();
        assert!(
            matches!(error, StoreError::MissingMetadata("actor_id")),
            "{error}"
        );
        assert!(error.to_string().starts_with("R11"));
        assert_eq!(db.store().count().await.unwrap(), 0);
    }
);

both_backends!(
    a_dissolved_kim_accepts_no_more_commands,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
            .await
            .unwrap();
        executor
            .execute(
                &id,
                CommunityCommand::DissolveCommunity(simpul_domain::commands::DissolveCommunity {
                    dissolved_on: date("2025-06-01"),
                    reason: reason("Anggota pindah domisili"),
                }),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();
        let (_, command) = appoint(&keys, OfficerRole::Ketua, "Setelah Bubar").await;
        match executor
            .execute(&id, command, &context(ActorRole::Pegiat))
            .await
        {
            Err(AppError::Domain(error)) => {
                assert_eq!(error.kind, simpul_domain::ErrorKind::Dissolved);
            }
            other => panic!("expected a lifecycle error, got {other:?}"),
        }
        assert_eq!(db.store().count().await.unwrap(), 2);
        // The reason is recorded in the metadata too (R11: why).
        let events = db.store().stream(&id).await.unwrap();
        assert_eq!(events[1].metadata["reason"], "Anggota pindah domisili");
    }
);

#[tokio::test]
async fn an_unreachable_database_is_an_error_not_a_panic() {
    let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/nothing").unwrap();
    let error = Database::connect(&url).await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_community_loads_as_version_zero_on_both_backends() {
    for backend in [
        simpul_store::Backend::Postgres,
        simpul_store::Backend::Sqlite,
    ] {
        let db = TestDb::new(backend).await;
        let (community, version) = db.store().load("nobody").await.unwrap();
        assert_eq!(version, 0);
        assert!(!community.is_formed());
    }
}

// The import reads many streams, nomor induk holders and person keys at once; past the SQLite
// `IN` list size the reads come in several queries and must still find exactly what exists.
both_backends!(
    many_streams_holders_and_keys_are_read_at_once,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        let store = db.store();
        let first = legal_ready(&executor, &keys, SLEMAN_DESA).await;
        let second = legal_ready(&executor, &keys, SLEMAN_DESA).await;
        executor
            .execute(
                &second,
                assign_number("KIM-3404-0007", "34.04"),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();
        let mut ids: Vec<String> = (0..1200)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        ids.insert(7, first.clone());
        ids.push(second.clone());
        let streams = store.streams(&ids).await.unwrap();
        assert_eq!(streams.len(), 2);
        for id in [&first, &second] {
            let one = store.stream(id).await.unwrap();
            let positions = |events: &[simpul_store::StoredEvent]| {
                events
                    .iter()
                    .map(|e| (e.position, e.sequence))
                    .collect::<Vec<_>>()
            };
            assert_eq!(positions(&streams[id]), positions(&one));
        }

        let mut numbers: Vec<(String, String)> = (0..700)
            .map(|n| ("34.04".to_owned(), format!("KIM-3404-{n:04}-X")))
            .collect();
        numbers.push(("34.04".to_owned(), "KIM-3404-0007".to_owned()));
        numbers.push(("34.71".to_owned(), "KIM-3404-0007".to_owned()));
        let holders = store.registration_holders(&numbers).await.unwrap();
        assert_eq!(
            holders,
            HashMap::from([(
                ("34.04".to_owned(), "KIM-3404-0007".to_owned()),
                second.clone()
            )])
        );

        let officers: Vec<simpul_domain::sealed::SealedText> = streams[&first]
            .iter()
            .filter_map(|e| {
                serde_json::from_value(e.payload.get("OfficerAppointed")?.get("name")?.clone()).ok()
            })
            .collect();
        assert_eq!(officers.len(), 3);
        let mut persons: Vec<uuid::Uuid> = (0..900).map(|_| uuid::Uuid::new_v4()).collect();
        persons.extend(officers.iter().map(|sealed| sealed.person_id));
        let loaded = keys.keys_of(&persons).await.unwrap();
        let names: Vec<simpul_store::Unsealed> = officers
            .iter()
            .map(|sealed| loaded.open(sealed).unwrap())
            .collect();
        assert_eq!(
            names,
            ["Ketua Satu", "Sekretaris Dua", "Bendahara Tiga"]
                .map(|n| simpul_store::Unsealed::Plain(n.to_owned()))
        );
    }
);

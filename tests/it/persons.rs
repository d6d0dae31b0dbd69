//! Sealed personal data and erasure by crypto-shredding.

use simpul_domain::events::CommunityEvent;
use simpul_domain::{ActorRole, OfficerRole};
use simpul_store::{Erasure, Unsealed};

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    officer_names_never_reach_the_events_table_and_erasure_shreds_them,
    |db: TestDb| async move {
        let executor = db.executor();
        let keys = db.keys();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
            .await
            .unwrap();
        let names = [
            "Rudi Panjaitan Zulkarnain",
            "Riris Puspita Wijaya",
            "Indra Sufian Hakim",
        ];
        let mut people = Vec::new();
        for (role, name) in [
            OfficerRole::Ketua,
            OfficerRole::Sekretaris,
            OfficerRole::Bendahara,
        ]
        .into_iter()
        .zip(names)
        {
            let (person_id, command) = appoint(&keys, role, name).await;
            executor
                .execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
            people.push(person_id);
        }

        let before = db.events_table_text().await;
        for name in names {
            for word in name.split(' ') {
                assert!(
                    !before.contains(word),
                    "`{word}` appears in the events table"
                );
            }
        }

        // The sealed names open with the keys while they exist.
        let sealed_names: Vec<_> = db
            .store()
            .stream(&id)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| {
                serde_json::from_value::<CommunityEvent>(e.payload)
                    .ok()
                    .and_then(|event| match event {
                        CommunityEvent::OfficerAppointed(appointed) => Some(appointed.name),
                        _ => None,
                    })
            })
            .collect();
        assert_eq!(sealed_names.len(), 3);
        assert_eq!(
            keys.open(&sealed_names[0]).await.unwrap(),
            Unsealed::Plain(names[0].to_owned())
        );

        // Erase the ketua: their name is gone, the others remain, the events are unchanged.
        assert_eq!(
            keys.erase(people[0], "permintaan penghapusan data pribadi", "test")
                .await
                .unwrap(),
            Erasure::Erased
        );
        assert_eq!(keys.open(&sealed_names[0]).await.unwrap(), Unsealed::Erased);
        assert_eq!(
            keys.open(&sealed_names[1]).await.unwrap(),
            Unsealed::Plain(names[1].to_owned())
        );
        assert_eq!(
            db.events_table_text().await,
            before,
            "erasure changed the events"
        );
        assert_eq!(
            keys.erase(people[0], "again", "test").await.unwrap(),
            Erasure::AlreadyErased
        );
        // An erased person gets no new key: nothing can be sealed for them again.
        assert!(keys.seal(people[0], "again").await.unwrap().is_none());
        assert_eq!(
            keys.erase(uuid::Uuid::new_v4(), "unknown", "test")
                .await
                .unwrap(),
            Erasure::UnknownPerson
        );
    }
);

/// Whether `needle` occurs anywhere in `haystack`.
fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

// After `persons erase` on SQLite the wrapped key is gone from every file: not left in the WAL
// until a checkpoint, nor in the freed page of the database file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erased_key_is_gone_from_every_sqlite_file() {
    let db = TestDb::new(simpul_store::Backend::Sqlite).await;
    let executor = db.executor();
    let keys = db.keys();
    // Some history around the person, so the key's page is shared with others' keys.
    let _ = legal_ready(&executor, &keys, SLEMAN_DESA).await;
    let (person, _) = appoint(&keys, OfficerRole::KepalaBidang, "Rina Marlina").await;
    let _ = legal_ready(&executor, &keys, SLEMAN_DESA).await;
    let simpul_store::Database::Sqlite { writer, .. } = &db.database else {
        unreachable!()
    };
    let wrapped: Vec<u8> =
        sqlx::query_scalar("SELECT wrapped_key FROM person_keys WHERE person_id = ?1")
            .bind(person.to_string())
            .fetch_one(writer)
            .await
            .unwrap();
    assert_eq!(
        keys.erase(person, "permintaan subjek data", "test")
            .await
            .unwrap(),
        Erasure::Erased
    );
    let main: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(writer)
            .await
            .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{main}{suffix}");
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !contains_bytes(&bytes, &wrapped),
            "the erased key is still in {file}"
        );
    }
}

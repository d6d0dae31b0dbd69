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

//! `simpul audit verify` and `simpul audit export` (issue 13): the ledger checked against the
//! log, and a province's export checked offline. Each way of tampering with the database or the
//! file must make verification fail and name the place; erasing a person must not.

use std::sync::Arc;

use simpul_ledger::{Checkpoint, LedgerKey};
use simpul_projections::ledger::{self, query};
use simpul_projections::{Driver, Projection, Runner};
use simpul_store::{Backend, Database};

use crate::helpers::*;

const ACEH_DESA: &str = "11.01.02.2018";
const ORIGIN: &str = "simpul.test/ledger";

/// A log of three KIM (two in province 34, one in 11; five events each), its ledger, and two
/// signed checkpoints: at 10 events and at 15.
struct Fixture {
    db: TestDb,
    keys: simpul_store::KeyStore,
    key: LedgerKey,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(backend: Backend) -> Self {
        let db = TestDb::new(backend).await;
        let keys = db.keys();
        let executor = db.executor();
        let key = LedgerKey::from_seed(ORIGIN, &[21; 32]).unwrap();
        let mut checkpointer = simpul_app::ledger::Checkpointer::new(
            db.database.clone(),
            LedgerKey::from_seed(ORIGIN, &[21; 32]).unwrap(),
            ORIGIN,
            simpul_app::ledger::CheckpointPolicy {
                every: 1,
                interval: std::time::Duration::from_secs(3600),
            },
        )
        .await
        .unwrap();
        let runner = Runner::new(db.store());
        let projection: Arc<dyn Projection> = Arc::new(Driver(ledger::Ledger));
        for (desa, cut) in [
            (SLEMAN_DESA, None),
            (ACEH_DESA, Some(10)),
            (SLEMAN_DESA, Some(15)),
        ] {
            legal_ready(&executor, &keys, desa).await;
            if let Some(size) = cut {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while query::size(&db.database).await.unwrap() < size {
                    assert!(std::time::Instant::now() < deadline, "the ledger is stuck");
                    runner.catch_up(projection.as_ref()).await.unwrap();
                }
                assert_eq!(checkpointer.cut().await.unwrap(), Some(size));
            }
        }
        Self {
            db,
            keys,
            key,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn verifier(&self) -> String {
        self.key.verifier().encode()
    }

    /// `simpul audit <args>` on this database.
    async fn audit(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["audit"];
        all.extend_from_slice(args);
        let data = self.dir.path().to_str().unwrap().to_owned();
        simpul_binary_async(
            &all,
            &[("DATABASE_URL", &self.db.url), ("SIMPUL_DATA_DIR", &data)],
        )
        .await
    }

    async fn verify(&self) -> std::process::Output {
        let verifier = self.verifier();
        self.audit(&["verify", "--public-key", &verifier]).await
    }

    /// The stored leaf at `index`.
    async fn leaf(&self, index: u64) -> query::Leaf {
        query::leaves(&self.db.database, index, index + 1)
            .await
            .unwrap()
            .remove(0)
    }

    /// Runs `postgres` or `sqlite`, as the backend is, binding `position` as `$1`/`?1`.
    async fn tamper(&self, postgres: &str, sqlite: &str, position: u64) {
        let position = position as i64;
        match &self.db.database {
            Database::Postgres(pool) => {
                sqlx::query(postgres)
                    .bind(position)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(sqlite)
                    .bind(position)
                    .execute(writer)
                    .await
                    .unwrap();
            }
        };
    }
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Verification fails with exit 1 and a message holding every one of `names`.
fn fails_naming(output: &std::process::Output, names: &[&str]) {
    let text = text(output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("NOT verified"), "{text}");
    for name in names {
        assert!(text.contains(name), "`{name}` not named in: {text}");
    }
}

const BACKENDS: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_ledger_verifies_and_still_does_after_a_person_is_erased() {
    for backend in BACKENDS {
        let fixture = Fixture::new(backend).await;
        let output = fixture.verify().await;
        assert!(output.status.success(), "{}", text(&output));
        assert!(
            text(&output).contains("ledger verified: 15 events in commit order, 2 province sub-logs, 2 signed checkpoints (latest: size 15)"),
            "{}",
            text(&output)
        );
        // A checkpoint the auditor kept: the log still extends it.
        let first = query::checkpoints(&fixture.db.database, 10, 10, 1)
            .await
            .unwrap()
            .remove(0);
        let kept = fixture.dir.path().join("checkpoint-10.txt");
        std::fs::write(&kept, &first.note).unwrap();
        let verifier = fixture.verifier();
        let output = fixture
            .audit(&[
                "verify",
                "--public-key",
                &verifier,
                "--checkpoint",
                kept.to_str().unwrap(),
            ])
            .await;
        assert!(output.status.success(), "{}", text(&output));
        assert!(text(&output).contains("extends the checkpoint given (size 10)"));

        // Erasing a person's key leaves every leaf as it was: the sealed text is what counts.
        let appointed = query::leaves(&fixture.db.database, 1, 2)
            .await
            .unwrap()
            .remove(0);
        let event = fixture
            .db
            .store()
            .at_positions(&[appointed.position])
            .await
            .unwrap()
            .remove(0);
        let person: uuid::Uuid = event.payload["OfficerAppointed"]["person_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        fixture
            .keys
            .erase(person, "permintaan subjek data", "test")
            .await
            .unwrap();
        let output = fixture.verify().await;
        assert!(output.status.success(), "{}", text(&output));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_of_a_payload_or_a_metadata_field_changed_is_named() {
    for backend in BACKENDS {
        let fixture = Fixture::new(backend).await;
        // Ledger index 5: the Aceh KIM's formation; 12 members become 13.
        let formed = fixture.leaf(5).await;
        fixture
            .tamper(
                "UPDATE events SET payload = jsonb_set(payload::jsonb, '{CommunityFormed,member_count}', '13')::json WHERE position = $1",
                "UPDATE events SET payload = json_set(payload, '$.CommunityFormed.member_count', 13) WHERE position = ?1",
                formed.position,
            )
            .await;
        let output = fixture.verify().await;
        fails_naming(&output, &["ledger index 5", "sequence 1", "altered"]);

        let fixture = Fixture::new(backend).await;
        let appointed = fixture.leaf(7).await;
        fixture
            .tamper(
                r#"UPDATE events SET metadata = jsonb_set(metadata::jsonb, '{actor_id}', '"orang-lain"')::json WHERE position = $1"#,
                "UPDATE events SET metadata = json_set(metadata, '$.actor_id', 'orang-lain') WHERE position = ?1",
                appointed.position,
            )
            .await;
        fails_naming(
            &fixture.verify().await,
            &["ledger index 7", "sequence 3", "altered"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_deleted_or_two_swapped_is_named() {
    for backend in BACKENDS {
        let fixture = Fixture::new(backend).await;
        let deleted = fixture.leaf(6).await;
        fixture
            .tamper(
                "DELETE FROM events WHERE position = $1",
                "DELETE FROM events WHERE position = ?1",
                deleted.position,
            )
            .await;
        fails_naming(
            &fixture.verify().await,
            &[
                "ledger index 6",
                &format!("position {}", deleted.position),
                "deleted",
            ],
        );

        // Sequences 2 and 3 of the first KIM change places (ledger indexes 1 and 2).
        let fixture = Fixture::new(backend).await;
        let second = fixture.leaf(1).await;
        let third = fixture.leaf(2).await;
        for (position, sequence) in [
            (second.position, 1000),
            (third.position, 2),
            (second.position, 3),
        ] {
            fixture
                .tamper(
                    &format!("UPDATE events SET sequence = {sequence} WHERE position = $1"),
                    &format!("UPDATE events SET sequence = {sequence} WHERE position = ?1"),
                    position,
                )
                .await;
        }
        fails_naming(
            &fixture.verify().await,
            &["ledger index 1", "sequence 3", "altered"],
        );
    }
}

/// An event slipped into the middle of the commit order. On PostgreSQL the feed orders by the
/// writing transaction's commit: a row given an old commit's batch sorts among that commit's
/// events. (SQLite's order is the position itself, which only ever grows: a row inserted there
/// comes last, where it is a new event the ledger has not reached, as any other.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_inserted_into_the_middle_of_the_log_is_named() {
    let fixture = Fixture::new(Backend::Postgres).await;
    let before = fixture.leaf(2).await;
    let copied = fixture.leaf(4).await;
    let Database::Postgres(pool) = &fixture.db.database else {
        unreachable!()
    };
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, commit_batch)
         SELECT aggregate_type, aggregate_id, 6, event_type, event_version, payload, metadata,
                (SELECT commit_batch FROM events WHERE position = $2)
           FROM events WHERE position = $1",
    )
    .bind(copied.position as i64)
    .bind(before.position as i64)
    .execute(pool)
    .await
    .unwrap();
    fails_naming(&fixture.verify().await, &["ledger index 3", "inserted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_rewritten_to_match_is_caught_by_the_checkpoint_it_cannot_sign() {
    for backend in BACKENDS {
        // The payload changed and its leaf rewritten to match: every leaf agrees with the log,
        // but the checkpoints signed before do not.
        let fixture = Fixture::new(backend).await;
        let formed = fixture.leaf(5).await;
        fixture
            .tamper(
                "UPDATE events SET payload = jsonb_set(payload::jsonb, '{CommunityFormed,member_count}', '13')::json WHERE position = $1",
                "UPDATE events SET payload = json_set(payload, '$.CommunityFormed.member_count', 13) WHERE position = ?1",
                formed.position,
            )
            .await;
        let event = fixture
            .db
            .store()
            .at_positions(&[formed.position])
            .await
            .unwrap()
            .remove(0);
        let leaf = simpul_ledger::to_hex(&ledger::leaf_of(&event).unwrap());
        fixture
            .tamper(
                &format!("UPDATE ledger_leaves SET leaf_hash = '{leaf}' WHERE position = $1"),
                &format!("UPDATE ledger_leaves SET leaf_hash = '{leaf}' WHERE position = ?1"),
                formed.position,
            )
            .await;
        fails_naming(
            &fixture.verify().await,
            &["checkpoint of size 10", "differs from the signed one"],
        );

        // A checkpoint re-signed with another key is refused by the published one.
        let fixture = Fixture::new(backend).await;
        let stored = query::checkpoints(&fixture.db.database, 15, 15, 1)
            .await
            .unwrap()
            .remove(0);
        let opened = fixture.key.verifier().open(&stored.note).unwrap();
        let forged = LedgerKey::from_seed(ORIGIN, &[99; 32])
            .unwrap()
            .sign(&Checkpoint { ..opened });
        let forged = forged.replace('\'', "''");
        fixture
            .tamper(
                &format!("UPDATE ledger_checkpoints SET note = '{forged}' WHERE tree_size = $1"),
                &format!("UPDATE ledger_checkpoints SET note = '{forged}' WHERE tree_size = ?1"),
                15,
            )
            .await;
        fails_naming(
            &fixture.verify().await,
            &["checkpoint of size 15", "no valid signature"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provinces_export_verifies_offline_and_every_change_to_it_is_named() {
    for backend in BACKENDS {
        let fixture = Fixture::new(backend).await;
        let file = fixture.dir.path().join("ledger-34.jsonl");
        let path = file.to_str().unwrap().to_owned();
        let output = fixture
            .audit(&["export", "--region", "34", "--output", &path])
            .await;
        assert!(output.status.success(), "{}", text(&output));
        let lines: Vec<String> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 1 + 10, "a header and province 34's ten events");

        // Offline: no database, only the file and the published key.
        let verifier = fixture.verifier();
        let offline = |path: String| {
            let verifier = verifier.clone();
            async move {
                simpul_binary_async(
                    &[
                        "audit",
                        "verify",
                        "--from-export",
                        &path,
                        "--public-key",
                        &verifier,
                    ],
                    &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
                )
                .await
            }
        };
        let output = offline(path.clone()).await;
        assert!(output.status.success(), "{}", text(&output));
        assert!(
            text(&output)
                .contains("all 10 events of province 34 (2 KIM) up to the checkpoint of size 15"),
            "{}",
            text(&output)
        );

        let write = |name: &str, lines: &[String]| {
            let tampered = fixture.dir.path().join(name);
            std::fs::write(&tampered, lines.join("\n") + "\n").unwrap();
            tampered.to_str().unwrap().to_owned()
        };
        // One byte of a payload.
        let mut changed = lines.clone();
        changed[6] = changed[6].replacen("\"member_count\":12", "\"member_count\":13", 1);
        assert_ne!(changed[6], lines[6], "line 6 is the second KIM's formation");
        fails_naming(
            &offline(write("byte.jsonl", &changed)).await,
            &["province 34", "altered"],
        );
        // An event left out, and two swapped.
        let mut missing = lines.clone();
        missing.remove(3);
        fails_naming(
            &offline(write("missing.jsonl", &missing)).await,
            &["expected province index 2", "missing"],
        );
        let mut swapped = lines.clone();
        swapped.swap(2, 3);
        fails_naming(
            &offline(write("swapped.jsonl", &swapped)).await,
            &["province index"],
        );
        // The last event dropped with its index: the file is no longer complete.
        let short = &lines[..lines.len() - 1];
        fails_naming(
            &offline(write("short.jsonl", short)).await,
            &["holds 9 events of province 34", "10"],
        );
        // Another key's verifier refuses the checkpoint.
        let other = LedgerKey::from_seed(ORIGIN, &[5; 32])
            .unwrap()
            .verifier()
            .encode();
        let output = simpul_binary_async(
            &[
                "audit",
                "verify",
                "--from-export",
                &path,
                "--public-key",
                &other,
            ],
            &[],
        )
        .await;
        fails_naming(&output, &["no valid signature"]);

        // Only a province can be proved complete.
        let output = fixture
            .audit(&["export", "--region", "34.04", "--output", &path])
            .await;
        assert_eq!(output.status.code(), Some(64), "{}", text(&output));
        assert!(text(&output).contains("province"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communities_show_reads_a_kim_as_of_a_ledger_index_or_a_date() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let first = fixture.leaf(0).await;
    let id = fixture
        .db
        .store()
        .at_positions(&[first.position])
        .await
        .unwrap()
        .remove(0)
        .aggregate_id;
    let data = fixture.dir.path().to_str().unwrap().to_owned();
    let show = |args: Vec<String>| {
        let url = fixture.db.url.clone();
        let data = data.clone();
        async move {
            let mut all = vec!["communities".to_owned(), "show".to_owned()];
            all.extend(args);
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            simpul_binary_async(&all, &[("DATABASE_URL", &url), ("SIMPUL_DATA_DIR", &data)]).await
        }
    };
    let json = |output: &std::process::Output| -> serde_json::Value {
        assert!(output.status.success(), "{}", text(output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    // Ledger indexes 0–4 are this KIM's formation, three appointments and its SK.
    let formed = json(
        &show(vec![
            id.clone(),
            "--at-index".into(),
            "0".into(),
            "--json".into(),
        ])
        .await,
    );
    assert_eq!(formed["version"], 1);
    assert_eq!(formed["officers"], 0);
    assert_eq!(formed["as_of_ledger_index"], 0);
    let staffed = json(
        &show(vec![
            id.clone(),
            "--at-index".into(),
            "3".into(),
            "--json".into(),
        ])
        .await,
    );
    assert_eq!(staffed["officers"], 3);
    assert_eq!(staffed["sk_number"], serde_json::Value::Null);
    let now = json(&show(vec![id.clone(), "--json".into()]).await);
    assert_eq!(now["version"], 5);
    assert!(now["sk_number"].is_string());
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .to_string();
    let dated = json(
        &show(vec![
            id.clone(),
            "--as-of".into(),
            tomorrow,
            "--json".into(),
        ])
        .await,
    );
    assert_eq!(dated["version"], 5);
    assert_eq!(dated["as_of_ledger_index"], 4);

    let before = show(vec![id.clone(), "--as-of".into(), "2000-01-01".into()]).await;
    assert_eq!(before.status.code(), Some(2), "{}", text(&before));
    assert!(text(&before).contains("had been recorded by then"));
    let bad = show(vec![id, "--as-of".into(), "kemarin".into()]).await;
    assert_eq!(bad.status.code(), Some(64), "{}", text(&bad));
    assert!(text(&bad).contains("--as-of"));
}

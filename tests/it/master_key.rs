//! The master key belongs to its database (issue 12): the database records the key's
//! fingerprint, every command refuses another key, and a new key is generated only for a
//! database that has none — never because a key file is missing from another working directory.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use simpul_store::{
    check_master_key, claim_master_key, Database, KeyRecord, KeyStore, MasterKey, StoreError,
};

use crate::both_backends;
use crate::helpers::*;

/// What the mismatch error says, whatever the fingerprints.
const MISMATCH: &str = "is not the one this database's personal data is sealed with";

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts a refusal for the wrong key, naming both fingerprints (the expected one when known).
#[track_caller]
fn assert_mismatch(
    result: Result<impl std::fmt::Debug, StoreError>,
    found: &MasterKey,
    expected: Option<&MasterKey>,
) {
    match result {
        Err(StoreError::MasterKeyMismatch {
            key_from,
            found: found_text,
            expected: expected_text,
        }) => {
            assert_eq!(key_from, "test key");
            assert_eq!(found_text, found.fingerprint().to_string());
            assert_eq!(
                expected_text,
                expected.map(|key| key.fingerprint().to_string())
            );
        }
        other => panic!("expected MasterKeyMismatch, got {other:?}"),
    }
}

/// Seals one officer's name under `master` the way the application does, without recording a
/// fingerprint (as every Simpul before issue 12 left its database).
async fn seal_a_name(db: &TestDb, master: &MasterKey) {
    let keys = KeyStore::new(db.database.clone(), master.clone());
    legal_ready(&db.executor(), &keys, SLEMAN_DESA).await;
}

// A fresh database records the first key it is used with; from then on only that key passes.
both_backends!(
    a_fresh_database_records_its_key_and_refuses_another,
    |db: TestDb| async move {
        let right = MasterKey::generate();
        let wrong = MasterKey::generate();
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Fresh
        );
        // A check (a command that reads no personal data) records nothing.
        check_master_key(&db.database, &wrong, "test key")
            .await
            .unwrap();
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Fresh
        );

        let recorded = claim_master_key(&db.database, &right, "test key")
            .await
            .unwrap();
        assert_eq!(recorded, right.fingerprint());
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Recorded(right.fingerprint())
        );
        assert_eq!(
            stored_fingerprint(&db.database).await,
            right.fingerprint().to_hex()
        );

        // The right key passes, again and again; the wrong one is refused by both checks.
        claim_master_key(&db.database, &right, "test key")
            .await
            .unwrap();
        check_master_key(&db.database, &right, "test key")
            .await
            .unwrap();
        KeyStore::open_checked(db.database.clone(), right.clone(), "test key")
            .await
            .unwrap();
        assert_mismatch(
            claim_master_key(&db.database, &wrong, "test key").await,
            &wrong,
            Some(&right),
        );
        assert_mismatch(
            check_master_key(&db.database, &wrong, "test key").await,
            &wrong,
            Some(&right),
        );
        assert_mismatch(
            KeyStore::open_checked(db.database.clone(), wrong.clone(), "test key")
                .await
                .map(|_| ()),
            &wrong,
            Some(&right),
        );
        let message = claim_master_key(&db.database, &wrong, "test key")
            .await
            .unwrap_err()
            .to_string();
        assert!(message.contains(MISMATCH), "{message}");
        assert!(message.contains("SIMPUL_MASTER_KEY"), "{message}");
        // The fingerprint is not the key, in any form.
        assert!(!message.contains(&right.to_base64()) && !message.contains(&wrong.to_base64()));
        assert_eq!(
            stored_fingerprint(&db.database).await,
            right.fingerprint().to_hex()
        );
    }
);

// A database from before fingerprints that holds wrapped data keys: the key that opens them is
// recorded; another key is refused and recorded nothing.
both_backends!(
    a_database_with_keys_but_no_fingerprint_accepts_only_the_key_that_opens_them,
    |db: TestDb| async move {
        let right = MasterKey::generate();
        let wrong = MasterKey::generate();
        seal_a_name(&db, &right).await;
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Unrecorded
        );
        // Nothing recorded to compare with: a check alone lets any key by.
        check_master_key(&db.database, &wrong, "test key")
            .await
            .unwrap();

        assert_mismatch(
            claim_master_key(&db.database, &wrong, "test key").await,
            &wrong,
            None,
        );
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Unrecorded,
            "a refused key records nothing"
        );
        let message = claim_master_key(&db.database, &wrong, "test key")
            .await
            .unwrap_err()
            .to_string();
        assert!(message.contains(MISMATCH), "{message}");
        assert!(message.contains("opens none of the data keys"), "{message}");

        assert_eq!(
            claim_master_key(&db.database, &right, "test key")
                .await
                .unwrap(),
            right.fingerprint()
        );
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Recorded(right.fingerprint())
        );
        assert_mismatch(
            check_master_key(&db.database, &wrong, "test key").await,
            &wrong,
            Some(&right),
        );
    }
);

// Processes starting at once on a fresh database with two different keys: one key wins, every
// claim with it passes and every claim with the other is refused.
both_backends!(
    concurrent_first_claims_record_one_key,
    |db: TestDb| async move {
        let keys = [MasterKey::generate(), MasterKey::generate()];
        let claims: Vec<_> = (0..8)
            .map(|i| {
                let database = db.database.clone();
                let key = keys[i % 2].clone();
                tokio::spawn(
                    async move { (i % 2, claim_master_key(&database, &key, "test key").await) },
                )
            })
            .collect();
        let mut outcomes = Vec::new();
        for claim in claims {
            outcomes.push(claim.await.unwrap());
        }
        let KeyRecord::Recorded(winner) = KeyRecord::read(&db.database).await.unwrap() else {
            panic!("no fingerprint recorded");
        };
        let winner = keys
            .iter()
            .position(|key| key.fingerprint() == winner)
            .expect("one of the two keys");
        for (key, outcome) in outcomes {
            if key == winner {
                assert_eq!(outcome.unwrap(), keys[winner].fingerprint());
            } else {
                assert_mismatch(outcome, &keys[key], Some(&keys[winner]));
            }
        }
    }
);

async fn stored_fingerprint(database: &Database) -> String {
    let sql = "SELECT fingerprint FROM master_key_fingerprint";
    let rows: Vec<String> = match database {
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Database::Sqlite { readers, .. } => {
            sqlx::query_scalar(sql).fetch_all(readers).await.unwrap()
        }
    };
    assert_eq!(rows.len(), 1, "one row at most: {rows:?}");
    rows.into_iter().next().unwrap()
}

// ---- the binary ------------------------------------------------------------------------------

/// `simpul ARGS` with `DATABASE_URL` (when given), a data directory and maybe a master key.
async fn simpul(args: &[&str], url: Option<&str>, data: &Path, key: Option<&str>) -> Output {
    let data = data.to_str().unwrap();
    let mut envs = vec![("SIMPUL_DATA_DIR", data), ("SIMPUL_LOG_FORMAT", "text")];
    if let Some(url) = url {
        envs.push(("DATABASE_URL", url));
    }
    if let Some(key) = key {
        envs.push(("SIMPUL_MASTER_KEY", key));
    }
    simpul_binary_async(args, &envs).await
}

const OPEN_NAMES: [&str; 3] = ["export", "events", "--with-personal-data"];
const LIST_TOKENS: [&str; 2] = ["tokens", "list"];

#[track_caller]
fn assert_refused(output: &Output, expected: &[&str]) {
    // 78, EX_CONFIG: the key is not this database's (README, "Exit codes").
    assert_eq!(
        output.status.code(),
        Some(78),
        "{}{}",
        stdout(output),
        stderr(output)
    );
    for text in expected {
        assert!(
            stderr(output).contains(text),
            "no `{text}` in: {}",
            stderr(output)
        );
    }
}

// The embedded store: the key generated in the data directory is recorded; a command started
// with another key in SIMPUL_MASTER_KEY — reading personal data or not — exits non-zero naming
// both fingerprints, and the data directory's own key still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_a_master_key_other_than_the_databases() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let output = simpul(&OPEN_NAMES, None, &data, None).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let own = MasterKey::load(&data.join("master.key")).unwrap().unwrap();
    let other = MasterKey::generate();
    let other_text = other.to_base64();

    for args in [&OPEN_NAMES[..], &LIST_TOKENS[..], &["events", "tail"][..]] {
        let output = simpul(args, None, &data, Some(&other_text)).await;
        assert_refused(
            &output,
            &[
                MISMATCH,
                "the master key from SIMPUL_MASTER_KEY",
                &other.fingerprint().to_string(),
                &own.fingerprint().to_string(),
            ],
        );
        assert!(!stderr(&output).contains(&other_text));
        assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    }
    // The server refuses to start with it too (before it listens).
    let (serve_data, serve_key) = (data.clone(), other_text.clone());
    let output = tokio::task::spawn_blocking(move || serve_until_exit(&serve_data, &serve_key))
        .await
        .unwrap();
    assert_refused(&output, &[MISMATCH, &own.fingerprint().to_string()]);

    // The database's own key, from the file or the variable, is accepted.
    let output = simpul(&LIST_TOKENS, None, &data, None).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = simpul(&OPEN_NAMES, None, &data, Some(&own.to_base64())).await;
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `simpul serve` with `key`; its output once it exits (it must, within 60 s).
fn serve_until_exit(data: &Path, key: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_simpul"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env("SIMPUL_DATA_DIR", data)
        .env("SIMPUL_MASTER_KEY", key)
        .env("SIMPUL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "serve started with a foreign master key: {}",
                stderr(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

// A shared database (PostgreSQL or a named SQLite file) used from two data directories: the
// second has no key file, and must not get one — a command that needs the key says where the
// database's key is missing from, one that does not still works.
both_backends!(
    no_key_is_generated_for_a_database_that_has_one,
    |db: TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        let output = simpul(&OPEN_NAMES, Some(&db.url), &first, None).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let own = MasterKey::load(&first.join("master.key")).unwrap().unwrap();
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Recorded(own.fingerprint())
        );

        let missing = second.join("master.key");
        let output = simpul(&OPEN_NAMES, Some(&db.url), &second, None).await;
        assert_refused(
            &output,
            &[
                &format!("no master key found at {}", missing.display()),
                &own.fingerprint().to_string(),
            ],
        );
        assert!(!missing.exists(), "a new master key was generated");
        let output = simpul(&LIST_TOKENS, Some(&db.url), &second, None).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(!missing.exists(), "a new master key was generated");

        // The first directory's key, given in the variable, works from the second.
        let output = simpul(&OPEN_NAMES, Some(&db.url), &second, Some(&own.to_base64())).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(!missing.exists());
    }
);

// A database from before fingerprints, with names sealed under a key: without a key file no key
// is generated; another key is refused; its own key opens the names and is recorded.
both_backends!(
    a_database_from_before_fingerprints_keeps_its_key,
    |db: TestDb| async move {
        let own = MasterKey::generate();
        seal_a_name(&db, &own).await;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");

        let output = simpul(&OPEN_NAMES, Some(&db.url), &data, None).await;
        assert_refused(&output, &["no master key found", "holds data keys"]);
        assert!(
            !data.join("master.key").exists(),
            "a new master key was generated"
        );

        let other = MasterKey::generate().to_base64();
        let output = simpul(&OPEN_NAMES, Some(&db.url), &data, Some(&other)).await;
        assert_refused(&output, &[MISMATCH, "opens none of the data keys"]);
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Unrecorded
        );

        let output = simpul(&OPEN_NAMES, Some(&db.url), &data, Some(&own.to_base64())).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stdout(&output).contains("Ketua Satu"),
            "{}",
            stdout(&output)
        );
        assert_eq!(
            KeyRecord::read(&db.database).await.unwrap(),
            KeyRecord::Recorded(own.fingerprint())
        );
        let output = simpul(&LIST_TOKENS, Some(&db.url), &data, Some(&other)).await;
        assert_refused(&output, &[MISMATCH, &own.fingerprint().to_string()]);
    }
);

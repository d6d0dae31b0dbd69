//! Files on disk (issue 11): the data directory is owner only (0700), every file holding secrets
//! or personal data is 0600 — the SQLite database and its `-wal`/`-shm`, `master.key`,
//! `admin-token`, every `export … --output` file — and a pegiat token needs a KIM that exists.
//!
//! The binary runs under `umask 022` (a shell sets it, then `exec`s it), the usual default that
//! left these files 0644 and the directory 0755, so the tests do not depend on the runner's
//! umask.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use simpul_domain::ActorRole;
use simpul_store::{Database, DatabaseUrl, EventStore, TokenStore};

use crate::helpers::*;

/// Runs the real binary with `umask 022` and only the given environment of Simpul's own.
fn simpul(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_simpul"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SIMPUL_MASTER_KEY")
        .env_remove("SIMPUL_DATA_DIR")
        .env("SIMPUL_LOG_FORMAT", "text");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("the simpul binary runs")
}

async fn simpul_async(args: &[&str], envs: &[(&str, &str)]) -> Output {
    crate::helpers::off_runtime(simpul, args, envs).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Asserts the permission bits of `path`, printed in octal.
#[track_caller]
fn assert_mode(path: &Path, expected: u32) {
    let actual = mode(path);
    assert!(
        actual == expected,
        "{}: mode {actual:04o}, expected {expected:04o}",
        path.display()
    );
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The database file and whichever of its `-wal`/`-shm` exist.
fn database_files(db: &Path) -> Vec<PathBuf> {
    let mut files = vec![db.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let companion = PathBuf::from(name);
        if companion.exists() {
            files.push(companion);
        }
    }
    files
}

/// Forms a KIM in the SQLite database of a data directory, as a Dinas would through the API.
async fn form_kim(data: &Path) -> String {
    let url = DatabaseUrl::sqlite_in(data);
    let database = Database::connect_and_migrate(&url).await.unwrap();
    let executor = simpul_app::CommandExecutor::new(EventStore::new(database.clone()), services());
    let id = uuid::Uuid::new_v4().to_string();
    executor
        .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
        .await
        .unwrap();
    database.close().await;
    id
}

#[test]
fn a_fresh_data_dir_is_0700_and_its_database_and_master_key_0600() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var").join("simpul");
    let env = [("SIMPUL_DATA_DIR", data.to_str().unwrap())];

    let output = simpul(&["migrate"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_mode(&data, 0o700);
    let files = database_files(&data.join("simpul.db"));
    for file in &files {
        assert_mode(file, 0o600);
    }

    // tokens create writes token hashes; export --with-personal-data generates the master key.
    let output = simpul(
        &[
            "tokens", "create", "--role", "national", "--scope", "national", "--name", "x",
        ],
        &env,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = simpul(&["export", "events", "--with-personal-data"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_mode(&data.join("master.key"), 0o600);
    assert_mode(&data, 0o700);
    for file in database_files(&data.join("simpul.db")) {
        assert_mode(&file, 0o600);
    }
    // Nothing to warn about in a directory Simpul made.
    assert!(!stderr(&output).contains("WARN"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_opened_through_a_missing_directory_is_owner_only() {
    // What Database::connect creates: the embedded store, and a rebuild's scratch file
    // (`<db>.shadow-…`), opened the same way beside it.
    let dir = tempfile::tempdir().unwrap();
    let parent = dir.path().join("a").join("b");
    let path = parent.join("simpul.db.shadow-audit_trail-rebuild-0000");
    let database = Database::connect_and_migrate(&DatabaseUrl::Sqlite(path.clone()))
        .await
        .unwrap();
    database.ping().await.unwrap();
    assert_mode(&parent, 0o700);
    let files = database_files(&path);
    assert!(files.len() > 1, "WAL mode keeps a -wal and -shm: {files:?}");
    for file in &files {
        assert_mode(file, 0o600);
    }
    database.close().await;
}

crate::both_backends!(
    the_bootstrap_admin_token_is_0600_in_an_owner_only_directory,
    |db: TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("fresh").join("data");
        let path = data.join("admin-token");
        let tokens = TokenStore::new(db.database.clone());
        let written = simpul_app::bootstrap_admin_token(&tokens, &path)
            .await
            .unwrap();
        assert_eq!(written.as_deref(), Some(path.as_path()));
        assert_mode(&path, 0o600);
        // The process's umask may only take bits away from 0700.
        for created in [data.clone(), dir.path().join("fresh")] {
            let bits = mode(&created);
            assert!(bits & 0o077 == 0, "{}: {bits:04o}", created.display());
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_output_files_are_0600_even_over_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let env = [("SIMPUL_DATA_DIR", data_arg.as_str())];
    let output = simpul_async(&["migrate"], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
    form_kim(&data).await;

    let events = dir.path().join("events.jsonl");
    let events_arg = events.to_str().unwrap();
    let output = simpul_async(
        &[
            "export",
            "events",
            "--with-personal-data",
            "--output",
            events_arg,
        ],
        &env,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_mode(&events, 0o600);
    assert_eq!(std::fs::read_to_string(&events).unwrap().lines().count(), 1);

    // An existing file open to others is narrowed before it is overwritten.
    std::fs::write(&events, "old contents\n".repeat(100)).unwrap();
    chmod(&events, 0o644);
    let output = simpul_async(
        &[
            "export",
            "events",
            "--with-personal-data",
            "--output",
            events_arg,
        ],
        &env,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_mode(&events, 0o600);
    let text = std::fs::read_to_string(&events).unwrap();
    assert!(!text.contains("old contents"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");

    // Every --output: sealed events, CSV, XLSX.
    for (name, args) in [
        ("sealed.jsonl", vec!["export", "events"]),
        ("kim.csv", vec!["export", "communities"]),
        (
            "kim.xlsx",
            vec!["export", "communities", "--format", "xlsx"],
        ),
    ] {
        let file = dir.path().join(name);
        let mut args = args;
        args.extend(["--output", file.to_str().unwrap()]);
        let output = simpul_async(&args, &env).await;
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        assert_mode(&file, 0o600);
        assert!(std::fs::metadata(&file).unwrap().len() > 0, "{name}");
    }
}

#[test]
fn open_database_and_key_files_are_narrowed_and_an_open_data_dir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("SIMPUL_DATA_DIR", data.to_str().unwrap())];
    let output = simpul(&["export", "events", "--with-personal-data"], &env);
    assert!(output.status.success(), "{}", stderr(&output));

    // As an older Simpul (or a copy) left them.
    chmod(&data, 0o755);
    let database = database_files(&data.join("simpul.db"));
    for file in &database {
        chmod(file, 0o644);
    }
    chmod(&data.join("master.key"), 0o644);

    let output = simpul(&["export", "events", "--with-personal-data"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_mode(&database[0], 0o600);
    // SQLite may remove the WAL and SHM files when the last connection closes.
    for file in database.iter().filter(|file| file.exists()) {
        assert_mode(file, 0o600);
    }
    assert_mode(&data.join("master.key"), 0o600);
    let log = stderr(&output);
    assert!(
        log.contains("it is now owner only") && log.contains(&format!("{}", database[0].display())),
        "{log}"
    );
    // The directory is named, not changed: it may be shared.
    assert_mode(&data, 0o755);
    assert!(log.contains("data directory is open"), "{log}");
    assert!(log.contains(data.to_str().unwrap()), "{log}");
}

crate::both_backends!(
    tokens_create_pegiat_needs_a_kim_that_exists,
    |db: TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("SIMPUL_DATA_DIR", data.to_str().unwrap()),
        ];
        let missing = uuid::Uuid::new_v4().to_string();
        let pegiat = |scope: &str| {
            [
                "tokens", "create", "--role", "pegiat", "--scope", scope, "--name", "Pengurus",
            ]
            .map(str::to_owned)
        };
        let args = pegiat(&missing);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = simpul_async(&args, &env).await;
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(&missing), "{}", stderr(&output));
        assert!(stderr(&output).contains("no KIM"), "{}", stderr(&output));
        assert!(!stdout(&output).contains(simpul_store::TOKEN_PREFIX));
        let tokens = TokenStore::new(db.database.clone());
        assert_eq!(tokens.count().await.unwrap(), 0);

        let id = uuid::Uuid::new_v4().to_string();
        db.executor()
            .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
            .await
            .unwrap();
        let args = pegiat(&id);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = simpul_async(&args, &env).await;
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stdout(&output).contains(&format!("scope {id}")),
            "{}",
            stdout(&output)
        );
        assert_eq!(tokens.count().await.unwrap(), 1);
    }
);

//! The `simpul` binary: real processes, exit codes and output.

use std::process::{Command, Output};

use simpul_domain::ActorRole;

use crate::helpers::*;

fn simpul(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_simpul"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SIMPUL_MASTER_KEY")
        .env_remove("SIMPUL_LEDGER_KEY")
        .env_remove("SIMPUL_LEDGER_ORIGIN");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("the simpul binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn regions_show_prints_name_level_parents_and_children() {
    let output = simpul(&["regions", "show", "34.04"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Kabupaten Sleman"), "{text}");
    assert!(text.contains("Regency"), "{text}");
    assert!(text.contains("34 Daerah Istimewa Yogyakarta"), "{text}");
    assert!(text.contains("children: 17"), "{text}");

    let output = simpul(&["regions", "show", "21.71", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["name"], "Batam");
    assert_eq!(json["kind"], "kota");
    assert_eq!(json["parents"][0]["code"], "21");
}

#[test]
fn regions_show_refuses_bad_and_unknown_codes() {
    let output = simpul(&["regions", "show", "3404"], &[]);
    assert_eq!(output.status.code(), Some(64), "usage");
    assert!(
        stderr(&output).contains("not a Kemendagri region code"),
        "{}",
        stderr(&output)
    );
    let output = simpul(&["regions", "show", "34.99"], &[]);
    assert_eq!(output.status.code(), Some(2), "not found");
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_arguments_give_a_message_and_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for (args, expected) in [
        (
            vec!["events", "tail", "--after", "minus-one"],
            "invalid value",
        ),
        (
            vec!["persons", "erase", "not-a-uuid", "--reason", "x"],
            "not a UUID",
        ),
        (
            vec!["persons", "erase", "00000000-0000-0000-0000-000000000001"],
            "--reason",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let output = simpul(&args, &[("SIMPUL_DATA_DIR", data)]);
        assert_eq!(output.status.code(), Some(64), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = simpul(&["migrate"], &[("DATABASE_URL", "mysql://x@y/z")]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        stderr(&output).contains("postgres:// or sqlite://"),
        "{}",
        stderr(&output)
    );
}

/// The README's table of exit codes, row by row, through the real binary: SQLite in a temp
/// directory, and a PostgreSQL port where nothing listens for 69.
#[test]
fn exit_codes_follow_the_readme_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let unknown = uuid::Uuid::new_v4().to_string();
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/registry-sample.csv"
    );
    let latin1 = path("latin1.csv");
    std::fs::write(&latin1, b"nama_kim\nKIM Caf\xE9\n").unwrap();
    let bad_config = path("bad.toml");
    std::fs::write(&bad_config, "colour = \"red\"\n").unwrap();
    let missing_csv = path("missing.csv");
    let unwritable = path("no-such-dir/events.jsonl");
    type Env<'a> = &'a [(&'a str, &'a str)];
    let none: Env = &[];
    let cases: Vec<(Vec<&str>, Env, i32)> = vec![
        // 0: done; help and version too.
        (vec!["--help"], none, 0),
        (vec!["-h"], none, 0),
        (vec!["--version"], none, 0),
        (vec!["help", "tokens"], none, 0),
        (vec!["tokens", "revoke", "--help"], none, 0),
        (vec!["regions", "show", "34.04"], none, 0),
        (vec!["migrate"], none, 0),
        (vec!["tokens", "list"], none, 0),
        (
            vec![
                "demo",
                "seed",
                "--scale",
                "1",
                "--region",
                "34.04",
                "--dry-run",
            ],
            none,
            0,
        ),
        // 1: the operation failed.
        (vec!["export", "events", "--output", &unwritable], none, 1),
        // 2: what the command names does not exist.
        (vec!["regions", "show", "99.99"], none, 2),
        (vec!["persons", "erase", &unknown, "--reason", "x"], none, 2),
        (vec!["tokens", "revoke", &unknown], none, 2),
        (
            vec![
                "tokens", "create", "--role", "pegiat", "--scope", &unknown, "--name", "x",
            ],
            none,
            2,
        ),
        (
            vec![
                "tokens", "create", "--role", "regency", "--scope", "34.99", "--name", "x",
            ],
            none,
            2,
        ),
        (vec!["export", "communities", "--region", "34.99"], none, 2),
        (
            vec![
                "demo",
                "seed",
                "--scale",
                "1",
                "--region",
                "34.99",
                "--dry-run",
            ],
            none,
            2,
        ),
        (vec!["import", &missing_csv], none, 2),
        // 64: usage — clap's own errors (its default is 2) and values checked after parsing.
        (vec![], none, 64),
        (vec!["frobnicate"], none, 64),
        (vec!["regions", "show"], none, 64),
        (vec!["regions", "show", "34.04", "--frobnicate"], none, 64),
        (vec!["events", "tail", "--after", "minus-one"], none, 64),
        (vec!["export", "events", "--limit", "0"], none, 64),
        (vec!["export", "communities", "--format", "xlsx"], none, 64),
        (vec!["demo", "seed", "--scale", "0"], none, 64),
        (vec!["persons", "erase", &unknown], none, 64),
        (vec!["--log-format", "yaml", "migrate"], none, 64),
        (vec!["regions", "show", "3404"], none, 64),
        (vec!["export", "communities", "--region", "3404"], none, 64),
        (
            vec!["persons", "erase", "not-a-uuid", "--reason", "x"],
            none,
            64,
        ),
        (
            vec!["persons", "erase", &unknown, "--reason", " "],
            none,
            64,
        ),
        (vec!["tokens", "revoke", "not-a-uuid"], none, 64),
        (
            vec![
                "tokens", "create", "--role", "root", "--scope", "national", "--name", "x",
            ],
            none,
            64,
        ),
        (
            vec![
                "tokens", "create", "--role", "regency", "--scope", "34", "--name", "x",
            ],
            none,
            64,
        ),
        (
            vec![
                "tokens", "create", "--role", "admin", "--scope", "national", "--name", " ",
            ],
            none,
            64,
        ),
        (vec!["projections", "rebuild", "nothing"], none, 64),
        (vec!["projections", "verify"], none, 64),
        (
            vec![
                "demo",
                "seed",
                "--scale",
                "1",
                "--region",
                "34.04.01",
                "--dry-run",
            ],
            none,
            64,
        ),
        (vec!["import", sample, "--actor", " "], none, 64),
        (vec!["--config", &bad_config, "migrate"], none, 64),
        (vec!["migrate"], &[("DATABASE_URL", "mysql://x@y/z")], 64),
        // 65: the input data is wrong.
        (vec!["import", sample, "--dry-run"], none, 65),
        (vec!["import", &latin1], none, 65),
        // 69: the database cannot be reached.
        (
            vec!["migrate"],
            &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")],
            69,
        ),
    ];
    for (args, envs, code) in cases {
        let mut envs = envs.to_vec();
        envs.push(("SIMPUL_DATA_DIR", data));
        let output = simpul(&args, &envs);
        assert_eq!(
            output.status.code(),
            Some(code),
            "simpul {args:?} {envs:?}: {}",
            stderr(&output)
        );
        let (out, err) = (stdout(&output), stderr(&output));
        match code {
            0 => assert!(!out.is_empty(), "{args:?}: nothing on stdout"),
            _ if args.is_empty() => assert!(err.contains("Usage:"), "{err}"),
            _ => assert!(err.contains("error"), "{args:?}: no message: {err}"),
        }
    }
}

/// `projections status` exits 1 while a read model is stopped at an event it cannot apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_status_exits_1_when_a_read_model_has_failed() {
    let db = TestDb::new(simpul_store::Backend::Sqlite).await;
    let id = uuid::Uuid::new_v4().to_string();
    db.executor()
        .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
        .await
        .unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let healthy = simpul_binary_async(&["projections", "status"], &env).await;
    assert_eq!(healthy.status.code(), Some(0), "{}", stderr(&healthy));
    // A well-formed event whose sequence skips ahead: the summary's fold stops at it.
    let payload = serde_json::json!({"ActivityRecorded": {
        "activity_id": uuid::Uuid::new_v4(), "kind": "dissemination", "title": "Lompat",
        "held_on": "2025-06-01", "participants": null}});
    let metadata = r#"{"actor_id":"x","actor_role":"regency","request_id":"r","recorded_at":"2025-06-01T00:00:00Z","region_edition":"e"}"#;
    let simpul_store::Database::Sqlite { writer, .. } = &db.database else {
        unreachable!("a SQLite test database")
    };
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, position) VALUES ('Community', ?1, 5, 'ActivityRecorded', '1.0', ?2, \
         ?3, (SELECT MAX(position) + 1 FROM events))",
    )
    .bind(&id)
    .bind(payload.to_string())
    .bind(metadata)
    .execute(writer)
    .await
    .unwrap();
    let summary = simpul_projections::all(simpul_regions::bundled().unwrap())
        .into_iter()
        .find(|p| p.name() == "community_summary")
        .unwrap();
    let runner = simpul_projections::Runner::new(db.store());
    assert!(runner.catch_up(summary.as_ref()).await.is_err());

    let failed = simpul_binary_async(&["projections", "status"], &env).await;
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(
        stdout(&failed).contains(&format!("{id}#5")),
        "{}",
        stdout(&failed)
    );
    assert!(
        stderr(&failed).contains("community_summary"),
        "{}",
        stderr(&failed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_tail_prints_json_lines_in_global_order_on_both_backends() {
    for backend in [
        simpul_store::Backend::Sqlite,
        simpul_store::Backend::Postgres,
    ] {
        let db = TestDb::new(backend).await;
        let executor = db.executor();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
            .await
            .unwrap();
        for _ in 0..2 {
            let (_, command) = activity(simpul_domain::events::ActivityKind::Networking);
            executor
                .execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
        }
        let feed = read_feed(&db.store(), 0, 3).await;
        let url = db.url.clone();
        let output = tokio::task::spawn_blocking(move || {
            simpul(
                &["events", "tail", "--after", "0"],
                &[("DATABASE_URL", &url)],
            )
        })
        .await
        .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let lines: Vec<serde_json::Value> = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{backend:?}");
        for (line, event) in lines.iter().zip(&feed) {
            assert_eq!(line["position"], event.position);
            assert_eq!(line["event_type"], event.event_type.as_str());
        }
        let url = db.url.clone();
        let after = feed[0].position.to_string();
        let output = tokio::task::spawn_blocking(move || {
            simpul(
                &["events", "tail", "--after", &after],
                &[("DATABASE_URL", &url)],
            )
        })
        .await
        .unwrap();
        assert_eq!(stdout(&output).lines().count(), 2, "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_erase_shreds_a_name_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    // Create the master key the way the binary does, then seal a name with it.
    let master = simpul_store::MasterKey::load_or_create(&dir.path().join("master.key")).unwrap();
    let url = format!("sqlite://{}", dir.path().join("simpul.db").display());
    let database = simpul_store::Database::connect_and_migrate(
        &simpul_store::DatabaseUrl::parse(&url).unwrap(),
    )
    .await
    .unwrap();
    let keys = simpul_store::KeyStore::new(database.clone(), master);
    let person = uuid::Uuid::new_v4();
    let sealed = keys.seal(person, "Zul Arif").await.unwrap().unwrap();

    let person_arg = person.to_string();
    let data_arg = data.clone();
    let output = tokio::task::spawn_blocking(move || {
        simpul(
            &[
                "persons",
                "erase",
                &person_arg,
                "--reason",
                "permintaan subjek data",
            ],
            &[("SIMPUL_DATA_DIR", &data_arg)],
        )
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        keys.open(&sealed).await.unwrap(),
        simpul_store::Unsealed::Erased
    );

    let unknown = uuid::Uuid::new_v4().to_string();
    let output = tokio::task::spawn_blocking(move || {
        simpul(
            &["persons", "erase", &unknown, "--reason", "x"],
            &[("SIMPUL_DATA_DIR", &data)],
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2), "not found");
    assert!(
        stderr(&output).contains("no data key"),
        "{}",
        stderr(&output)
    );
}

/// `simpul serve` as a user runs it: it starts on the embedded store with no database server,
/// writes the first admin token (mode 0600), answers, and on SIGTERM finishes and exits 0.
#[test]
fn serve_starts_on_the_embedded_store_and_stops_cleanly_on_sigterm() {
    use std::io::{BufRead as _, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_simpul"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("SIMPUL_MASTER_KEY")
        .env("SIMPUL_DATA_DIR", dir.path())
        .env("SIMPUL_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut address = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.trim().strip_prefix("simpul: serving http://") {
            address = rest.split('/').next().map(str::to_owned);
            break;
        }
        line.clear();
    }
    let address = address.expect("the server announces its address");
    let token_file = dir.path().join("admin-token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let (health, region) = runtime.block_on(async {
        let health = client
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        let region = client
            .get(format!("http://{address}/api/v1/regions/34.04"))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        (health, region)
    });
    assert_eq!(health, 200);
    assert_eq!(region["display_name"], "Kabupaten Sleman");
    assert!(
        dir.path().join("simpul.db").exists(),
        "embedded SQLite store"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

#[test]
fn a_toml_configuration_file_sets_what_flags_and_variables_leave_unset() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-file");
    let config = dir.path().join("simpul.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let output = simpul(&["--config", config.to_str().unwrap(), "migrate"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        data.join("simpul.db").exists(),
        "data_dir from the file was not used"
    );

    std::fs::write(&config, "data_dir = \"x\"\ncolour = \"red\"\n").unwrap();
    let output = simpul(&["--config", config.to_str().unwrap(), "migrate"], &[]);
    assert_eq!(output.status.code(), Some(64), "usage");
    assert!(stderr(&output).contains("colour"), "{}", stderr(&output));

    let output = simpul(&["serve", "--help"], &[]);
    let help = stdout(&output);
    for option in [
        "--listen",
        "SIMPUL_LISTEN",
        "--config",
        "--data-dir",
        "DATABASE_URL",
        "SIMPUL_MASTER_KEY",
    ] {
        assert!(help.contains(option), "serve --help lacks {option}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_rebuild_and_status_from_the_command_line() {
    let db = TestDb::new(simpul_store::Backend::Sqlite).await;
    let executor = db.executor();
    for _ in 0..3 {
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 10), &context(ActorRole::Regency))
            .await
            .unwrap();
    }
    let url = db.url.clone();
    let (rebuild, status, unknown, verify) = tokio::task::spawn_blocking(move || {
        let env = [("DATABASE_URL", url.as_str())];
        (
            simpul(&["projections", "rebuild", "--all"], &env),
            simpul(&["projections", "status", "--json"], &env),
            simpul(&["projections", "rebuild", "nothing"], &env),
            simpul(&["projections", "verify", "--all"], &env),
        )
    })
    .await
    .unwrap();
    assert!(rebuild.status.success(), "{}", stderr(&rebuild));
    assert!(
        stderr(&rebuild).contains("community_summary: 3 events"),
        "{}",
        stderr(&rebuild)
    );
    assert!(status.status.success(), "{}", stderr(&status));
    let lines: Vec<serde_json::Value> = stdout(&status)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), simpul_projections::READ_MODELS.len());
    for line in &lines {
        assert_eq!(line["events"], 3, "{line}");
        assert_eq!(line["lag_events"], 0, "{line}");
        assert_eq!(line["state"], "running");
    }
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert_eq!(
        stdout(&verify).matches("identical to a rebuild").count(),
        simpul_projections::READ_MODELS.len()
    );
    assert_eq!(unknown.status.code(), Some(64), "usage");
    assert!(
        stderr(&unknown).contains("unknown read model"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn audit_key_prints_the_verifier_of_a_key_made_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("SIMPUL_DATA_DIR", data.to_str().unwrap())];
    let first = simpul(&["audit", "key"], &env);
    assert!(first.status.success(), "{}", stderr(&first));
    let verifier = stdout(&first).trim().to_owned();
    let parsed = simpul_ledger::Verifier::parse(&verifier).expect("a signed-note verifier key");
    assert_eq!(parsed.name(), "simpul.local/ledger");
    // The same key on every later run: the file is read, not made again.
    let second = simpul(&["audit", "key"], &env);
    assert_eq!(stdout(&second).trim(), verifier);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("ledger.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // SIMPUL_LEDGER_KEY and SIMPUL_LEDGER_ORIGIN name another key: exactly the seed's.
    let seed = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="; // 32 bytes of 7
    let given = simpul(
        &["audit", "key"],
        &[
            ("SIMPUL_DATA_DIR", data.to_str().unwrap()),
            ("SIMPUL_LEDGER_KEY", seed),
            ("SIMPUL_LEDGER_ORIGIN", "diskominfo.example/kim"),
        ],
    );
    let expected = simpul_ledger::LedgerKey::from_seed("diskominfo.example/kim", &[7; 32])
        .unwrap()
        .verifier()
        .encode();
    assert_eq!(stdout(&given).trim(), expected);

    // A key that is not 32 bytes, or an origin a signed note cannot name: 78, saying which.
    let bad = simpul(&["audit", "key"], &[("SIMPUL_LEDGER_KEY", "c2hvcnQ=")]);
    assert_eq!(bad.status.code(), Some(78), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("SIMPUL_LEDGER_KEY"),
        "{}",
        stderr(&bad)
    );
    let bad = simpul(
        &["audit", "key"],
        &[
            ("SIMPUL_LEDGER_KEY", seed),
            ("SIMPUL_LEDGER_ORIGIN", "two words"),
        ],
    );
    assert_eq!(bad.status.code(), Some(78), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("SIMPUL_LEDGER_ORIGIN"),
        "{}",
        stderr(&bad)
    );
}

//! Registry import: `simpul_app::import::run`, `simpul import` (the real binary) and
//! `POST /api/v1/imports` (a real server), on both backends. All or nothing, re-import
//! idempotence, exactly the updating events for a changed row, Excel's CSV dialect, the sample
//! file's documented errors, exit codes, scopes and roles, keyed ids and legacy (v5) ids.

use std::process::Output;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use simpul_app::import::{self, ImportReport, ImportRequest, ImportStatus, RowOutcomeKind};
use simpul_app::Scope;
use simpul_domain::events::CommunityEvent;
use simpul_domain::sealed::SealedText;
use simpul_domain::ActorRole;
use simpul_store::{Database, EventStore, KeyStore, MasterKey, Unsealed};

use crate::both_backends;
use crate::helpers::*;
use crate::server::TestServer;

const HEADER: [&str; 16] = [
    "source_id",
    "nama_kim",
    "kode_desa",
    "tanggal_terbentuk",
    "jumlah_anggota",
    "ketua",
    "sekretaris",
    "bendahara",
    "nomor_sk",
    "tanggal_sk",
    "nomor_induk",
    "tahap",
    "kegiatan_agen_pembangunan",
    "kanal_media",
    "e_bisnis",
    "tanggal_tahap",
];

const VILLAGES: [&str; 5] = [
    "34.04.01.2001",
    "34.04.01.2002",
    "34.04.01.2003",
    "34.02.03.2002",
    "21.71.01.1002",
];

/// The path of the shipped sample registry.
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/docs/examples/registry-sample.csv"
);

/// One valid row per `i`: stages 1–4 where the KIM is legal, with evidence for each.
fn row(i: usize) -> Vec<String> {
    let has_sk = i % 5 != 4;
    let has_number = has_sk && !i.is_multiple_of(3);
    let stage = if has_number { 1 + i % 4 } else { 1 };
    vec![
        format!("T-{i:03}"),
        format!("KIM Uji {i}"),
        VILLAGES[i % VILLAGES.len()].to_owned(),
        "2020-01-15".to_owned(),
        (10 + i % 20).to_string(),
        format!("Ketua Nomor {i}"),
        format!("Sekretaris Nomor {i}"),
        format!("Bendahara Nomor {i}"),
        if has_sk {
            format!("SK/{i}/2020")
        } else {
            String::new()
        },
        if has_sk {
            "2020-02-01".to_owned()
        } else {
            String::new()
        },
        if has_number {
            format!("NI-{i:03}")
        } else {
            String::new()
        },
        stage.to_string(),
        format!("Sosialisasi program desa {i}"),
        format!("https://www.instagram.com/kimuji{i}"),
        format!("https://shopee.co.id/kimuji{i}"),
        "2020-06-01".to_owned(),
    ]
}

/// A file of `rows`, comma-separated, with a header.
fn file(rows: &[Vec<String>]) -> String {
    let mut text = HEADER.join(",");
    text.push('\n');
    for row in rows {
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

/// Runs an import as an admin from the CLI would.
async fn import_as_admin(
    store: &EventStore,
    keys: &KeyStore,
    name: &str,
    bytes: &[u8],
    dry_run: bool,
) -> ImportReport {
    let context = context(ActorRole::Admin);
    import::run(
        store,
        keys,
        &services(),
        ImportRequest {
            file_name: name,
            bytes,
            context: &context,
            scope: &Scope::National,
            dry_run,
            recorded_at: Utc::now(),
        },
    )
    .await
    .unwrap()
}

async fn person_keys(db: &Database) -> i64 {
    let sql = "SELECT COUNT(*) FROM person_keys";
    match db {
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Database::Sqlite { readers, .. } => {
            sqlx::query_scalar(sql).fetch_one(readers).await.unwrap()
        }
    }
}

fn errors(report: &ImportReport) -> Vec<(u64, &str, &str, &str)> {
    report
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str(), e.value.as_str(), e.rule.as_str()))
        .collect()
}

both_backends!(
    one_bad_row_among_fifty_writes_nothing_and_a_re_import_writes_nothing_new,
    |db: TestDb| async move {
        let store = db.store();
        let keys = db.keys();
        let mut rows: Vec<Vec<String>> = (0..50).map(row).collect();
        // Line 27: the header is line 1, so the 26th row.
        let mut bad = row(50);
        bad[4] = "2".to_owned();
        rows.insert(25, bad);
        let with_bad = file(&rows);
        let report =
            import_as_admin(&store, &keys, "registri.csv", with_bad.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Failed);
        assert_eq!(report.rows, 51);
        assert_eq!(errors(&report), vec![(27, "jumlah_anggota", "2", "R1")]);
        assert!(
            report.errors[0].message.contains("3 to 30"),
            "{:?}",
            report.errors
        );
        assert_eq!(store.count().await.unwrap(), 0, "all or nothing");
        assert_eq!(person_keys(&db.database).await, 0);

        rows.remove(25);
        let good = file(&rows);
        let report = import_as_admin(&store, &keys, "registri.csv", good.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (50, 0, 0)
        );
        let written = store.count().await.unwrap();
        assert_eq!(written, report.events as u64);
        // 50 × (formation + 3 officers) at least; the legal ones add SK, nomor induk, stages.
        assert!(written > 50 * 4, "{written}");
        assert_eq!(person_keys(&db.database).await, 150);

        // Stages reached as the file says, each step citing evidence.
        for outcome in &report.communities {
            let (community, version) = store.load(&outcome.id).await.unwrap();
            let expected = row(usize::try_from(outcome.line - 2).unwrap())[11].clone();
            assert_eq!(
                community.stage().number().to_string(),
                expected,
                "line {}",
                outcome.line
            );
            assert_eq!(version as usize, outcome.events.len());
        }

        let again = import_as_admin(&store, &keys, "registri.csv", good.as_bytes(), false).await;
        assert_eq!(again.status, ImportStatus::Written);
        assert_eq!(
            (again.created, again.updated, again.unchanged, again.events),
            (0, 0, 50, 0)
        );
        assert_eq!(
            store.count().await.unwrap(),
            written,
            "a re-import creates nothing new"
        );
        let ids: Vec<&str> = report.communities.iter().map(|c| c.id.as_str()).collect();
        let ids_again: Vec<&str> = again.communities.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ids_again);
    }
);

both_backends!(
    a_changed_member_count_and_officer_name_give_exactly_the_updating_events,
    |db: TestDb| async move {
        let store = db.store();
        let keys = KeyStore::new(db.database.clone(), MasterKey::generate());
        let mut rows: Vec<Vec<String>> = (0..4).map(row).collect();
        let first = file(&rows);
        let report = import_as_admin(&store, &keys, "awal.csv", first.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        let id = report.communities[1].id.clone();
        let before = store.count().await.unwrap();

        rows[1][4] = "24".to_owned();
        rows[1][5] = format!("  {}  ", "Siti  Rahayu");
        // Case and spacing of an unchanged name are not a change.
        rows[2][6] = rows[2][6].to_uppercase();
        let changed = file(&rows);
        let report =
            import_as_admin(&store, &keys, "perubahan.csv", changed.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (0, 1, 3)
        );
        let updated = &report.communities[1];
        assert_eq!(updated.outcome, RowOutcomeKind::Updated);
        assert_eq!(
            updated.events,
            vec!["MemberCountUpdated", "OfficerDismissed", "OfficerAppointed"]
        );
        assert_eq!(store.count().await.unwrap(), before + 3);

        let stream = store.stream(&id).await.unwrap();
        let new: Vec<_> = stream.iter().skip(stream.len() - 3).collect();
        for event in &new {
            assert_eq!(event.metadata["import_file"], "perubahan.csv");
            assert_eq!(event.metadata["import_sha256"], report.sha256);
            assert_eq!(event.metadata["actor_role"], "admin");
        }
        let dismissal = &new[1];
        assert!(dismissal.metadata["reason"].contains("perubahan.csv"));
        assert!(dismissal.metadata["reason"].contains(&report.sha256));
        let CommunityEvent::MemberCountUpdated(members) =
            serde_json::from_value(new[0].payload.clone()).unwrap()
        else {
            panic!("not a member count update");
        };
        assert_eq!((members.previous, members.member_count), (11, 24));
        let sealed: SealedText =
            serde_json::from_value(new[2].payload["OfficerAppointed"]["name"].clone()).unwrap();
        assert_eq!(
            keys.open(&sealed).await.unwrap(),
            Unsealed::Plain("Siti Rahayu".to_owned())
        );
        let (community, _) = store.load(&id).await.unwrap();
        assert_eq!(community.member_count(), 24);
        assert_eq!(community.active_officers().count(), 3);

        // Importing the changed file again is a no-op.
        let again =
            import_as_admin(&store, &keys, "perubahan.csv", changed.as_bytes(), false).await;
        assert_eq!(again.events, 0);
        assert_eq!(store.count().await.unwrap(), before + 3);
    }
);

both_backends!(
    stages_move_by_events_and_fixed_facts_are_refused_on_re_import,
    |db: TestDb| async move {
        let store = db.store();
        let keys = db.keys();
        // Row 1: legal, KIM 2 (i = 1). Row 2: legal, KIM 3 (i = 2).
        let mut rows: Vec<Vec<String>> = vec![row(1), row(2)];
        let report = import_as_admin(&store, &keys, "a.csv", file(&rows).as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);

        rows[0][11] = "KIM 4".to_owned();
        rows[1][11] = "1".to_owned();
        let report = import_as_admin(&store, &keys, "b.csv", file(&rows).as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        assert_eq!(
            report.communities[0].events,
            vec![
                "MediaChannelRegistered",
                "StageAdvanced",
                "EBusinessRegistered",
                "StageAdvanced"
            ]
        );
        assert_eq!(report.communities[1].events, vec!["StageLowered"]);

        // Name, desa, formation date and nomor induk cannot change by an event (R10); an empty
        // cell never removes an SK.
        let count = store.count().await.unwrap();
        rows[0][1] = "KIM Nama Lain".to_owned();
        rows[1][8] = String::new();
        rows[1][9] = String::new();
        let report = import_as_admin(&store, &keys, "c.csv", file(&rows).as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Failed);
        assert_eq!(
            errors(&report),
            vec![
                (2, "nama_kim", "KIM Nama Lain", "R10"),
                (3, "nomor_sk", "", "R10")
            ]
        );
        assert_eq!(store.count().await.unwrap(), count);
    }
);

both_backends!(
    keys_and_nomor_induk_are_unique_across_the_file_and_the_store,
    |db: TestDb| async move {
        let store = db.store();
        let keys = db.keys();
        // A KIM holding NI-001 in Sleman, recorded through the API beforehand.
        let executor = db.executor();
        let id = legal_ready(&executor, &keys, SLEMAN_DESA).await;
        executor
            .execute(
                &id,
                assign_number("NI-001", SLEMAN),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();
        let before = store.count().await.unwrap();

        let taken = row(1); // NI-001 in 34.04.01.2002 (Sleman)
        let mut twice = row(2);
        twice[0] = "T-002".to_owned();
        let same_key = row(2);
        let mut same_number = row(7); // 34.04.01.2003, Sleman
        same_number[10] = "ni-002".to_owned(); // NI-002 of row 2, in another case
        let mut no_key = row(8);
        no_key[0] = String::new();
        no_key[10] = String::new();
        no_key[11] = "1".to_owned();
        let text = file(&[taken, twice, same_key, same_number, no_key]);
        let report = import_as_admin(&store, &keys, "dup.csv", text.as_bytes(), false).await;
        assert_eq!(
            errors(&report),
            vec![
                (2, "nomor_induk", "NI-001", "R8"),
                (4, "source_id", "T-002", "key"),
                (5, "nomor_induk", "ni-002", "R8"),
                (6, "source_id, nomor_induk", "", "key"),
            ]
        );
        assert!(
            report.errors[0].message.contains(&id),
            "{:?}",
            report.errors[0]
        );
        assert_eq!(store.count().await.unwrap(), before);
    }
);

both_backends!(
    excel_csv_with_bom_semicolons_and_day_first_dates_is_read,
    |db: TestDb| async move {
        let store = db.store();
        let keys = db.keys();
        let text = "\u{feff}Source ID;Nama KIM;Kode Desa;Tanggal Terbentuk;Jumlah Anggota;Ketua;\
                    Sekretaris;Bendahara;Nomor SK;Tanggal SK;Nomor Induk;Tahap\r\n\
                    A-1;KIM Sadai Bersatu;21.71.01.1002;17/08/2022;25;Zulkifli;Indah;Rahmat;\
                    02/2022;25-08-2022;2171/KIM/001;KIM 1\r\n;;;;;;;;;;;\r\n";
        let report = import_as_admin(&store, &keys, "excel.csv", text.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        assert_eq!(report.delimiter, ";");
        assert_eq!(report.rows, 1);
        let stream = store.stream(&report.communities[0].id).await.unwrap();
        let formed = &stream[0].payload["CommunityFormed"];
        assert_eq!(formed["formed_on"], "2022-08-17");
        assert_eq!(formed["name"], "KIM Sadai Bersatu");
        let sk = &stream[4].payload["SkIssued"];
        assert_eq!(sk["issued_on"], "2022-08-25");
        assert_eq!(sk["signed_by"], "Lurah Pemping");
        assert_eq!(
            stream[5].payload["RegistrationNumberAssigned"]["regency"],
            "21.71"
        );
    }
);

both_backends!(
    the_sample_file_gives_exactly_the_documented_errors,
    |db: TestDb| async move {
        let store = db.store();
        let keys = db.keys();
        let bytes = std::fs::read(SAMPLE).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "the sample has a BOM");
        let report = import_as_admin(&store, &keys, "registry-sample.csv", &bytes, false).await;
        assert_eq!(report.delimiter, ";");
        assert_eq!(
            errors(&report),
            vec![
                (8, "kode_desa", "34.04.01.2999", "R2"),
                (9, "jumlah_anggota", "2", "R1"),
                (10, "kanal_media", "", "R9"),
            ]
        );
        assert_eq!(report.created, 6);
        assert_eq!(store.count().await.unwrap(), 0);

        // Without its invalid rows (lines 8–10) the sample is written.
        let text = String::from_utf8(bytes).unwrap();
        let valid: String = text.split_inclusive('\n').take(7).collect();
        let report =
            import_as_admin(&store, &keys, "sample-valid.csv", valid.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        assert_eq!(report.created, 6);
    }
);

/// Moves a KIM's events (and its nomor induk claim) to another id: what the first imports wrote,
/// which gave each KIM the public UUID v5 of its import key instead of a keyed id.
async fn move_stream(db: &Database, from: &str, to: &str) {
    let events = "UPDATE events SET aggregate_id = $1 WHERE aggregate_id = $2";
    let claims = "UPDATE registration_claims SET community_id = $1 WHERE community_id = $2";
    for sql in [events, claims] {
        match db {
            Database::Postgres(pool) => {
                sqlx::query(sql)
                    .bind(to)
                    .bind(from)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Database::Sqlite { writer, .. } => {
                sqlx::query(&sql.replace('$', "?"))
                    .bind(to)
                    .bind(from)
                    .execute(writer)
                    .await
                    .unwrap();
            }
        }
    }
}

// Issue 11 (3): deployments that imported before ids were keyed keep their KIM. A stream at a
// row's legacy id (UUID v5 of its key) that an import formed is the row's KIM; one formed by a
// command (a chosen id on `POST /communities`, anyone can compute a v5 id) is not, and no longer
// makes the row fail: the row gets its keyed id.
both_backends!(
    a_kim_imported_at_its_legacy_id_is_found_and_one_formed_there_by_a_command_is_ignored,
    |db: TestDb| async move {
        let store = db.store();
        let keys = db.keys();
        let mut rows: Vec<Vec<String>> = (0..6).map(row).collect();
        let first = file(&rows[..5]);
        let report = import_as_admin(&store, &keys, "lama.csv", first.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        let mut legacy = Vec::new();
        for community in &report.communities {
            let old = import::legacy_community_id(&community.key).to_string();
            assert_ne!(community.id, old);
            move_stream(&db.database, &community.id, &old).await;
            legacy.push(old);
        }
        // Row 5 (a Sleman desa): a KIM formed by a command at the v5 id of its key.
        let squatted = import::legacy_community_id(&format!("source:{SLEMAN}:T-005")).to_string();
        db.executor()
            .execute(
                &squatted,
                form(SLEMAN_DESA, 12),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();
        let before = store.count().await.unwrap();

        let text = file(&rows);
        let report = import_as_admin(&store, &keys, "registri.csv", text.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (1, 0, 5)
        );
        let ids: Vec<&str> = report.communities.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(&ids[..5], legacy.as_slice(), "legacy KIM keep their ids");
        assert_ne!(ids[5], squatted, "a command's KIM is not the row's");
        let (community, _) = store.load(ids[5]).await.unwrap();
        assert_eq!(community.name().map(|n| n.as_str()), Some("KIM Uji 5"));
        assert_eq!(store.stream(&squatted).await.unwrap().len(), 1);
        let written = store.count().await.unwrap();
        assert_eq!(written, before + report.events as u64);

        // Again: nothing new, the same ids.
        let again = import_as_admin(&store, &keys, "registri.csv", text.as_bytes(), false).await;
        assert_eq!(
            (again.created, again.updated, again.unchanged, again.events),
            (0, 0, 6, 0)
        );
        let ids_again: Vec<&str> = again.communities.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids_again, ids);
        assert_eq!(store.count().await.unwrap(), written);

        // A change to a legacy KIM goes to its stream.
        rows[1][4] = "24".to_owned();
        let changed = file(&rows);
        let report =
            import_as_admin(&store, &keys, "perubahan.csv", changed.as_bytes(), false).await;
        assert_eq!(
            (report.created, report.updated, report.unchanged),
            (0, 1, 5)
        );
        assert_eq!(report.communities[1].id, legacy[1]);
        let (community, _) = store.load(&legacy[1]).await.unwrap();
        assert_eq!(community.member_count(), 24);
    }
);

// ---- the binary -------------------------------------------------------------------------

async fn simpul_async(args: Vec<String>, envs: Vec<(String, String)>) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    simpul_binary_async(&args, &envs).await
}

both_backends!(
    simpul_import_exits_65_on_bad_rows_reports_json_and_dry_runs,
    |db: TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let envs = vec![
            ("DATABASE_URL".to_owned(), db.url.clone()),
            (
                "SIMPUL_MASTER_KEY".to_owned(),
                MasterKey::generate().to_base64(),
            ),
        ];
        let run = |args: Vec<String>| simpul_async(args, envs.clone());
        let args = |list: &[&str]| list.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();

        // The sample: exit 65, the report lists the three documented errors, nothing written.
        let report_path = path("report.json");
        let output = run(args(&["import", SAMPLE, "--report", &report_path])).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(65), "{stdout}");
        assert!(stdout.contains("nothing was written"), "{stdout}");
        assert!(
            stdout.contains("line 9, jumlah_anggota = \"2\": [R1]"),
            "{stdout}"
        );
        let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
        assert_eq!(report["status"], "failed");
        assert_eq!(report["file"], "registry-sample.csv");
        let rules: Vec<&str> = report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, vec!["R2", "R1", "R9"]);
        assert_eq!(db.store().count().await.unwrap(), 0);

        // A valid file: --dry-run writes nothing and exits 0; then the import writes.
        let valid = path("valid.csv");
        std::fs::write(&valid, file(&(0..5).map(row).collect::<Vec<_>>())).unwrap();
        let output = run(args(&["import", &valid, "--dry-run"])).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("dry run"));
        assert_eq!(
            db.store().count().await.unwrap(),
            0,
            "a dry run writes nothing"
        );
        let output = run(args(&[
            "import",
            &valid,
            "--actor",
            "operator:budi",
            "--report",
            &report_path,
        ]))
        .await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
        assert_eq!(report["status"], "written");
        assert_eq!(report["created"], 5);
        let written = db.store().count().await.unwrap();
        assert_eq!(Some(written), report["events"].as_u64());
        let stream = db
            .store()
            .stream(report["communities"][0]["id"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(stream[0].metadata["actor_id"], "operator:budi");
        assert_eq!(stream[0].metadata["import_file"], "valid.csv");
        assert_eq!(
            stream[0].metadata["import_sha256"],
            report["sha256"].as_str().unwrap()
        );

        // Again: exit 0, nothing new.
        let output = run(args(&["import", &valid])).await;
        assert!(output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).contains("5 unchanged"));
        assert_eq!(db.store().count().await.unwrap(), written);

        // A missing file: exit 2 (not found); one that is not a registry: 65, as bad rows.
        let latin1 = path("latin1.csv");
        std::fs::write(&latin1, b"nama_kim\nKIM Caf\xE9\n").unwrap();
        for (file, expected, code) in [
            (path("missing.csv"), "cannot read", 2),
            (latin1, "not UTF-8", 65),
        ] {
            let output = run(args(&["import", &file])).await;
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert_eq!(output.status.code(), Some(code), "{stderr}");
            assert!(stderr.contains(expected), "{stderr}");
        }
    }
);

// ---- the API ----------------------------------------------------------------------------

async fn post_csv(
    server: &TestServer,
    token: &str,
    query: &str,
    body: &str,
    content_type: &str,
) -> (StatusCode, Value) {
    let response = server
        .client
        .request(
            Method::POST,
            format!("{}/api/v1/imports{query}", server.base),
        )
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn http_imports(server: TestServer) {
    let regency = server.token("regency", SLEMAN).await;
    let admin = server.token("admin", "national").await;
    let pegiat = server
        .token("pegiat", &uuid::Uuid::new_v4().to_string())
        .await;
    let store = server.executor().store().clone();
    // Rows 0–9: Sleman (i % 5 in 0..3), Bantul (3) and Batam (4).
    let all: Vec<Vec<String>> = (0..10).map(row).collect();
    let sleman: Vec<Vec<String>> = all
        .iter()
        .filter(|r| r[2].starts_with("34.04."))
        .cloned()
        .collect();

    let (status, body) = post_csv(&server, &pegiat, "", &file(&sleman), "text/csv").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("import"),
        "{body}"
    );

    // A regency token may import only rows of its kabupaten/kota: the others fail the import.
    let (status, body) = post_csv(
        &server,
        &regency,
        "?filename=semua.csv",
        &file(&all),
        "text/csv",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["status"], "failed");
    let scope_lines: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "scope")
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(scope_lines, vec![5, 6, 10, 11], "{body}");
    assert!(body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["column"] == "kode_desa"));
    assert_eq!(store.count().await.unwrap(), 0);

    // Wrong media type, and a dry run.
    let (status, body) = post_csv(&server, &regency, "", &file(&sleman), "application/json").await;
    assert_eq!(status, 415, "{body}");
    let (status, body) = post_csv(
        &server,
        &regency,
        "?dry_run=true",
        &file(&sleman),
        "text/csv",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "validated");
    assert_eq!(store.count().await.unwrap(), 0);
    let (status, _) = post_csv(&server, &regency, "", "\u{feff}\r\n", "text/csv").await;
    assert_eq!(status, 400);

    // Its own rows: written, 200, the KIM readable through the API.
    let response = server
        .client
        .post(format!("{}/api/v1/imports", server.base))
        .bearer_auth(&regency)
        .header("content-type", "text/csv; charset=utf-8")
        .header(
            "content-disposition",
            "attachment; filename=\"registri-sleman.csv\"",
        )
        .header("x-request-id", "impor-1")
        .body(file(&sleman))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "written", "{body}");
    assert_eq!(body["file"], "registri-sleman.csv");
    assert_eq!(body["created"].as_u64(), Some(sleman.len() as u64));
    let id = body["communities"][0]["id"].as_str().unwrap().to_owned();
    let reply = server.get(&format!("/communities/{id}"), &regency).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["name"], "KIM Uji 0");
    let stream = store.stream(&id).await.unwrap();
    assert_eq!(stream[0].metadata["actor_role"], "regency");
    assert_eq!(stream[0].metadata["request_id"], "impor-1");
    assert_eq!(stream[0].metadata["import_file"], "registri-sleman.csv");

    // The admin imports the rest; the Sleman rows are unchanged.
    let (status, body) = post_csv(&server, &admin, "", &file(&all), "text/csv").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unchanged"].as_u64(), Some(sleman.len() as u64));
    assert_eq!(
        body["created"].as_u64(),
        Some((all.len() - sleman.len()) as u64)
    );
}

// Issue 11 (3): import ids are not predictable by other tokens. A token of another kabupaten/kota
// forms its own KIM at the UUID v5 id the first imports gave a Sleman row (a public value); the
// Sleman import is not blocked by it (with the public ids it failed on `scope`), and importing
// the file again writes nothing.
async fn a_kim_at_a_public_import_id_does_not_block_the_import(server: TestServer) {
    let sleman = server.token("regency", SLEMAN).await;
    let batam = server.token("regency", "21.71").await;
    let store = server.executor().store().clone();
    let rows: Vec<Vec<String>> = (0..10)
        .map(row)
        .filter(|r| r[2].starts_with("34.04."))
        .collect();
    let key = format!("source:{SLEMAN}:{}", rows[0][0]);
    let public = import::legacy_community_id(&key).to_string();
    let mut body = crate::server::form_body("21.71.01.1002", 12);
    body["id"] = serde_json::json!(public);
    let formed = server.post("/communities", &batam, body).await;
    assert_eq!(formed.status, 201, "{:?}", formed.body);
    let squatted = store.stream(&public).await.unwrap();

    let text = file(&rows);
    let query = "?filename=registri-sleman.csv";
    let (status, report) = post_csv(&server, &sleman, query, &text, "text/csv").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "written");
    assert_eq!(report["created"].as_u64(), Some(rows.len() as u64));
    let first = &report["communities"][0];
    assert_eq!(first["key"], key.as_str());
    let id = first["id"].as_str().unwrap().to_owned();
    assert_ne!(id, public);
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 8);
    let reply = server.get(&format!("/communities/{id}"), &sleman).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["name"], "KIM Uji 0");
    assert_eq!(store.stream(&public).await.unwrap(), squatted);
    let written = store.count().await.unwrap();

    let (status, again) = post_csv(&server, &sleman, query, &text, "text/csv").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["unchanged"].as_u64(), Some(rows.len() as u64));
    assert_eq!(again["events"].as_u64(), Some(0));
    assert_eq!(again["communities"][0]["id"], id.as_str());
    assert_eq!(store.count().await.unwrap(), written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kim_at_a_public_import_id_does_not_block_the_import_on_postgres() {
    a_kim_at_a_public_import_id_does_not_block_the_import(
        TestServer::spawn(simpul_store::Backend::Postgres).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kim_at_a_public_import_id_does_not_block_the_import_on_sqlite() {
    a_kim_at_a_public_import_id_does_not_block_the_import(
        TestServer::spawn(simpul_store::Backend::Sqlite).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_imports_check_role_scope_and_answer_the_report_on_postgres() {
    http_imports(TestServer::spawn(simpul_store::Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_imports_check_role_scope_and_answer_the_report_on_sqlite() {
    http_imports(TestServer::spawn(simpul_store::Backend::Sqlite).await).await;
}

// Rows are streamed into the import's transaction while later rows are still decided: a bad row
// near the end of a big file (after several streamed batches) still leaves nothing behind, and
// the same rows without it are written whole.
both_backends!(
    a_bad_row_after_streamed_batches_rolls_everything_back,
    |db: TestDb| async move {
        let store = db.store();
        let keys = db.keys();
        let mut rows: Vec<Vec<String>> = (0..1600).map(row).collect();
        let mut bad = row(1600);
        bad[4] = "31".to_owned();
        rows.push(bad);
        let with_bad = file(&rows);
        let report = import_as_admin(&store, &keys, "besar.csv", with_bad.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Failed);
        assert_eq!(errors(&report), vec![(1602, "jumlah_anggota", "31", "R1")]);
        assert!(
            report.events > 10_000,
            "the valid rows give several streamed batches: {}",
            report.events
        );
        assert_eq!(store.count().await.unwrap(), 0, "all or nothing");
        assert_eq!(person_keys(&db.database).await, 0);

        rows.pop();
        let good = file(&rows);
        let report = import_as_admin(&store, &keys, "besar.csv", good.as_bytes(), false).await;
        assert_eq!(report.status, ImportStatus::Written, "{:?}", report.errors);
        assert_eq!(store.count().await.unwrap(), report.events as u64);
        assert_eq!(person_keys(&db.database).await, 1600 * 3);
    }
);

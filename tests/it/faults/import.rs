//! Scenario 3: `kill -9` of `simpul import FILE.csv` while its one transaction is being written.
//! Nothing of the file is in the store afterwards; the import then runs to completion, and a
//! re-run writes nothing new. A server follows the store throughout.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use simpul_store::Database;

use super::harness::*;
use crate::both_backends;
use crate::helpers::TestDb;

/// Rows of the file that is killed: big enough to take a few seconds to write.
const ROWS: usize = 3000;

/// A registry of `rows` KIM (every column filled, stages 1–4 in turn with their evidence), one
/// per desa, spread over all Indonesia from the `offset`-th desa; `prefix` makes the source ids
/// and nomor induk its own.
fn registry_csv(prefix: &str, rows: usize, offset: usize) -> String {
    let regions = simpul_regions::bundled().unwrap();
    let villages: Vec<_> = regions
        .at_level(simpul_domain::RegionLevel::Village)
        .collect();
    let step = (villages.len() / (rows + 1)).max(1);
    let mut csv = String::from(
        "source_id,nama_kim,kode_desa,tanggal_terbentuk,jumlah_anggota,ketua,sekretaris,\
         bendahara,nomor_sk,tanggal_sk,nomor_induk,tahap,kegiatan_agen_pembangunan,kanal_media,\
         e_bisnis,asal_kelompok\n",
    );
    for (i, village) in villages
        .iter()
        .skip(offset)
        .step_by(step)
        .take(rows)
        .enumerate()
    {
        let code = village.code.as_str();
        let regency: String = code.chars().take(5).filter(|c| *c != '.').collect();
        let stage = i % 4 + 1;
        writeln!(
            csv,
            "{prefix}-{i},\"KIM {name}\",{code},2019-03-{day:02},{members},Ketua {i},\
             Sekretaris {i},Bendahara {i},{i}/KPTS/2020,2020-02-{day:02},{regency}/{prefix}/{i:05},\
             KIM {stage},{activity},{channel},{business},Karang Taruna {i}",
            name = village.name.replace('"', ""),
            day = i % 28 + 1,
            members = 10 + i % 20,
            activity = if stage >= 2 {
                "Sosialisasi program desa"
            } else {
                ""
            },
            channel = if stage >= 3 { "Grup WhatsApp KIM" } else { "" },
            business = if stage >= 4 { "Toko daring KIM" } else { "" },
        )
        .unwrap();
    }
    csv
}

/// Rows in the tables an import writes: events, nomor induk claims, persons' keys.
async fn written(database: &Database) -> [i64; 3] {
    [
        count_rows(database, "events").await,
        count_rows(database, "registration_claims").await,
        count_rows(database, "person_keys").await,
    ]
}

/// Whether the import (process `pid`) is inside its write transaction, with rows written: on
/// PostgreSQL a session of this database with a transaction id holds the row-exclusive lock on
/// `events` that inserting into it takes; on SQLite the write lock is taken (`BEGIN IMMEDIATE` is
/// refused at once) and the import has written a few MiB (uncommitted pages spilled into the
/// WAL; its few bytes of migrations do not count).
async fn import_writing(db: &TestDb, pid: u32, probe: &mut Option<sqlx::SqliteConnection>) -> bool {
    match &db.database {
        Database::Postgres(pool) => {
            let writers: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  WHERE l.relation = 'events'::regclass AND l.mode = 'RowExclusiveLock'
                    AND l.granted AND a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            writers > 0
        }
        Database::Sqlite { .. } => {
            use sqlx::Connection as _;
            let written = std::fs::read_to_string(format!("/proc/{pid}/io"))
                .ok()
                .and_then(|io| {
                    io.lines()
                        .find_map(|line| line.strip_prefix("wchar: "))
                        .and_then(|n| n.trim().parse::<u64>().ok())
                });
            if written.is_some_and(|bytes| bytes < 4 * 1024 * 1024) {
                return false;
            }
            if probe.is_none() {
                let path = db.url.strip_prefix("sqlite://").unwrap();
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .busy_timeout(Duration::ZERO);
                *probe = Some(
                    sqlx::SqliteConnection::connect_with(&options)
                        .await
                        .unwrap(),
                );
            }
            let connection = probe.as_mut().unwrap();
            match sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *connection)
                .await
            {
                Ok(_) => {
                    sqlx::query("ROLLBACK")
                        .execute(&mut *connection)
                        .await
                        .unwrap();
                    false
                }
                Err(_) => true,
            }
        }
    }
}

async fn import_report(site: &Site, file: &Path, report: &Path) -> Value {
    site.run_ok(&[
        "import",
        file.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ])
    .await;
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

async fn kill_during_import(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(&db.url, dir.path());
    let server = Server::start(&site, "serve").await;
    let token = site.admin_token();

    // Something in the store before: a small registry of its own.
    let base_file = dir.path().join("dasar.csv");
    std::fs::write(&base_file, registry_csv("DASAR", 20, 1)).unwrap();
    let base = import_report(&site, &base_file, &dir.path().join("dasar.json")).await;
    assert_eq!(base["status"], "written", "{base}");
    let baseline = written(&db.database).await;

    // The big file, killed while its transaction is being written.
    let file = dir.path().join("registri.csv");
    std::fs::write(&file, registry_csv("REG", ROWS, 0)).unwrap();
    let mut import = site.spawn(&["import", file.to_str().unwrap()], "import-killed.log");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(90);
    let mut probe = None;
    loop {
        if let Some(status) = import.try_wait().unwrap() {
            panic!(
                "the import finished ({status}) after {:?}, before it could be killed: make \
                 the file larger",
                started.elapsed()
            );
        }
        if import_writing(&db, import.id(), &mut probe).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not start writing within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(probe);
    assert!(
        import.try_wait().unwrap().is_none(),
        "the import finished before it could be killed"
    );
    import.kill().unwrap();
    import.wait().unwrap();
    eprintln!(
        "faults/import ({:?}): killed while writing, {:?} after it started",
        db.backend(),
        started.elapsed()
    );

    // Nothing of it: no events, nomor induk claims or persons' keys beyond the baseline.
    assert_eq!(
        written(&db.database).await,
        baseline,
        "[events, registration_claims, person_keys] changed by a killed import"
    );

    // The import again, to completion; then once more, writing nothing.
    let complete = Instant::now();
    let report = import_report(&site, &file, &dir.path().join("registri.json")).await;
    let complete = complete.elapsed();
    assert_eq!(report["status"], "written", "{report}");
    assert_eq!(report["created"], ROWS as u64, "{report}");
    let events = report["events"].as_i64().unwrap();
    let after = written(&db.database).await;
    assert_eq!(after[0], baseline[0] + events);
    assert_eq!(
        after[1],
        baseline[1] + ROWS as i64,
        "one claim per nomor induk"
    );
    assert!(after[2] > baseline[2], "officers' keys were written");
    let rerun = Instant::now();
    let again = import_report(&site, &file, &dir.path().join("lagi.json")).await;
    let rerun = rerun.elapsed();
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["updated"], 0, "{again}");
    assert_eq!(again["events"], 0, "{again}");
    assert_eq!(
        written(&db.database).await,
        after,
        "a re-run wrote something"
    );

    // Streams whole; the server followed all of it, and its read models equal a rebuild.
    ClientLog::default().check(&db.database).await;
    let follow = Instant::now();
    server
        .wait_caught_up(&token, Duration::from_secs(120))
        .await;
    let follow = follow.elapsed();
    let verify = Instant::now();
    site.verify().await;
    eprintln!(
        "faults/import ({:?}): {ROWS} rows, {events} events written in {complete:?}, re-run \
         {rerun:?}; server caught up {follow:?} later; verify {:?}",
        db.backend(),
        verify.elapsed()
    );
}

both_backends!(kill_9_of_simpul_import, |db: TestDb| async move {
    kill_during_import(db).await;
});

//! Faults inside one process, against the store and the projection runner: a full disk under
//! SQLite, a lost projection lock, rebuild and verify of one read model at once, idempotency keys
//! left behind by a crash, conflicts on a busy KIM. (Faults that need whole processes — kill -9,
//! database restarts, two servers — are in `faults/`.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use simpul_app::AppError;
use simpul_domain::events::ActivityKind;
use simpul_domain::ActorRole;
use simpul_store::{Database, DatabaseUrl, EventStore, StoreError};

use crate::helpers::{activity, context, form, services, SLEMAN_DESA};

/// A tmpfs of `size` bytes mounted on a temp dir, unmounted on drop. `None` (with the reason)
/// where this machine does not let the tests mount one (not root, no tmpfs).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: u64) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros to `path` until the file system is full, then gives `keep` bytes back.
fn fill_up(path: &Path, keep: u64) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if file
            .write_all(&chunk)
            .and_then(|()| file.sync_all())
            .is_err()
        {
            break;
        }
    }
    let length = file.metadata().unwrap().len();
    file.set_len(length.saturating_sub(keep)).unwrap();
    file.sync_all().unwrap();
}

#[derive(Default)]
struct WriteLog {
    /// (community, version, position) of every acknowledged command.
    acknowledged: Vec<(String, u64, u64)>,
    /// Refusals while the disk was full, by kind.
    unavailable: usize,
    other_errors: Vec<String>,
    /// Acknowledgements counted per writer since the disk was freed.
    after_free: Vec<usize>,
}

/// SQLite on a small file system filled up during writes: every acknowledged write survives a
/// reopen, the refusals say "unavailable" (HTTP 503) rather than anything else, and writes and
/// read models recover without a restart once space returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_full_disk_loses_no_acknowledged_write_and_recovers_by_itself() {
    let mount = match Tmpfs::mount(24 * 1024 * 1024) {
        Ok(mount) => mount,
        Err(reason) => {
            eprintln!("skipped: cannot mount a small tmpfs here ({reason})");
            return;
        }
    };
    let db_path: PathBuf = mount.path().join("simpul.db");
    let url = DatabaseUrl::Sqlite(db_path.clone());
    let database = Database::connect_and_migrate(&url).await.unwrap();
    let store = EventStore::new(database.clone());
    let executor = Arc::new(simpul_app::CommandExecutor::new(store.clone(), services()));
    const WRITERS: usize = 8;
    let mut ids = Vec::new();
    for _ in 0..WRITERS {
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 12), &context(ActorRole::Regency))
            .await
            .unwrap();
        ids.push(id);
    }
    // The read models follow, as in `simpul serve`.
    let (stop_runner, runner_stopped) = tokio::sync::watch::channel(false);
    let regions = simpul_regions::bundled().unwrap();
    let runner = tokio::spawn(
        simpul_projections::Runner::new(store.clone())
            .run(simpul_projections::all(regions), runner_stopped),
    );
    let filler = mount.path().join("filler");
    fill_up(&filler, 256 * 1024);

    let log = Arc::new(Mutex::new(WriteLog {
        after_free: vec![0; WRITERS],
        ..WriteLog::default()
    }));
    let freed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for (writer, id) in ids.iter().cloned().enumerate() {
        let (executor, log, freed, stop) =
            (executor.clone(), log.clone(), freed.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let was_freed = freed.load(std::sync::atomic::Ordering::SeqCst);
                let (_, command) = activity(ActivityKind::Dissemination);
                let result = executor
                    .execute(&id, command, &context(ActorRole::Pegiat))
                    .await;
                {
                    let mut log = log.lock().unwrap();
                    match result {
                        Ok(outcome) => {
                            log.acknowledged
                                .push((id.clone(), outcome.version, outcome.position));
                            if was_freed {
                                log.after_free[writer] += 1;
                            }
                        }
                        Err(AppError::Store(StoreError::Unavailable(_))) => log.unavailable += 1,
                        Err(other) => log.other_errors.push(other.to_string()),
                    }
                }
                tokio::task::yield_now().await;
            }
        }));
    }

    // The disk fills up: writes are refused as unavailable.
    let deadline = Instant::now() + Duration::from_secs(15);
    while log.lock().unwrap().unavailable < 50 {
        if Instant::now() > deadline {
            let log = log.lock().unwrap();
            panic!(
                "the disk never filled up: {} writes acknowledged, other errors: {} {:?}",
                log.acknowledged.len(),
                log.other_errors.len(),
                log.other_errors.first()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Space returns: every writer gets through again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    freed.store(true, std::sync::atomic::Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(30);
    while log.lock().unwrap().after_free.iter().any(|n| *n < 5) {
        assert!(
            Instant::now() < deadline,
            "writes did not recover after space returned: {:?}, other errors: {:?}",
            log.lock().unwrap().after_free,
            log.lock().unwrap().other_errors.first()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    let log = std::mem::take(&mut *log.lock().unwrap());
    assert!(
        log.other_errors.is_empty(),
        "a full disk must answer 'unavailable' (503), got: {:?}",
        &log.other_errors[..log.other_errors.len().min(5)]
    );

    // The read models catch up by themselves too.
    let names: Vec<&str> = simpul_projections::all(regions)
        .iter()
        .map(|p| p.name())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = simpul_projections::status(&store, &names).await.unwrap();
        if status
            .iter()
            .all(|s| s.lag_events == 0 && s.state == "running")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "read models did not catch up: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_runner.send(true).unwrap();
    runner.await.unwrap();
    database.close().await;

    // Reopened, the log holds every acknowledged event, once, and nothing else.
    let reopened = Database::connect_and_migrate(&url).await.unwrap();
    let store = EventStore::new(reopened.clone());
    for id in &ids {
        let stream = store.stream(id).await.unwrap();
        let acknowledged: Vec<&(String, u64, u64)> = log
            .acknowledged
            .iter()
            .filter(|(a, _, _)| a == id)
            .collect();
        let last = acknowledged.iter().map(|(_, v, _)| *v).max().unwrap_or(1);
        assert_eq!(
            stream.len() as u64,
            last,
            "community {id}: {} events stored, last acknowledged version {last}",
            stream.len()
        );
        for (_, version, position) in acknowledged {
            let event = &stream[*version as usize - 1];
            assert_eq!(
                (event.sequence, event.position),
                (*version, *position),
                "acknowledged write lost or moved"
            );
        }
    }
    let runner = simpul_projections::Runner::new(store);
    for projection in simpul_projections::all(regions) {
        let differences = runner.verify(projection.as_ref(), 5).await.unwrap();
        assert!(differences.is_empty(), "{differences:?}");
    }
    reopened.close().await;
}

/// A log of `kim` KIM with officers, SK and a few activities each; the live read models caught up.
async fn some_history(db: &crate::helpers::TestDb, kim: usize) -> simpul_projections::Runner {
    let executor = db.executor();
    let keys = db.keys();
    for _ in 0..kim {
        let id = crate::helpers::legal_ready(&executor, &keys, SLEMAN_DESA).await;
        for _ in 0..5 {
            let (_, command) = activity(ActivityKind::Dissemination);
            executor
                .execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
        }
    }
    let runner = simpul_projections::Runner::new(db.store());
    crate::projections::settle(&runner).await;
    runner
}

fn read_model(name: &str) -> Arc<dyn simpul_projections::Projection> {
    let regions = simpul_regions::bundled().unwrap();
    simpul_projections::all(regions)
        .into_iter()
        .find(|p| p.name() == name)
        .unwrap()
}

async fn audit_rows(db: &Database) -> i64 {
    match db {
        Database::Postgres(pool) => sqlx::query_scalar("SELECT count(*) FROM audit_trail")
            .fetch_one(pool)
            .await
            .unwrap(),
        Database::Sqlite { readers, .. } => sqlx::query_scalar("SELECT count(*) FROM audit_trail")
            .fetch_one(readers)
            .await
            .unwrap(),
    }
}

// A verify of a read model started while a rebuild of it is half-way (as two operators' commands
// would): the verify waits for the rebuild, the rebuild swaps in the whole table, the verify
// finds it identical, and no scratch space is left behind.
crate::both_backends!(
    a_verify_started_during_a_rebuild_waits_and_the_live_table_stays_whole,
    |db: crate::helpers::TestDb| async move {
        let _ = some_history(&db, 12).await;
        let events = db.store().count().await.unwrap() as i64;
        assert_eq!(audit_rows(&db.database).await, events);
        let audit = read_model("audit_trail");

        // Small batches, so the rebuild is still filling when the verify starts.
        let rebuilder = simpul_projections::Runner::new(db.store()).with_batch_size(20);
        let verifier = simpul_projections::Runner::new(db.store()).with_batch_size(20);
        let (halfway, mut at_halfway) = tokio::sync::watch::channel(false);
        let progress = move |applied: u64, total: u64| {
            if applied * 2 >= total {
                let _ = halfway.send(true);
            }
        };
        let rebuild = {
            let audit = audit.clone();
            async move { rebuilder.rebuild(audit.as_ref(), &progress).await }
        };
        let verify = {
            let audit = audit.clone();
            async move {
                at_halfway.wait_for(|reached| *reached).await.unwrap();
                verifier.verify(audit.as_ref(), 10).await
            }
        };
        let (rebuilt, differences) = tokio::join!(rebuild, verify);
        assert_eq!(rebuilt.unwrap() as i64, events);
        let differences = differences.unwrap();
        assert!(differences.is_empty(), "{differences:?}");
        assert_eq!(
            audit_rows(&db.database).await,
            events,
            "the live table is whole"
        );
        let status = simpul_projections::status(&db.store(), &["audit_trail"])
            .await
            .unwrap();
        assert_eq!(status[0].events as i64, events);
        assert!(status[0].scratch.is_empty(), "{:?}", status[0].scratch);
    }
);

/// Creates what a rebuild of `name` killed half-way leaves: a scratch schema with a table, or a
/// scratch file with its WAL.
async fn leave_scratch(db: &Database, name: &str) -> String {
    match db {
        Database::Postgres(pool) => {
            let schema = format!("simpul_shadow_{name}_rebuild_0badc0de");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(pool)
                .await
                .unwrap();
            sqlx::query(&format!(
                "CREATE TABLE {schema}.{name} (LIKE public.{name} INCLUDING ALL)"
            ))
            .execute(pool)
            .await
            .unwrap();
            schema
        }
        Database::Sqlite { writer, .. } => {
            let main: String =
                sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(writer)
                    .await
                    .unwrap();
            let file = format!("{main}.shadow-{name}-rebuild-0badc0de");
            std::fs::write(&file, b"half a rebuild").unwrap();
            std::fs::write(format!("{file}-wal"), b"and its WAL").unwrap();
            file
        }
    }
}

// A rebuild killed before its swap leaves its scratch space: `projections status` shows it as
// left over (not in use), a runner starting to follow that read model removes it, and so does
// the next rebuild.
crate::both_backends!(
    scratch_left_by_a_killed_rebuild_is_shown_and_removed,
    |db: crate::helpers::TestDb| async move {
        let _ = some_history(&db, 2).await;
        let left = leave_scratch(&db.database, "audit_trail").await;
        let status = simpul_projections::status(&db.store(), &["audit_trail", "stage_dashboard"])
            .await
            .unwrap();
        assert_eq!(
            status[0].scratch,
            vec![simpul_projections::Scratch {
                name: left.clone(),
                in_use: false
            }]
        );
        assert!(status[1].scratch.is_empty(), "only audit_trail's");
        let shown = crate::helpers::simpul_binary_async(
            &["projections", "status"],
            &[("DATABASE_URL", db.url.as_str())],
        )
        .await;
        let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
        assert!(
            shown.contains(&format!(
                "audit_trail: scratch {left} (left by an interrupted"
            )),
            "{shown}"
        );

        // A runner starting up removes it.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let runner = simpul_projections::Runner::new(db.store());
        let following = tokio::spawn(runner.clone().run(vec![read_model("audit_trail")], stopped));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let status = simpul_projections::status(&db.store(), &["audit_trail"])
                .await
                .unwrap();
            if status[0].scratch.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still there: {:?}",
                status[0].scratch
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        following.await.unwrap();
        if db.backend() == simpul_store::Backend::Sqlite {
            assert!(!Path::new(&left).exists() && !Path::new(&format!("{left}-wal")).exists());
        }

        // So does the next rebuild, and its own scratch goes with its swap.
        let left = leave_scratch(&db.database, "audit_trail").await;
        simpul_projections::Runner::new(db.store())
            .rebuild(read_model("audit_trail").as_ref(), &|_, _| {})
            .await
            .unwrap();
        let status = simpul_projections::status(&db.store(), &["audit_trail"])
            .await
            .unwrap();
        assert!(
            status[0].scratch.is_empty(),
            "{left}: {:?}",
            status[0].scratch
        );
    }
);

/// The (database-local) backends holding the runner lock of each read model.
async fn runner_lock_holders(pool: &sqlx::PgPool) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn checkpoints(pool: &sqlx::PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT name, events FROM projection_checkpoints ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap()
}

// PostgreSQL restarts, or the runner's connection is cut: its session lock is gone. The runner
// must notice when it next writes, stop writing while another session holds the lock, and take
// the lock again once it is free — then catch up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_that_lost_its_lock_stops_writing_until_it_has_it_again() {
    let db = crate::helpers::TestDb::new(simpul_store::Backend::Postgres).await;
    let Database::Postgres(pool) = db.database.clone() else {
        unreachable!()
    };
    let _ = some_history(&db, 1).await;
    let regions = simpul_regions::bundled().unwrap();
    let names: Vec<&'static str> = simpul_projections::all(regions)
        .iter()
        .map(|p| p.name())
        .collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runner = simpul_projections::Runner::new(db.store());
    let following = tokio::spawn(
        runner
            .clone()
            .run(simpul_projections::all(regions), stopped),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !names.iter().all(|name| runner.holds(name)) {
        assert!(Instant::now() < deadline, "the runner never took its locks");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = checkpoints(&pool).await;

    // Cut the runner's lock connections; another session (a second server) takes the locks.
    let holders = runner_lock_holders(&pool).await;
    assert_eq!(holders.len(), names.len());
    for pid in &holders {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&pool)
            .await
            .unwrap();
    }
    let mut other = pool.acquire().await.unwrap().detach();
    for name in &names {
        sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
            .bind(format!("simpul-projection:{name}"))
            .execute(&mut other)
            .await
            .unwrap();
    }

    // New events: the runner tries to write them, finds its lock gone, and stops.
    let executor = db.executor();
    let id = crate::helpers::legal_ready(&executor, &db.keys(), SLEMAN_DESA).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while names.iter().any(|name| runner.holds(name)) {
        assert!(
            Instant::now() < deadline,
            "the runner did not notice that it lost its locks"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        checkpoints(&pool).await,
        before,
        "nothing written without the lock"
    );

    // The other session goes away: the runner takes the locks again and catches up.
    sqlx::Connection::close(other).await.unwrap();
    let total = db.store().count().await.unwrap() as i64;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = checkpoints(&pool).await;
        if names.iter().all(|name| runner.holds(name))
            && now.iter().all(|(_, events)| *events == total)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not caught up again: {now:?} of {total}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!id.is_empty());
    stop.send(true).unwrap();
    following.await.unwrap();
}

/// Moves the claim on `key` back in time by `seconds`, as if its request had started that long
/// ago (and died with its server).
async fn age_claim(db: &Database, key: &str, seconds: i64) {
    let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
    match db {
        Database::Postgres(pool) => {
            sqlx::query("UPDATE idempotency_keys SET created_at = $2 WHERE key = $1")
                .bind(key)
                .bind(at)
                .execute(pool)
                .await
                .unwrap();
        }
        Database::Sqlite { writer, .. } => {
            sqlx::query("UPDATE idempotency_keys SET created_at = ?2 WHERE key = ?1")
                .bind(key)
                .bind(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .execute(writer)
                .await
                .unwrap();
        }
    }
}

// A server dies between claiming an Idempotency-Key and appending: the retry is told to wait
// (with how long), then takes the key over once the claim is older than the timeout. If the
// first request was only slow, it finds its claim gone and appends nothing; the outcome of the
// one that appended is recorded with its events and replayed.
crate::both_backends!(
    an_idempotency_claim_left_by_a_crash_is_taken_over_and_the_outcome_is_atomic,
    |db: crate::helpers::TestDb| async move {
        use simpul_store::{Claim, IdempotencyStore, CLAIM_TIMEOUT_SECONDS};
        let executor = db.executor();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 12), &context(ActorRole::Regency))
            .await
            .unwrap();
        let keys = IdempotencyStore::new(db.database.clone());
        let Claim::New(crashed) = keys.claim("actor", "k-1", "hash", 200).await.unwrap() else {
            panic!("a new key")
        };
        match keys.claim("actor", "k-1", "hash", 200).await.unwrap() {
            Claim::InProgress { retry_after } => {
                assert!(retry_after > 0 && retry_after <= CLAIM_TIMEOUT_SECONDS as u64)
            }
            other => panic!("still in progress, got {other:?}"),
        }
        age_claim(&db.database, "k-1", CLAIM_TIMEOUT_SECONDS + 1).await;
        let Claim::New(retry) = keys.claim("actor", "k-1", "hash", 200).await.unwrap() else {
            panic!("an old unfinished claim is taken over")
        };
        assert_ne!(crashed.claim, retry.claim);

        // The first request turns out to be alive after all: its append is refused, whole.
        let (_, command) = activity(ActivityKind::Dissemination);
        let late = executor
            .execute_completing(&id, command, &context(ActorRole::Pegiat), &crashed)
            .await;
        assert!(
            matches!(
                late,
                Err(AppError::Store(StoreError::IdempotencyClaimLost(_)))
            ),
            "{late:?}"
        );
        assert_eq!(
            db.store().stream(&id).await.unwrap().len(),
            1,
            "nothing appended"
        );

        let (_, command) = activity(ActivityKind::Dissemination);
        let outcome = executor
            .execute_completing(&id, command, &context(ActorRole::Pegiat), &retry)
            .await
            .unwrap();
        match keys.claim("actor", "k-1", "hash", 200).await.unwrap() {
            Claim::Replay(recorded) => {
                assert_eq!(recorded.status, 200);
                assert_eq!(recorded.version, Some(outcome.version));
                assert_eq!(recorded.position, Some(outcome.position));
            }
            other => panic!("replayed, got {other:?}"),
        }
        assert_eq!(db.store().stream(&id).await.unwrap().len(), 2);
        // Another body with the same key is still refused.
        assert_eq!(
            keys.claim("actor", "k-1", "other", 200).await.unwrap(),
            Claim::Mismatch
        );
    }
);

// A cache left behind by another writer (another process) catches up with the events it lacks
// and decides on the log's version; the state it then holds is the log's.
crate::both_backends!(
    a_stale_cache_catches_up_with_the_events_it_lacks,
    |db: crate::helpers::TestDb| async move {
        let (a, b) = (db.executor(), db.executor());
        let id = uuid::Uuid::new_v4().to_string();
        a.execute(&id, form(SLEMAN_DESA, 12), &context(ActorRole::Regency))
            .await
            .unwrap();
        for _ in 0..3 {
            let (_, command) = activity(ActivityKind::Dissemination);
            a.execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
        }
        for _ in 0..5 {
            let (_, command) = activity(ActivityKind::Aspiration);
            b.execute(&id, command, &context(ActorRole::Pegiat))
                .await
                .unwrap();
        }
        assert_eq!(
            a.current_state(&id).await.unwrap().1,
            4,
            "a's cache is behind"
        );
        let (_, command) = activity(ActivityKind::Dissemination);
        let outcome = a
            .execute(&id, command, &context(ActorRole::Pegiat))
            .await
            .unwrap();
        assert_eq!(outcome.version, 10);
        assert_eq!(
            a.current_state(&id).await.unwrap(),
            b.load(&id).await.unwrap()
        );
    }
);

// Many commands at once on one busy KIM through one executor (one server): they queue for the
// KIM instead of racing each other, so none gives up with "retried 8 times".
crate::both_backends!(
    concurrent_commands_on_one_kim_in_one_process_all_land,
    |db: crate::helpers::TestDb| async move {
        let executor = Arc::new(db.executor());
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 12), &context(ActorRole::Regency))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (executor, id) = (executor.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..8 {
                    let (_, command) = activity(ActivityKind::Dissemination);
                    executor
                        .execute(&id, command, &context(ActorRole::Pegiat))
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let stream = db.store().stream(&id).await.unwrap();
        assert_eq!(stream.len(), 1 + 32 * 8);
        assert!(stream
            .iter()
            .zip(1..)
            .all(|(event, sequence)| event.sequence == sequence));
    }
);

// A log written before dates were bounded can hold an event no PostgreSQL date column takes (a
// bimtek "held" in the year 10000). The read model that cannot store it stops there and says so
// — `failed`, with the event's position and id — instead of retrying it every 250 ms while
// reporting `running`; the others go on. (SQLite keeps dates as text and stores it.)
crate::both_backends!(
    a_read_model_that_cannot_store_an_event_reports_failed_at_it,
    |db: crate::helpers::TestDb| async move {
        use simpul_domain::events::{BimtekAttended, BimtekKind, CommunityEvent};
        let executor = db.executor();
        let id = uuid::Uuid::new_v4().to_string();
        executor
            .execute(&id, form(SLEMAN_DESA, 12), &context(ActorRole::Regency))
            .await
            .unwrap();
        let (_, version) = executor.load(&id).await.unwrap();
        let far = CommunityEvent::BimtekAttended(BimtekAttended {
            session_id: uuid::Uuid::new_v4(),
            kind: BimtekKind::Bimtek,
            title: simpul_domain::text::Title::parse("Bimtek KIM").unwrap(),
            held_on: chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap(),
            organizer_region: crate::helpers::code("34.04"),
            region_edition: simpul_regions::EDITION.to_owned(),
            participants: 38,
        });
        let append = simpul_app::append_request(
            executor.services(),
            &id,
            version,
            &[far],
            &context(ActorRole::Regency),
            chrono::Utc::now(),
        )
        .unwrap();
        let far_position = db.store().append(&append).await.unwrap()[0].position;
        // Another KIM after it: the read models that can go on must reach it.
        executor
            .execute(
                &uuid::Uuid::new_v4().to_string(),
                form(SLEMAN_DESA, 12),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();

        let runner = simpul_projections::Runner::new(db.store()).with_batch_size(50);
        let regions = simpul_regions::bundled().unwrap();
        let projections = simpul_projections::all(regions);
        let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
        // Until each read model is caught up or failed (another test's transaction in flight
        // may hold the PostgreSQL feed back for a moment).
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            for projection in &projections {
                let _ = runner.catch_up(projection.as_ref()).await;
            }
            let status = simpul_projections::status(&db.store(), &names)
                .await
                .unwrap();
            if status
                .iter()
                .all(|s| s.state == "failed" || s.lag_events == 0)
            {
                break status;
            }
            assert!(Instant::now() < deadline, "never settled: {status:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        for projection in &status {
            match projection.state.as_str() {
                "running" => assert_eq!(projection.lag_events, 0, "{projection:?}"),
                "failed" => {
                    assert_eq!(projection.error_position, Some(far_position));
                    assert_eq!(
                        projection.error_event.as_deref(),
                        Some(format!("{id}#2").as_str())
                    );
                    assert!(projection.last_error.is_some());
                }
                other => panic!("state {other}"),
            }
        }
        if db.backend() == simpul_store::Backend::Postgres {
            let summary = status
                .iter()
                .find(|s| s.name == "community_summary")
                .unwrap();
            assert_eq!(summary.state, "failed", "{summary:?}");
        }
    }
);

// What the fuzzer sent and the API accepted: dates in the years 10000 and -1, and participant
// counts in the billions. Each is a 422 naming its field, and nothing is written.
async fn implausible_values_are_refused(backend: simpul_store::Backend) {
    use serde_json::json;
    let server = crate::server::TestServer::spawn(backend).await;
    let admin = server.token("admin", "national").await;
    let mut body = crate::server::form_body(SLEMAN_DESA, 12);
    body["formed_on"] = json!("-0001-01-01");
    let reply = server.post("/communities", &admin, body).await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "formed_on");

    let id = server.form(&admin, SLEMAN_DESA).await;
    let bimtek = |held_on: &str, participants: u64| {
        json!({"kind": "bimtek", "title": "Bimtek KIM Sleman", "held_on": held_on,
               "organizer_region": "34.04", "participants": participants})
    };
    for (body, field) in [
        (bimtek("+10000-01-01", 38), "held_on"),
        (bimtek("2025-08-27", 4_000_000_000), "participants"),
    ] {
        let reply = server
            .post(&format!("/communities/{id}/bimtek"), &admin, body)
            .await;
        assert_eq!(reply.status, 422, "{:?}", reply.body);
        assert_eq!(reply.body["field"], field);
    }
    let history = server.get(&format!("/communities/{id}"), &admin).await;
    assert_eq!(history.headers["etag"], "\"1\"", "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn implausible_dates_and_counts_are_refused_naming_the_field_on_postgres() {
    implausible_values_are_refused(simpul_store::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn implausible_dates_and_counts_are_refused_naming_the_field_on_sqlite() {
    implausible_values_are_refused(simpul_store::Backend::Sqlite).await;
}

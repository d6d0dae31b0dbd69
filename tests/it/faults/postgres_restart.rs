//! Scenario 4: PostgreSQL restarted under load, on a private cluster. 8 clients write and read
//! through `simpul serve` while (a) `pg_ctl restart -m fast` and (b) `kill -9` of the postmaster
//! and a start again. Clients never see a 500; during the outage they get 503 with
//! `Retry-After`; `/readyz` answers 503 within 1 s while the database is down (`/healthz` stays
//! 200); the server recovers by itself.

use std::time::{Duration, Instant};

use reqwest::Method;
use simpul_store::{Database, DatabaseUrl};

use super::harness::*;

const CLIENTS: usize = 8;
/// From "the database is up again" to the first acknowledged write.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);

/// Waits for `more` acknowledgements beyond what the log holds now.
async fn more_acks(log: &ClientLog, more: usize, what: &str) {
    let target = log.len() + more;
    poll(
        what,
        Duration::from_secs(60),
        Duration::from_millis(10),
        || async move { (log.len() >= target).then_some(()) },
    )
    .await;
}

/// The time from `up` to the first write acknowledged after it.
async fn recovery(log: &ClientLog, up: Instant, what: &str) -> Duration {
    let first = poll(
        what,
        RECOVERY_BOUND,
        Duration::from_millis(5),
        || async move { log.first_after(up) },
    )
    .await;
    first - up
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load() {
    let Some(cluster) = PgCluster::create().await else {
        return;
    };
    let url = cluster.create_database("simpul_faults").await;
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(&url, dir.path());
    let server = Server::start(&site, "serve").await;
    let token = site.admin_token();
    let log = ClientLog::default();
    let mut load = Load::new(&log);
    load.spawn(&server.base, &token, CLIENTS, true);
    more_acks(&log, 50, "writes before the restart").await;

    // (a) pg_ctl restart -m fast.
    let restarting = Instant::now();
    cluster.restart_fast().await;
    let up = Instant::now();
    let recovery_a = recovery(&log, up, "a write after pg_ctl restart").await;
    eprintln!(
        "faults/postgres_restart: pg_ctl restart -m fast took {:?}; database up → first \
         acknowledged write: {recovery_a:?}",
        up - restarting
    );
    more_acks(&log, 50, "writes after the restart").await;

    // (b) kill -9 of the postmaster; the database stays down while /readyz is asked.
    cluster.kill_postmaster().await;
    let down = Instant::now();
    let client = http_client();
    let mut readyz = Vec::new();
    for _ in 0..5 {
        let answer = send(
            &client,
            Method::GET,
            &format!("{}/readyz", server.base),
            None,
            None,
            &[],
        )
        .await
        .expect("the server answers /readyz while the database is down");
        readyz.push((answer.status.as_u16(), answer.retry_after(), answer.elapsed));
    }
    let healthz = send(
        &client,
        Method::GET,
        &format!("{}/healthz", server.base),
        None,
        None,
        &[],
    )
    .await
    .expect("the server answers /healthz while the database is down");
    // Clients keep trying during the outage; let them get some answers.
    poll(
        "clients' answers during the outage",
        Duration::from_secs(20),
        Duration::from_millis(20),
        || {
            let load = &load;
            async move {
                let during = load
                    .observations()
                    .iter()
                    .filter(|o| o.at > down && o.status.is_some())
                    .count();
                (during >= CLIENTS).then_some(())
            }
        },
    )
    .await;
    let outage = down.elapsed();
    cluster.start().await;
    let up = Instant::now();
    let recovery_b = recovery(&log, up, "a write after the postmaster was killed").await;
    eprintln!(
        "faults/postgres_restart: kill -9 postmaster, down {outage:?}; /readyz while down: \
         {readyz:?}; database up → first acknowledged write: {recovery_b:?}"
    );
    more_acks(&log, 20, "writes after the recovery").await;
    load.stop().await;

    let observations = load.observations();
    let count = |f: &dyn Fn(&Observation) -> bool| observations.iter().filter(|o| f(o)).count();
    eprintln!(
        "faults/postgres_restart: {} answers: {} ok, {} × 503, {} × 500, {} without an answer",
        observations.len(),
        count(&|o| o.status.is_some_and(|s| s < 300)),
        count(&|o| o.status == Some(503)),
        count(&|o| o.status == Some(500)),
        count(&|o| o.status.is_none()),
    );
    let slowest = observations
        .iter()
        .filter(|o| o.status == Some(503))
        .map(|o| o.elapsed)
        .max();
    eprintln!("faults/postgres_restart: slowest 503: {slowest:?}");

    // The acknowledged writes, exactly once; the read models caught up and equal a rebuild.
    let database = Database::connect(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    log.check(&database).await;
    server.wait_caught_up(&token, Duration::from_secs(60)).await;
    site.verify().await;
    database.close().await;

    // What the clients saw: never a 500, never silence; every refusal a 503 with Retry-After.
    let unanswered: Vec<_> = observations.iter().filter(|o| o.status.is_none()).collect();
    assert!(
        unanswered.is_empty(),
        "the server itself did not answer {} requests, e.g. {:?}",
        unanswered.len(),
        unanswered.first()
    );
    let errors: Vec<_> = observations
        .iter()
        .filter(|o| o.status == Some(500))
        .collect();
    let described: Vec<String> = errors
        .iter()
        .take(5)
        .map(|o| format!("{} → 500 {}", o.request, o.detail))
        .collect();
    assert!(
        errors.is_empty(),
        "{} answers were 500 (of them {} reads), e.g. {described:#?}",
        errors.len(),
        errors.iter().filter(|o| o.request != "write").count()
    );
    let refused: Vec<_> = observations
        .iter()
        .filter(|o| o.status.is_some_and(|s| s >= 400))
        .collect();
    assert!(
        refused.iter().any(|o| o.at > down && o.status == Some(503)),
        "no client saw a 503 while the database was down"
    );
    let wrong: Vec<_> = refused
        .iter()
        .filter(|o| o.status != Some(503) || !o.retry_after)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} refusals were not 503 with Retry-After, e.g. {:?}",
        wrong.len(),
        wrong.first()
    );
    assert_eq!(
        healthz.status, 200,
        "/healthz while the database is down: the process is up"
    );
    for (status, retry_after, elapsed) in &readyz {
        assert_eq!(
            *status, 503,
            "/readyz while the database is down: {readyz:?}"
        );
        assert!(*retry_after, "/readyz 503 without Retry-After: {readyz:?}");
        assert!(
            *elapsed < Duration::from_secs(1),
            "/readyz took {elapsed:?} while the database was down: {readyz:?}"
        );
    }
}

//! Scenario 1: `kill -9` of `simpul serve` during a burst of 16 concurrent clients, each
//! writing to a KIM of its own with an Idempotency-Key per request. After the restart every
//! client retries its unanswered request with the same key until it gets a final answer.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use super::harness::*;
use crate::both_backends;
use crate::helpers::TestDb;

const CLIENTS: usize = 16;
/// The server is killed once this many writes were acknowledged.
const ACKS_BEFORE_KILL: usize = 300;
/// How long after the server answers again a retried key may still be "in progress" (the fix
/// expires an unfinished claim after about 30 s).
const IN_PROGRESS_BOUND: Duration = Duration::from_secs(60);
/// Fresh writes per client once its interrupted request is answered.
const WRITES_AFTER_RESTART: usize = 3;

/// What a client went through.
#[derive(Debug)]
struct ClientReport {
    community: String,
    /// Distinct commands acknowledged (each once, however many times answered).
    acknowledged: HashSet<String>,
    /// The request unanswered when the server died, retried after the restart.
    interrupted: Option<String>,
    /// From the first "still in progress" 409 to the final answer.
    in_progress_for: Option<Duration>,
    replayed: bool,
    failure: Option<String>,
}

/// One write: its Idempotency-Key, where, what, and the activity it records.
struct Request {
    key: String,
    url: String,
    body: Value,
    activity: Option<String>,
}

impl Request {
    fn form(base: &str, community: &str) -> Self {
        Self {
            key: format!("form-{community}"),
            url: format!("{base}/api/v1/communities"),
            body: form_body(community),
            activity: None,
        }
    }

    fn activity(base: &str, community: &str, n: usize) -> Self {
        let activity = Uuid::new_v4().to_string();
        Self {
            key: format!("activity-{community}-{n}"),
            url: format!("{base}/api/v1/communities/{community}/activities"),
            body: activity_body(&activity),
            activity: Some(activity),
        }
    }
}

async fn attempt(
    client: &reqwest::Client,
    token: &str,
    request: &Request,
) -> Result<Answer, reqwest::Error> {
    send(
        client,
        Method::POST,
        &request.url,
        Some(token),
        Some(&request.body),
        &[("Idempotency-Key", request.key.clone())],
    )
    .await
}

async fn client(base: String, token: String, log: ClientLog) -> ClientReport {
    let client = http_client();
    let community = Uuid::new_v4().to_string();
    let mut report = ClientReport {
        community: community.clone(),
        acknowledged: HashSet::new(),
        interrupted: None,
        in_progress_for: None,
        replayed: false,
        failure: None,
    };
    let ack = |report: &mut ClientReport, request: &Request, answer: &Answer| {
        log.record(
            &request.key,
            &community,
            request.activity.as_deref(),
            answer,
        );
        report.acknowledged.insert(request.key.clone());
    };
    // Until the server dies: one write after the other, each with a key of its own.
    let mut n = 0;
    let mut request = Request::form(&base, &community);
    loop {
        match attempt(&client, &token, &request).await {
            Ok(answer) if answer.ok() => {
                ack(&mut report, &request, &answer);
                n += 1;
                request = Request::activity(&base, &community, n);
            }
            Ok(answer) => {
                report.failure = Some(format!(
                    "{} answered {} before the kill: {}",
                    request.key, answer.status, answer.body
                ));
                return report;
            }
            Err(_) => break,
        }
    }
    // The server is gone: retry the unanswered request with the same key and body until it is
    // answered for good.
    report.interrupted = Some(request.key.clone());
    let gave_up = Instant::now() + Duration::from_secs(180);
    let mut back: Option<Instant> = None;
    let mut first_in_progress: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if back.is_some_and(|back| now > back + IN_PROGRESS_BOUND) || now > gave_up {
            report.in_progress_for = first_in_progress.map(|t| now - t);
            report.failure = Some(format!(
                "{} got no final answer {} after the server came back (still in progress since \
                 {:?} before)",
                request.key,
                back.map_or("ever".to_owned(), |b| format!("{:?}", now - b)),
                first_in_progress.map(|t| now - t)
            ));
            return report;
        }
        match attempt(&client, &token, &request).await {
            Ok(answer) => {
                back.get_or_insert_with(Instant::now);
                if answer.ok() {
                    report.replayed = answer.replayed();
                    report.in_progress_for = first_in_progress.map(|t| t.elapsed());
                    ack(&mut report, &request, &answer);
                    break;
                }
                if answer.in_progress() {
                    first_in_progress.get_or_insert_with(Instant::now);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                } else if answer.status == 503 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                } else {
                    report.failure = Some(format!(
                        "retried {} answered {}: {}",
                        request.key, answer.status, answer.body
                    ));
                    return report;
                }
            }
            // Still restarting.
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    // The restarted server takes new writes at once.
    for _ in 0..WRITES_AFTER_RESTART {
        n += 1;
        let request = Request::activity(&base, &community, n);
        match attempt(&client, &token, &request).await {
            Ok(answer) if answer.ok() => ack(&mut report, &request, &answer),
            other => {
                report.failure = Some(format!("a new write after the restart failed: {other:?}"));
                return report;
            }
        }
    }
    report
}

async fn kill_during_a_burst(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(&db.url, dir.path());
    let mut server = Server::start(&site, "serve").await;
    let token = site.admin_token();
    let log = ClientLog::default();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(client(server.base.clone(), token.clone(), log.clone())))
        .collect();

    // A few hundred acknowledgements, then kill -9 with requests in flight.
    poll(
        "the clients' first acknowledgements",
        Duration::from_secs(120),
        Duration::from_millis(5),
        || {
            let (log, clients) = (&log, &clients);
            async move {
                // A client that stopped before the kill has failed: stop waiting for it.
                (log.len() >= ACKS_BEFORE_KILL || clients.iter().any(|c| c.is_finished()))
                    .then_some(())
            }
        },
    )
    .await;
    let acknowledged_before_kill = log.len();
    server.kill();
    let killed = Instant::now();
    server.restart().await;
    eprintln!(
        "faults/burst ({:?}): killed after {acknowledged_before_kill} acknowledgements; \
         kill -9 → /readyz 200 again: {:?}",
        db.backend(),
        killed.elapsed()
    );

    let mut reports = Vec::new();
    for task in clients {
        reports.push(
            tokio::time::timeout(Duration::from_secs(240), task)
                .await
                .expect("a client never finished")
                .unwrap(),
        );
    }
    let interrupted = reports.iter().filter(|r| r.interrupted.is_some()).count();
    let replayed = reports.iter().filter(|r| r.replayed).count();
    let in_progress: Vec<Duration> = reports.iter().filter_map(|r| r.in_progress_for).collect();
    eprintln!(
        "faults/burst ({:?}): {interrupted} requests retried after the restart, {replayed} \
         answered as replays, {} answered 409 \"in progress\" (longest for {:?})",
        db.backend(),
        in_progress.len(),
        in_progress.iter().max()
    );
    // Every acknowledged command exactly once, at its version and position; streams whole.
    let stored = log.check(&db.database).await;
    let failures: Vec<&String> = reports.iter().filter_map(|r| r.failure.as_ref()).collect();
    assert!(failures.is_empty(), "clients failed: {failures:#?}");
    assert_eq!(interrupted, CLIENTS, "every client was cut off by the kill");
    for report in &reports {
        // Every event of the client's KIM is one of its commands: a retried request wrote
        // nothing twice, and nothing unacknowledged was left behind.
        let events = stored.streams.get(&report.community).map_or(0, Vec::len);
        assert_eq!(
            events,
            report.acknowledged.len(),
            "KIM {} holds {events} events for {} acknowledged commands",
            report.community,
            report.acknowledged.len()
        );
    }

    // The restarted server catches up, and its read models equal a fresh rebuild.
    server.wait_caught_up(&token, Duration::from_secs(60)).await;
    site.verify().await;
}

both_backends!(kill_9_of_serve_during_a_burst, |db: TestDb| async move {
    kill_during_a_burst(db).await;
});

//! Scenario 5: two servers on one PostgreSQL database (a private cluster). The projection
//! runners take one session advisory lock per read model; when the server holding them is
//! killed the other takes over, and after a PostgreSQL restart every lock is held again by
//! exactly one session.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use simpul_store::{Database, DatabaseUrl};

use super::harness::*;

/// Kill of the lock holder → the other server holds every lock and its read models have
/// applied every write acknowledged until then.
const TAKEOVER_BOUND: Duration = Duration::from_secs(10);

/// The servers (by name) holding each read model's lock, by their database connections' client
/// ports; `None` while the database cannot be asked.
async fn holders(
    pool: &sqlx::PgPool,
    servers: &[(&str, &Server)],
) -> Option<HashMap<String, Vec<String>>> {
    let locks = lock_holders(pool).await.ok()?;
    let ports: Vec<(&str, HashSet<u16>)> = servers
        .iter()
        .map(|(name, server)| (*name, server.tcp_ports()))
        .collect();
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    for (model, pid, port) in locks {
        let owner = ports
            .iter()
            .find(|(_, ports)| u16::try_from(port).is_ok_and(|p| ports.contains(&p)))
            .map_or(
                format!("backend {pid} (client port {port})"),
                |(name, _)| (*name).to_owned(),
            );
        held.entry(model).or_default().push(owner);
    }
    Some(held)
}

/// Every read model's lock is held by exactly one session, of server `by` (any server: `None`).
fn all_held_by(held: &HashMap<String, Vec<String>>, by: Option<&str>) -> bool {
    READ_MODELS.iter().all(|model| match held.get(*model) {
        Some(owners) => owners.len() == 1 && by.is_none_or(|by| owners[0] == by),
        None => false,
    })
}

/// Whether every read model has applied `position` (read-your-writes through `min_position`).
async fn reached(server: &Server, token: &str, position: u64) -> bool {
    let url = server.api(&format!("/communities?limit=1&min_position={position}"));
    send(&http_client(), Method::GET, &url, Some(token), None, &[])
        .await
        .is_ok_and(|answer| answer.ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_the_projection_locks() {
    let Some(cluster) = PgCluster::create().await else {
        return;
    };
    let url = cluster.create_database("simpul_faults").await;
    let inspector = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&url)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let site = Site::new(&url, dir.path());

    // A first, then B; A holds every lock.
    let mut a = Server::start(&site, "a").await;
    let token = site.admin_token();
    poll(
        "A to hold every projection lock",
        Duration::from_secs(20),
        Duration::from_millis(20),
        || {
            let (inspector, a) = (&inspector, &a);
            async move {
                let held = holders(inspector, &[("A", a)]).await?;
                all_held_by(&held, Some("A")).then_some(())
            }
        },
    )
    .await;
    let b = Server::start(&site, "b").await;
    let log = ClientLog::default();
    let mut load = Load::new(&log);
    load.spawn(&b.base, &token, 4, false);
    poll(
        "writes through B",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || {
            let log = &log;
            async move { (log.len() >= 40).then_some(()) }
        },
    )
    .await;
    let held = holders(&inspector, &[("A", &a), ("B", &b)]).await.unwrap();
    assert!(
        all_held_by(&held, Some("A")),
        "A (started first) should hold every lock while B waits: {held:?}"
    );

    // kill -9 of A while B keeps taking writes: B takes every lock and catches up.
    a.kill();
    let killed = Instant::now();
    let locks_taken = poll(
        "B to take every projection lock",
        TAKEOVER_BOUND,
        Duration::from_millis(20),
        || {
            let (inspector, b) = (&inspector, &b);
            async move {
                let held = holders(inspector, &[("B", b)]).await?;
                all_held_by(&held, Some("B")).then(Instant::now)
            }
        },
    )
    .await;
    let acknowledged = log.max_position();
    poll(
        "B's read models to apply every acknowledged write",
        TAKEOVER_BOUND.saturating_sub(killed.elapsed()),
        Duration::from_millis(20),
        || {
            let (b, token) = (&b, &token);
            async move { reached(b, token, acknowledged).await.then_some(()) }
        },
    )
    .await;
    let caught_up = killed.elapsed();
    eprintln!(
        "faults/two_servers: kill -9 of A → B holds all four locks: {:?}; → B's read models \
         applied every write acknowledged by then: {caught_up:?}",
        locks_taken - killed
    );
    assert!(caught_up < TAKEOVER_BOUND);

    // A new A beside B, then PostgreSQL restarts under both.
    a.restart().await;
    load.spawn(&a.base, &token, 2, false);
    let before_restart = log.len();
    poll(
        "writes through both servers",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || {
            let log = &log;
            async move { (log.len() >= before_restart + 20).then_some(()) }
        },
    )
    .await;
    cluster.restart_fast().await;
    let up = Instant::now();
    let first_write = poll(
        "a write after the PostgreSQL restart",
        Duration::from_secs(30),
        Duration::from_millis(10),
        || {
            let log = &log;
            async move { log.first_after(up) }
        },
    )
    .await;
    // Once things settle, each lock is held by exactly one session, of one of the servers.
    let settled = poll(
        "every projection lock held again after the PostgreSQL restart",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            let (inspector, a, b) = (&inspector, &a, &b);
            async move {
                let held = holders(inspector, &[("A", a), ("B", b)]).await?;
                all_held_by(&held, None).then_some(held)
            }
        },
    )
    .await;
    eprintln!(
        "faults/two_servers: PostgreSQL restart → first acknowledged write: {:?}; → every lock \
         held again: {:?} ({settled:?})",
        first_write - up,
        up.elapsed()
    );
    load.stop().await;

    // The acknowledged writes exactly once; the read models caught up and equal a rebuild.
    let database = Database::connect(&DatabaseUrl::parse(&url).unwrap())
        .await
        .unwrap();
    log.check(&database).await;
    database.close().await;
    b.wait_caught_up(&token, Duration::from_secs(60)).await;
    let held = holders(&inspector, &[("A", &a), ("B", &b)]).await.unwrap();
    assert!(
        all_held_by(&held, None),
        "after catching up, every lock must still be held by exactly one server: {held:?}"
    );
    assert!(
        held.values()
            .flatten()
            .all(|owner| owner == "A" || owner == "B"),
        "a lock is held by a session of neither server: {held:?}"
    );
    site.verify().await;
    inspector.close().await;
}

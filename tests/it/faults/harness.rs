//! The fault suite's common parts: a `simpul serve` process that can be killed and restarted
//! ([`Server`]), the command line on the same database ([`Site`]), a log of every acknowledged
//! write and its check against the events table ([`ClientLog`]), clients that keep writing and
//! reading ([`Load`]), and a private PostgreSQL cluster that can be restarted or killed
//! ([`PgCluster`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simpul_store::Database;
use uuid::Uuid;

/// Base64 of the 32 bytes `simpul-faults-master-key-32bytes`: every process of a scenario opens
/// the same persons' keys.
pub const MASTER_KEY: &str = "c2ltcHVsLWZhdWx0cy1tYXN0ZXIta2V5LTMyYnl0ZXM=";

/// The read models a server follows, each under its own advisory lock on PostgreSQL.
pub use simpul_projections::READ_MODELS;

/// A desa in Sleman (DI Yogyakarta) where the scenarios' KIM are formed.
pub const VILLAGE: &str = "34.04.01.2001";

/// Calls `probe` every `every` until it answers `Some`, failing the test after `within`.
pub async fn poll<T, F, Fut>(what: &str, within: Duration, every: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}

/// A port nobody listens on now (the kernel's choice for an ephemeral bind).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// The command line and the server process
// ---------------------------------------------------------------------------------------------

/// Where the processes of a scenario run: one database and one data directory (admin token,
/// logs), with a fixed master key.
#[derive(Clone, Debug)]
pub struct Site {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// `SIMPUL_LOG` of the processes it starts (`warn` unless a test needs more).
    pub log: String,
}

impl Site {
    pub fn new(database_url: &str, data_dir: &Path) -> Self {
        Self {
            database_url: database_url.to_owned(),
            data_dir: data_dir.to_owned(),
            log: "warn".to_owned(),
        }
    }

    /// `simpul ARGS` with this site's database, data directory and master key, and nothing
    /// else of Simpul's from the test's own environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_simpul"));
        command
            .args(args)
            .env_remove("SIMPUL_CONFIG")
            .env_remove("SIMPUL_LISTEN")
            .env("DATABASE_URL", &self.database_url)
            .env("SIMPUL_DATA_DIR", &self.data_dir)
            .env("SIMPUL_MASTER_KEY", MASTER_KEY)
            .env("SIMPUL_LOG", &self.log)
            .env("SIMPUL_LOG_FORMAT", "text");
        command
    }

    /// Runs `simpul ARGS` to the end, off the async runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("the simpul binary runs"))
            .await
            .unwrap()
    }

    /// Runs `simpul ARGS` and fails the test unless it exits 0.
    pub async fn run_ok(&self, args: &[&str]) -> Output {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "simpul {} exited with {}\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Starts `simpul ARGS` as a child (to be killed), its output into `<data dir>/<log>`.
    pub fn spawn(&self, args: &[&str], log: &str) -> Child {
        let file = std::fs::File::create(self.data_dir.join(log)).unwrap();
        self.command(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the simpul binary starts")
    }

    /// `simpul projections status --json`, one object per read model.
    pub async fn status(&self) -> Vec<Value> {
        let output = self.run(&["projections", "status", "--json"]).await;
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Polls `simpul projections status --json` until every read model runs with lag 0.
    pub async fn wait_caught_up(&self, within: Duration) {
        poll(
            "the read models to catch up (projections status)",
            within,
            Duration::from_millis(200),
            || async move {
                let status = self.status().await;
                assert!(
                    status.iter().all(|p| p["state"] == "running"),
                    "a read model failed: {status:?}"
                );
                (status.len() == READ_MODELS.len() && status.iter().all(|p| p["lag_events"] == 0))
                    .then_some(())
            },
        )
        .await;
    }

    /// `simpul projections verify --all` must exit 0: the read models equal a fresh rebuild.
    pub async fn verify(&self) {
        let output = self.run(&["projections", "verify", "--all"]).await;
        assert!(
            output.status.success(),
            "projections verify --all exited with {}\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The admin token the first server wrote on its first start.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin-token"))
            .expect("the first start writes <data dir>/admin-token")
            .trim()
            .to_owned()
    }
}

/// One `simpul serve` process on a port of its own, which it keeps across restarts.
pub struct Server {
    site: Site,
    name: String,
    /// Options after `serve --listen ADDR`.
    options: Vec<String>,
    pub port: u16,
    pub base: String,
    child: Option<Child>,
    starts: u32,
    log: PathBuf,
}

impl Server {
    /// Starts `simpul serve` on a free port and waits until `/readyz` answers 200.
    pub async fn start(site: &Site, name: &str) -> Self {
        Self::start_with(site, name, &[]).await
    }

    /// [`start`](Self::start) with more options of `simpul serve`.
    pub async fn start_with(site: &Site, name: &str, options: &[&str]) -> Self {
        let port = free_port();
        let mut server = Self {
            site: site.clone(),
            name: name.to_owned(),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            port,
            base: format!("http://127.0.0.1:{port}"),
            child: None,
            starts: 0,
            log: PathBuf::new(),
        };
        server.spawn_and_wait().await;
        server
    }

    /// Starts the killed server again on the same port and database.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.name);
        self.spawn_and_wait().await;
    }

    async fn spawn_and_wait(&mut self) {
        self.starts += 1;
        self.log = self
            .site
            .data_dir
            .join(format!("{}-{}.log", self.name, self.starts));
        let file = std::fs::File::create(&self.log).unwrap();
        let listen = format!("127.0.0.1:{}", self.port);
        let mut args = vec!["serve", "--listen", &listen];
        args.extend(self.options.iter().map(String::as_str));
        let child = self
            .site
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("simpul serve starts");
        self.child = Some(child);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let url = format!("{}/readyz", self.base);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!(
                        "{} exited with {status} while starting:\n{}",
                        self.name,
                        self.log_text()
                    );
                }
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status() == StatusCode::OK {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready after 90 s:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let announced = format!("simpul: serving http://{listen}/api/v1");
        assert!(
            self.log_text().contains(&announced),
            "{} answers on {listen} but did not announce it: {}",
            self.name,
            self.log_text()
        );
    }

    /// The server process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL (`kill -9`), then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `<base>/api/v1<path>`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// What the server wrote on stderr since its last start.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The local ports of the server process's TCP sockets (its database connections' client
    /// ports among them), from `/proc`.
    pub fn tcp_ports(&self) -> HashSet<u16> {
        match &self.child {
            Some(child) => tcp_ports(child.id()),
            None => HashSet::new(),
        }
    }

    /// Polls `GET /api/v1/projections` until every read model runs with lag 0.
    pub async fn wait_caught_up(&self, token: &str, within: Duration) {
        let client = http_client();
        let url = self.api("/projections");
        poll(
            "the read models to catch up (GET /api/v1/projections)",
            within,
            Duration::from_millis(100),
            || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let answer = send(&client, Method::GET, &url, Some(token), None, &[])
                        .await
                        .ok()?;
                    if answer.status != StatusCode::OK {
                        return None;
                    }
                    let status = answer.body.as_array()?.clone();
                    assert!(
                        status.iter().all(|p| p["state"] == "running"),
                        "a read model failed: {status:?}"
                    );
                    (status.len() == READ_MODELS.len()
                        && status.iter().all(|p| p["lag_events"] == 0))
                    .then_some(())
                }
            },
        )
        .await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The local ports of process `pid`'s TCP sockets: its socket inodes (`/proc/PID/fd`) looked up
/// in `/proc/net/tcp{,6}`.
pub fn tcp_ports(pid: u32) -> HashSet<u16> {
    let mut inodes = HashSet::new();
    if let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for entry in entries.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|rest| rest.strip_suffix(']'))
                {
                    inodes.insert(inode.to_owned());
                }
            }
        }
    }
    let mut ports = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && inodes.contains(fields[9]) {
                if let Some(port) = fields[1]
                    .rsplit_once(':')
                    .and_then(|(_, port)| u16::from_str_radix(port, 16).ok())
                {
                    ports.insert(port);
                }
            }
        }
    }
    ports
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub elapsed: Duration,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status == StatusCode::OK || self.status == StatusCode::CREATED
    }

    pub fn retry_after(&self) -> bool {
        self.headers.contains_key("retry-after")
    }

    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }

    /// 409 because the first request with this Idempotency-Key has not finished.
    pub fn in_progress(&self) -> bool {
        self.status == StatusCode::CONFLICT
            && self.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("in progress"))
    }
}

/// A client whose requests give up after 20 s.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Sends one request; `Err` is a connection-level failure (refused, reset, timed out).
pub async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, String)],
) -> Result<Answer, reqwest::Error> {
    let started = Instant::now();
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer {
        status,
        headers,
        body,
        elapsed: started.elapsed(),
    })
}

/// The body of `POST /communities` for a KIM with a chosen id.
pub fn form_body(id: &str) -> Value {
    json!({
        "id": id,
        "name": "KIM Tahan Banting",
        "village": VILLAGE,
        "formed_on": "2025-08-01",
        "origin_group": "Karang Taruna",
        "member_count": 12,
        "initiated_by": "Karang Taruna Desa",
    })
}

/// The body of `POST /communities/{id}/activities` for an activity with a chosen id.
pub fn activity_body(activity: &str) -> Value {
    json!({
        "activity_id": activity,
        "kind": "dissemination",
        "title": "Diseminasi informasi publik",
        "held_on": "2025-09-01",
        "participants": 12,
    })
}

// ---------------------------------------------------------------------------------------------
// The client log and the store
// ---------------------------------------------------------------------------------------------

/// One acknowledged write: what the 200/201 said.
#[derive(Clone, Debug)]
pub struct Ack {
    /// The client's name for the command (its Idempotency-Key, or a unique label).
    pub request: String,
    pub community: String,
    /// The activity id the command recorded, if it recorded one.
    pub activity: Option<String>,
    pub version: u64,
    pub position: u64,
    pub at: Instant,
}

/// Every write acknowledged to any client of a scenario.
#[derive(Clone, Default)]
pub struct ClientLog {
    acks: Arc<Mutex<Vec<Ack>>>,
}

impl ClientLog {
    /// Records a 200/201 answer to `request` on `community`.
    pub fn record(&self, request: &str, community: &str, activity: Option<&str>, answer: &Answer) {
        assert!(answer.ok(), "not an acknowledgement: {answer:?}");
        let version = answer.body["version"]
            .as_u64()
            .unwrap_or_else(|| panic!("no version in {answer:?}"));
        let position = answer.body["position"]
            .as_u64()
            .unwrap_or_else(|| panic!("no position in {answer:?}"));
        self.acks.lock().unwrap().push(Ack {
            request: request.to_owned(),
            community: community.to_owned(),
            activity: activity.map(str::to_owned),
            version,
            position,
            at: Instant::now(),
        });
    }

    pub fn len(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    pub fn acks(&self) -> Vec<Ack> {
        self.acks.lock().unwrap().clone()
    }

    /// When the first write acknowledged after `t` was acknowledged.
    pub fn first_after(&self, t: Instant) -> Option<Instant> {
        self.acks
            .lock()
            .unwrap()
            .iter()
            .map(|ack| ack.at)
            .filter(|at| *at > t)
            .min()
    }

    /// The highest acknowledged position.
    pub fn max_position(&self) -> u64 {
        self.acks
            .lock()
            .unwrap()
            .iter()
            .map(|ack| ack.position)
            .max()
            .unwrap_or(0)
    }

    /// Checks every acknowledgement against the events table: each acknowledged command's event
    /// is at the acknowledged version and position (and records the acknowledged activity), no
    /// two commands were acknowledged with the same event, no activity was recorded twice, and
    /// every stream is contiguous from sequence 1. Returns what the table holds.
    pub async fn check(&self, database: &Database) -> Stored {
        let stored = Stored::read(database).await;
        stored.check_streams();
        let acks = self.acks();
        let mut slots: HashMap<(String, u64), &Ack> = HashMap::new();
        for ack in &acks {
            let event = stored
                .event(&ack.community, ack.version)
                .unwrap_or_else(|| {
                    panic!(
                        "acknowledged write lost: {} answered version {} at position {} of {}, \
                     which the store does not hold",
                        ack.request, ack.version, ack.position, ack.community
                    )
                });
            assert_eq!(
                event.position, ack.position,
                "{} was acknowledged at position {}, the store has its event at {}",
                ack.request, ack.position, event.position
            );
            if let Some(activity) = &ack.activity {
                assert_eq!(
                    event.activity.as_deref(),
                    Some(activity.as_str()),
                    "{} was acknowledged as version {} of {}, which records another event",
                    ack.request,
                    ack.version,
                    ack.community
                );
            }
            if let Some(other) = slots.insert((ack.community.clone(), ack.version), ack) {
                assert_eq!(
                    other.request, ack.request,
                    "two commands acknowledged as the same event {}#{}: one of them was lost",
                    ack.community, ack.version
                );
            }
        }
        let communities: HashSet<&str> = acks.iter().map(|a| a.community.as_str()).collect();
        let mut activities: HashMap<&str, usize> = HashMap::new();
        for community in communities {
            for event in stored.streams.get(community).into_iter().flatten() {
                if let Some(activity) = &event.activity {
                    *activities.entry(activity.as_str()).or_default() += 1;
                }
            }
        }
        let twice: Vec<_> = activities.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "activities recorded more than once: {twice:?}"
        );
        stored
    }
}

/// One row of the events table.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub sequence: u64,
    pub position: u64,
    /// `activity_id` of an `ActivityRecorded`.
    pub activity: Option<String>,
}

/// The whole events table, by stream.
pub struct Stored {
    pub streams: BTreeMap<String, Vec<StoredEvent>>,
}

impl Stored {
    pub async fn read(database: &Database) -> Self {
        let rows: Vec<(String, i64, i64, String, String)> = match database {
            Database::Postgres(pool) => sqlx::query_as(
                "SELECT aggregate_id, sequence, position, event_type, payload::text FROM events",
            )
            .fetch_all(pool)
            .await
            .unwrap(),
            Database::Sqlite { readers, .. } => sqlx::query_as(
                "SELECT aggregate_id, sequence, position, event_type, payload FROM events",
            )
            .fetch_all(readers)
            .await
            .unwrap(),
        };
        let mut streams: BTreeMap<String, Vec<StoredEvent>> = BTreeMap::new();
        for (id, sequence, position, event_type, payload) in rows {
            let activity = if event_type == "ActivityRecorded" {
                let payload: Value = serde_json::from_str(&payload).unwrap();
                payload["ActivityRecorded"]["activity_id"]
                    .as_str()
                    .map(str::to_owned)
            } else {
                None
            };
            streams.entry(id).or_default().push(StoredEvent {
                sequence: sequence as u64,
                position: position as u64,
                activity,
            });
        }
        for stream in streams.values_mut() {
            stream.sort_by_key(|e| e.sequence);
        }
        Self { streams }
    }

    /// Every stream is 1, 2, …, n and no two events share a position.
    pub fn check_streams(&self) {
        let mut positions = HashSet::new();
        for (id, stream) in &self.streams {
            let sequences: Vec<u64> = stream.iter().map(|e| e.sequence).collect();
            let expected: Vec<u64> = (1..=stream.len() as u64).collect();
            assert_eq!(
                sequences, expected,
                "stream {id} is not contiguous from sequence 1"
            );
            for event in stream {
                assert!(
                    positions.insert(event.position),
                    "position {} appears twice",
                    event.position
                );
            }
        }
    }

    pub fn event(&self, community: &str, version: u64) -> Option<&StoredEvent> {
        self.streams
            .get(community)?
            .iter()
            .find(|e| e.sequence == version)
    }
}

/// `SELECT COUNT(*) FROM <table>`.
pub async fn count_rows(database: &Database, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match database {
        Database::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
        Database::Sqlite { readers, .. } => {
            sqlx::query_scalar(&sql).fetch_one(readers).await.unwrap()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clients under load
// ---------------------------------------------------------------------------------------------

/// One answer (or failure to answer) a load client saw.
#[derive(Clone, Debug)]
pub struct Observation {
    pub at: Instant,
    pub request: &'static str,
    /// `None`: no HTTP answer at all (connection refused, reset or timed out).
    pub status: Option<u16>,
    pub retry_after: bool,
    pub elapsed: Duration,
    pub detail: String,
}

/// Clients that each form a KIM of their own, then loop — record an activity, and with `reads`
/// list communities and the audit trail — until stopped, noting every answer.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub log: ClientLog,
    observations: Arc<Mutex<Vec<Observation>>>,
}

impl Load {
    pub fn new(log: &ClientLog) -> Self {
        Self {
            stop: Arc::default(),
            tasks: Vec::new(),
            log: log.clone(),
            observations: Arc::default(),
        }
    }

    /// Adds `clients` clients on the server at `base`.
    pub fn spawn(&mut self, base: &str, token: &str, clients: usize, reads: bool) {
        for _ in 0..clients {
            let base = base.to_owned();
            let token = token.to_owned();
            let stop = self.stop.clone();
            let log = self.log.clone();
            let observations = self.observations.clone();
            self.tasks.push(tokio::spawn(async move {
                load_client(base, token, reads, stop, log, observations).await;
            }));
        }
    }

    pub fn observations(&self) -> Vec<Observation> {
        self.observations.lock().unwrap().clone()
    }

    /// Stops every client after its current request and waits for them.
    pub async fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks.drain(..) {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("a load client did not stop within 60 s")
                .unwrap();
        }
    }
}

async fn load_client(
    base: String,
    token: String,
    reads: bool,
    stop: Arc<AtomicBool>,
    log: ClientLog,
    observations: Arc<Mutex<Vec<Observation>>>,
) {
    let client = http_client();
    let community = Uuid::new_v4().to_string();
    let observe = |request: &'static str, result: &Result<Answer, reqwest::Error>| {
        let observation = match result {
            Ok(answer) => Observation {
                at: Instant::now(),
                request,
                status: Some(answer.status.as_u16()),
                retry_after: answer.retry_after(),
                elapsed: answer.elapsed,
                detail: if answer.ok() {
                    String::new()
                } else {
                    answer.body.to_string()
                },
            },
            Err(error) => Observation {
                at: Instant::now(),
                request,
                status: None,
                retry_after: false,
                elapsed: Duration::ZERO,
                detail: error.to_string(),
            },
        };
        let failed = observation.status.is_none_or(|s| s >= 400);
        observations.lock().unwrap().push(observation);
        failed
    };
    // Form the KIM (the same key again until it is answered: formation is the first write).
    let form_key = format!("form-{community}");
    let formed = loop {
        if stop.load(Ordering::SeqCst) {
            break false;
        }
        let result = send(
            &client,
            Method::POST,
            &format!("{base}/api/v1/communities"),
            Some(&token),
            Some(&form_body(&community)),
            &[("Idempotency-Key", form_key.clone())],
        )
        .await;
        let failed = observe("form", &result);
        if let Ok(answer) = &result {
            if answer.ok() {
                log.record(&form_key, &community, None, answer);
                break true;
            }
        }
        if failed {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    if !formed {
        return;
    }
    let activities = format!("{base}/api/v1/communities/{community}/activities");
    let list = format!("{base}/api/v1/communities?limit=5");
    let audit = format!("{base}/api/v1/audit?limit=5");
    while !stop.load(Ordering::SeqCst) {
        // Every command is new: an activity id of its own, never retried.
        let activity = Uuid::new_v4().to_string();
        let result = send(
            &client,
            Method::POST,
            &activities,
            Some(&token),
            Some(&activity_body(&activity)),
            &[],
        )
        .await;
        let mut failed = observe("write", &result);
        if let Ok(answer) = &result {
            if answer.ok() {
                log.record(
                    &format!("activity-{activity}"),
                    &community,
                    Some(&activity),
                    answer,
                );
            }
        }
        if reads {
            let result = send(&client, Method::GET, &list, Some(&token), None, &[]).await;
            failed |= observe("list", &result);
            let result = send(&client, Method::GET, &audit, Some(&token), None, &[]).await;
            failed |= observe("audit", &result);
        }
        if failed {
            // Pace a client that is being refused (the server says when to come back; these
            // clients come back sooner to measure recovery).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL cluster
// ---------------------------------------------------------------------------------------------

/// How to run the cluster's `pg_ctl` (Clone, for blocking threads).
#[derive(Clone, Debug)]
struct PgCtl {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    /// Run as the `postgres` user (we are root, and PostgreSQL refuses to run as root).
    as_postgres: bool,
}

impl PgCtl {
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command
                .args(["-u", "postgres", "--"])
                .arg(program)
                .args(args);
            command
        } else {
            let mut command = Command::new(program);
            command.args(args);
            command
        }
    }

    /// Runs a PostgreSQL program to the end. Its output goes to a file, not a pipe: a
    /// postmaster it starts may inherit the output and outlive it (`pg_ctl restart` does not
    /// remember `-l`), and a pipe would then never reach its end.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.log.with_file_name(format!("{program}.out"));
        let file = std::fs::File::create(&path).unwrap();
        let status = self
            .command(program, args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap_or_else(|e| panic!("{program} does not run: {e}"));
        Output {
            status,
            stdout: Vec::new(),
            stderr: std::fs::read(&path).unwrap_or_default(),
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        let data = self.data.display().to_string();
        let mut all = vec!["-D", data.as_str()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    fn start(&self) -> Output {
        let log = self.log.display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=300",
            self.port,
            self.socket_dir.display()
        );
        self.pg_ctl(&["-l", &log, "-w", "-t", "60", "-o", &options, "start"])
    }

    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A PostgreSQL cluster of the test's own (`initdb` in a temp dir, trust authentication,
/// 127.0.0.1 on a free port), stopped and removed on drop.
pub struct PgCluster {
    ctl: PgCtl,
    _dir: tempfile::TempDir,
}

impl PgCluster {
    /// Creates and starts a cluster; `None` (with the reason printed) when this machine has no
    /// PostgreSQL server binaries to make one with.
    pub async fn create() -> Option<Self> {
        tokio::task::spawn_blocking(Self::create_blocking)
            .await
            .unwrap()
    }

    fn create_blocking() -> Option<Self> {
        let Some(bin) = postgres_bin() else {
            eprintln!(
                "SKIPPED: no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin: \
                 cannot make a private cluster"
            );
            return None;
        };
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if root {
            let has_user = Command::new("id")
                .arg("postgres")
                .output()
                .is_ok_and(|o| o.status.success());
            let has_runuser = Command::new("runuser")
                .arg("--help")
                .output()
                .is_ok_and(|o| o.status.success());
            if !has_user || !has_runuser {
                eprintln!(
                    "SKIPPED: running as root without a `postgres` user or `runuser`: initdb \
                     refuses to run as root, cannot make a private cluster"
                );
                return None;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let ctl = PgCtl {
            bin,
            data: dir.path().join("data"),
            log: dir.path().join("postgres.log"),
            socket_dir: dir.path().join("socket"),
            port: free_port(),
            as_postgres: root,
        };
        std::fs::create_dir(&ctl.socket_dir).unwrap();
        if root {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown of the cluster directory failed");
        }
        let data = ctl.data.display().to_string();
        let initdb = ctl.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let cluster = Self { ctl, _dir: dir };
        let started = cluster.ctl.start();
        assert!(
            started.status.success(),
            "the private cluster did not start: {}\n{}",
            String::from_utf8_lossy(&started.stderr),
            cluster.ctl.log_text()
        );
        Some(cluster)
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.ctl.port
        )
    }

    /// A client program of the cluster's own version (`pg_dump`, `pg_restore`, `psql`), run as
    /// the current user.
    pub fn client(&self, program: &str) -> Command {
        Command::new(self.ctl.bin.join(program))
    }

    /// Creates a database and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        let admin = sqlx::PgPool::connect(&self.url("postgres")).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        self.url(name)
    }

    /// `pg_ctl restart -m fast`; returns when the server accepts connections again.
    pub async fn restart_fast(&self) {
        let ctl = self.ctl.clone();
        let output = tokio::task::spawn_blocking(move || {
            let log = ctl.log.display().to_string();
            ctl.pg_ctl(&["-l", &log, "-m", "fast", "-w", "-t", "60", "restart"])
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "pg_ctl restart failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.ctl.log_text()
        );
    }

    /// `kill -9` of the postmaster; returns once the process is gone and the port refuses.
    pub async fn kill_postmaster(&self) {
        let pid = self.ctl.postmaster_pid().expect("postmaster.pid");
        let killed = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -9 {pid} failed");
        let port = self.ctl.port;
        poll(
            "the killed postmaster to be gone",
            Duration::from_secs(10),
            Duration::from_millis(10),
            || async move {
                let gone = !Path::new(&format!("/proc/{pid}")).exists()
                    && std::net::TcpStream::connect(("127.0.0.1", port)).is_err();
                gone.then_some(())
            },
        )
        .await;
    }

    /// `pg_ctl start` after a kill: retried while the dead postmaster's backends still hold
    /// its shared memory.
    pub async fn start(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ctl = self.ctl.clone();
            let output = tokio::task::spawn_blocking(move || ctl.start())
                .await
                .unwrap();
            if output.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the private cluster did not start again: {}\n{}",
                String::from_utf8_lossy(&output.stderr),
                self.ctl.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.ctl.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        if let Some(pid) = self.ctl.postmaster_pid() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb`, or `pg_config --bindir`'s.
fn postgres_bin() -> Option<PathBuf> {
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    if let Some((_, bin)) = candidates.pop() {
        return Some(bin);
    }
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    bin.join("initdb").exists().then_some(bin)
}

/// Who holds each read model's runner lock: (read model, backend pid, client port), from
/// `pg_locks` (a one-key advisory lock on `hashtext('simpul-projection:<name>')`: the key's high
/// half is `classid`, its low half `objid`, `objsubid` 1) and `pg_stat_activity`.
pub async fn lock_holders(pool: &sqlx::PgPool) -> Result<Vec<(String, i32, i32)>, sqlx::Error> {
    sqlx::query_as(
        "WITH models(name, key) AS (
             SELECT name, hashtext('simpul-projection:' || name)::bigint
               FROM unnest($1::text[]) AS name)
         SELECT m.name, l.pid, COALESCE(a.client_port, -1)
           FROM models m
           JOIN pg_locks l
             ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid::bigint = ((m.key >> 32) & 4294967295)
            AND l.objid::bigint = (m.key & 4294967295)
           LEFT JOIN pg_stat_activity a ON a.pid = l.pid
          ORDER BY m.name",
    )
    .bind(READ_MODELS.to_vec())
    .fetch_all(pool)
    .await
}

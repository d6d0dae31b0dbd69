//! Test databases, fixtures and command builders shared by the modules.

use std::sync::Arc;

use chrono::NaiveDate;
use simpul_app::{CommandContext, CommandExecutor};
use simpul_domain::commands::*;
use simpul_domain::events::{ActivityKind, Eligibility};
use simpul_domain::sealed::SealedText;
use simpul_domain::text::{CommunityName, Reason, SkNumber, Title};
use simpul_domain::{ActorRole, CommunityCommand, CommunityServices, OfficerRole, RegionCode};
use simpul_store::{Backend, Database, DatabaseUrl, EventStore, KeyStore, MasterKey};
use uuid::Uuid;

/// Default server for tests; override with `SIMPUL_TEST_DATABASE_URL`.
const DEFAULT_TEST_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Declares one async test per backend: `both_backends!(name, |db| async move { ... });`
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let db = $crate::helpers::TestDb::new(simpul_store::Backend::Postgres).await;
                ($body)(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = $crate::helpers::TestDb::new(simpul_store::Backend::Sqlite).await;
                ($body)(db).await;
            }
        }
    };
}

/// A database of its own, migrated, dropped when the test ends.
pub struct TestDb {
    pub url: String,
    pub database: Database,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

pub fn test_server_url() -> String {
    std::env::var("SIMPUL_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_SERVER.to_owned())
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => {
                let server = test_server_url();
                let name = format!("simpul_test_{}", Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&server).await.unwrap_or_else(|e| {
                    panic!("tests need PostgreSQL at {server} (SIMPUL_TEST_DATABASE_URL): {e}")
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                let url = replace_database(&server, &name);
                let database = Database::connect_and_migrate(&DatabaseUrl::parse(&url).unwrap())
                    .await
                    .unwrap();
                Self {
                    url,
                    database,
                    pg_name: Some(name),
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("simpul.db").display());
                let database = Database::connect_and_migrate(&DatabaseUrl::parse(&url).unwrap())
                    .await
                    .unwrap();
                Self {
                    url,
                    database,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// Which backend it is on.
    pub fn backend(&self) -> Backend {
        match self.database {
            Database::Postgres(_) => Backend::Postgres,
            Database::Sqlite { .. } => Backend::Sqlite,
        }
    }

    pub fn store(&self) -> EventStore {
        EventStore::new(self.database.clone())
    }

    pub fn executor(&self) -> CommandExecutor {
        CommandExecutor::new(self.store(), services())
    }

    pub fn keys(&self) -> KeyStore {
        KeyStore::new(self.database.clone(), MasterKey::generate())
    }

    /// All text of the events table (payload and metadata), for leak checks and digests.
    pub async fn events_table_text(&self) -> String {
        let sql = "SELECT aggregate_id || '|' || sequence || '|' || event_type || '|' || \
                   payload || '|' || metadata FROM events ORDER BY aggregate_id, sequence";
        let rows: Vec<String> = match &self.database {
            Database::Postgres(pool) => sqlx::query_scalar(
                &sql.replace("payload ||", "payload::text ||")
                    .replace("metadata FROM", "metadata::text FROM"),
            )
            .fetch_all(pool)
            .await
            .unwrap(),
            Database::Sqlite { readers, .. } => {
                sqlx::query_scalar(sql).fetch_all(readers).await.unwrap()
            }
        };
        rows.join("\n")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime; drop the database from a thread of its own.
        // WITH (FORCE) ends the test's pooled connections server-side, whatever runtime they
        // belong to (closing the pool from here could wait on a runtime that is blocked on us).
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = sqlx::PgPool::connect(&test_server_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

pub fn replace_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].rfind('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Domain services over the bundled Kemendagri 2025 codes.
pub fn services() -> CommunityServices {
    let regions = simpul_regions::bundled().expect("bundled regions load");
    CommunityServices::new(Arc::new(regions))
}

pub fn code(text: &str) -> RegionCode {
    RegionCode::parse(text).unwrap()
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

pub fn context(role: ActorRole) -> CommandContext {
    CommandContext {
        actor_id: format!("test-{}", role.as_str()),
        actor_role: role,
        request_id: format!("req-{}", Uuid::new_v4()),
        expected_version: None,
    }
}

/// A desa in Sleman (34.04.01.2001) and a kelurahan in Batam, from the bundled edition.
pub const SLEMAN_DESA: &str = "34.04.01.2001";
pub const SLEMAN: &str = "34.04";

pub fn form(village: &str, members: u32) -> CommunityCommand {
    CommunityCommand::FormCommunity(FormCommunity {
        name: CommunityName::parse("KIM Maju Bersama").unwrap(),
        village: code(village),
        formed_on: date("2025-01-10"),
        origin_group: Some("Karang Taruna".to_owned()),
        member_count: members,
        initiated_by: Some("Karang Taruna Maju".to_owned()),
        recorded_by_role: ActorRole::Regency,
    })
}

pub fn eligible() -> Eligibility {
    Eligibility {
        not_asn: true,
        no_criminal_record: true,
        no_party_affiliation: true,
        no_ngo_affiliation: true,
    }
}

/// Seals a name with a key from `keys` (as the application does before appointing).
pub async fn appoint(keys: &KeyStore, role: OfficerRole, name: &str) -> (Uuid, CommunityCommand) {
    let person_id = Uuid::new_v4();
    let sealed: SealedText = keys.seal(person_id, name).await.unwrap().unwrap();
    let command = CommunityCommand::AppointOfficer(AppointOfficer {
        person_id,
        role,
        bidang: None,
        name: sealed,
        contact: None,
        appointed_on: date("2025-02-01"),
        eligibility: eligible(),
    });
    (person_id, command)
}

pub fn issue_sk(village: &str) -> CommunityCommand {
    CommunityCommand::IssueSk(IssueSk {
        number: SkNumber::parse("12/2025").unwrap(),
        issued_on: date("2025-03-01"),
        subject: Title::parse("Pembentukan KIM Maju Bersama").unwrap(),
        issuing_office: code(village),
        signed_by: "Kepala Desa".to_owned(),
        roster_acknowledged: true,
    })
}

pub fn assign_number(number: &str, regency: &str) -> CommunityCommand {
    CommunityCommand::AssignRegistrationNumber(AssignRegistrationNumber {
        number: simpul_domain::text::RegistrationNumber::parse(number).unwrap(),
        regency: code(regency),
        assigned_on: date("2025-03-15"),
    })
}

pub fn activity(kind: ActivityKind) -> (Uuid, CommunityCommand) {
    let activity_id = Uuid::new_v4();
    let command = CommunityCommand::RecordActivity(RecordActivity {
        activity_id,
        kind,
        title: Title::parse("Sosialisasi program desa").unwrap(),
        held_on: date("2025-04-01"),
        participants: Some(12),
    });
    (activity_id, command)
}

pub fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

/// Forms a KIM in `village` and gives it ketua, sekretaris and bendahara and an SK.
pub async fn legal_ready(executor: &CommandExecutor, keys: &KeyStore, village: &str) -> String {
    let id = Uuid::new_v4().to_string();
    let ctx = context(ActorRole::Regency);
    executor
        .execute(&id, form(village, 12), &ctx)
        .await
        .unwrap();
    for (role, name) in [
        (OfficerRole::Ketua, "Ketua Satu"),
        (OfficerRole::Sekretaris, "Sekretaris Dua"),
        (OfficerRole::Bendahara, "Bendahara Tiga"),
    ] {
        let (_, command) = appoint(keys, role, name).await;
        executor
            .execute(&id, command, &context(ActorRole::Pegiat))
            .await
            .unwrap();
    }
    executor
        .execute(&id, issue_sk(village), &ctx)
        .await
        .unwrap();
    id
}

/// Reads the whole feed from `after`, until it returns nothing new (the xmin horizon may hold it
/// back briefly while other tests' transactions are open, so wait for `at_least` events).
pub async fn read_feed(
    store: &EventStore,
    after: u64,
    at_least: usize,
) -> Vec<simpul_store::StoredEvent> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut events = Vec::new();
    let mut cursor = after;
    loop {
        let batch = store.read_all(cursor, 1000).await.unwrap();
        if let Some(last) = batch.last() {
            cursor = last.position;
        }
        let empty = batch.is_empty();
        events.extend(batch);
        if empty && events.len() >= at_least {
            return events;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "feed stuck at {} events, expected at least {at_least}",
            events.len()
        );
        if empty {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Runs the real `simpul` binary with only the given environment of Simpul's own.
pub fn simpul_binary(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_simpul"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SIMPUL_MASTER_KEY")
        .env_remove("SIMPUL_DATA_DIR");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("the simpul binary runs")
}

/// [`simpul_binary`] off the async runtime.
pub async fn simpul_binary_async(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    off_runtime(simpul_binary, args, envs).await
}

/// A blocking way of running the binary with arguments and environment.
pub type BinaryRun = fn(&[&str], &[(&str, &str)]) -> std::process::Output;

/// Runs `run` (a blocking way of starting the binary) with `args` and `envs` on a blocking
/// thread, so a test's async runtime goes on meanwhile.
pub async fn off_runtime(
    run: BinaryRun,
    args: &[&str],
    envs: &[(&str, &str)],
) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run(&args, &envs)
    })
    .await
    .expect("the binary's thread")
}

//! A real `simpul-http` server on a random port over a `TestDb`, with tokens per role.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simpul_http::AppState;
use simpul_store::{Backend, KeyStore, MasterKey, TokenStore};

use crate::helpers::TestDb;

pub struct TestServer {
    pub base: String,
    _db: TestDb,
    pub client: reqwest::Client,
    /// The server's own event store (its clones share its counters).
    pub store: simpul_store::EventStore,
    tokens: TokenStore,
    keys: KeyStore,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn is_problem(&self) -> bool {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/problem+json"))
    }
}

impl TestServer {
    pub async fn spawn(backend: Backend) -> Self {
        Self::on(TestDb::new(backend).await).await
    }

    /// A server over `db` (an installation of its own: a new master key).
    pub async fn on(db: TestDb) -> Self {
        let keys = KeyStore::new(db.database.clone(), MasterKey::generate());
        let regions = simpul_regions::bundled().unwrap();
        let state = AppState::new(db.database.clone(), keys.clone(), regions);
        let store = state.store().clone();
        // The read models follow the feed, as in `simpul serve`.
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let runner = simpul_projections::Runner::new(state.store().clone());
        tokio::spawn(async move {
            let _keep_open = _stop;
            runner.run(simpul_projections::all(regions), stopped).await;
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // The API and the web application, as `simpul serve` serves them.
        let limits = simpul_http::Limits::default();
        let app = simpul_http::app_with_pages(
            state,
            &limits,
            simpul_web::pages(simpul_web::WebSettings::default()),
        );
        tokio::spawn(simpul_http::serve_with_limits(
            listener,
            app,
            limits,
            std::future::pending(),
        ));
        Self {
            base,
            store,
            tokens: TokenStore::new(db.database.clone()),
            keys,
            _db: db,
            client: reqwest::Client::new(),
        }
    }

    /// The server's key store (to seal officers' names as the server does).
    pub fn keys(&self) -> KeyStore {
        self.keys.clone()
    }

    /// The server's database URL (for the `simpul` binary on the same database).
    pub fn url(&self) -> &str {
        &self._db.url
    }

    /// The server's database.
    pub fn database(&self) -> simpul_store::Database {
        self._db.database.clone()
    }

    /// A command executor on the server's database (a second process's view, own cache).
    pub fn executor(&self) -> simpul_app::CommandExecutor {
        self._db.executor()
    }

    /// Rows in `person_keys` (every person whose key exists).
    pub async fn person_key_count(&self) -> i64 {
        match &self._db.database {
            simpul_store::Database::Postgres(pool) => {
                sqlx::query_scalar("SELECT count(*) FROM person_keys")
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            simpul_store::Database::Sqlite { readers, .. } => {
                sqlx::query_scalar("SELECT count(*) FROM person_keys")
                    .fetch_one(readers)
                    .await
                    .unwrap()
            }
        }
    }

    /// Erases a person's key, as `simpul persons erase` does.
    pub async fn erase(&self, person: uuid::Uuid) {
        self.keys
            .erase(person, "permintaan subjek data", "test")
            .await
            .unwrap();
    }

    /// A bearer token for `role` with `scope`.
    pub async fn token(&self, role: &str, scope: &str) -> String {
        self.tokens
            .create(&format!("{role} {scope}"), role, scope)
            .await
            .unwrap()
            .1
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            &format!("/api/v1{path}"),
            Some(token),
            Some(body),
            &[],
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(
            Method::GET,
            &format!("/api/v1{path}"),
            Some(token),
            None,
            &[],
        )
        .await
    }

    /// Forms a KIM through the API and returns its id.
    pub async fn form(&self, token: &str, village: &str) -> String {
        let reply = self
            .post("/communities", token, form_body(village, 12))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

pub fn form_body(village: &str, members: u32) -> Value {
    json!({
        "name": "KIM Karang Taruna Bersatu",
        "village": village,
        "formed_on": "2025-08-01",
        "origin_group": "Karang Taruna",
        "member_count": members,
        "initiated_by": "Karang Taruna Kelurahan",
    })
}

pub fn officer_body(role: &str, name: &str) -> Value {
    json!({
        "role": role,
        "name": name,
        "contact": "0812-0000-0000",
        "appointed_on": "2025-08-05",
        "eligibility": {
            "not_asn": true, "no_criminal_record": true,
            "no_party_affiliation": true, "no_ngo_affiliation": true
        }
    })
}

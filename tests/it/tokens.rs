//! API tokens: only hashes are stored, revocation, the CLI, and the first-start bootstrap.

use std::process::{Command, Output};

use simpul_app::auth::{Principal, Scope};
use simpul_app::bootstrap_admin_token;
use simpul_domain::ActorRole;
use simpul_store::{token_hash, Database, TokenStore, TOKEN_PREFIX};

use crate::both_backends;
use crate::helpers::*;

/// Every column of every row of `api_tokens`, as text.
async fn tokens_table_text(db: &TestDb) -> String {
    let sql = "SELECT id || '|' || name || '|' || role || '|' || scope || '|' || token_hash || \
               '|' || created_at || '|' || coalesce(revoked_at, '-') FROM api_tokens";
    let rows: Vec<String> = match &db.database {
        Database::Postgres(pool) => sqlx::query_scalar(
            &sql.replace("id ||", "id::text ||")
                .replace("created_at ||", "created_at::text ||")
                .replace("coalesce(revoked_at,", "coalesce(revoked_at::text,"),
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

both_backends!(
    only_the_hash_of_a_token_is_stored_and_revocation_is_immediate,
    |db: TestDb| async move {
        let tokens = TokenStore::new(db.database.clone());
        assert_eq!(tokens.count().await.unwrap(), 0);

        let (sleman, secret) = tokens
            .create("Diskominfo Sleman", "regency", "34.04")
            .await
            .unwrap();
        let (_, other_secret) = tokens.create("BPK", "auditor", "national").await.unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX), "{secret}");
        assert_ne!(secret, other_secret);
        assert_eq!(tokens.count().await.unwrap(), 2);

        let table = tokens_table_text(&db).await;
        assert!(table.contains(&token_hash(&secret)), "{table}");
        let body = &secret[TOKEN_PREFIX.len()..];
        assert!(
            !table.contains(body),
            "the secret is in api_tokens: {table}"
        );
        assert!(!table.contains(&other_secret[TOKEN_PREFIX.len()..]));

        let found = tokens.find_active(&secret).await.unwrap().unwrap();
        assert_eq!(found, sleman);
        assert_eq!(found.role, "regency");
        assert_eq!(found.scope, "34.04");
        assert!(found.revoked_at.is_none());
        assert!(tokens.find_active("simpul_guess").await.unwrap().is_none());
        assert!(tokens.find_active("").await.unwrap().is_none());
        assert!(tokens
            .find_active(&token_hash(&secret))
            .await
            .unwrap()
            .is_none());

        // The row becomes a principal whose actor is `token:<id>`.
        let regions = simpul_regions::bundled().unwrap();
        let principal = Principal::from_stored(&found, regions).unwrap();
        assert_eq!(principal.role, ActorRole::Regency);
        assert_eq!(principal.scope, Scope::Region(code("34.04")));
        assert_eq!(principal.actor_id(), format!("token:{}", sleman.id));

        assert!(tokens.revoke(sleman.id).await.unwrap());
        assert!(tokens.find_active(&secret).await.unwrap().is_none());
        assert!(!tokens.revoke(sleman.id).await.unwrap(), "revoked twice");
        assert!(!tokens.revoke(uuid::Uuid::new_v4()).await.unwrap());
        assert!(tokens.find_active(&other_secret).await.unwrap().is_some());

        let listed = tokens.list().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, sleman.id, "oldest first");
        assert_eq!(listed[0].created_at, sleman.created_at);
        let revoked_at = listed[0].revoked_at.expect("list shows revoked_at");
        assert!(revoked_at >= sleman.created_at);
        assert!(listed[1].revoked_at.is_none());
        assert_eq!(
            tokens.count().await.unwrap(),
            2,
            "revoked tokens still count"
        );
    }
);

both_backends!(
    the_bootstrap_writes_one_admin_token_with_mode_0600_once,
    |db: TestDb| async move {
        let tokens = TokenStore::new(db.database.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("admin-token");

        let written = bootstrap_admin_token(&tokens, &path).await.unwrap();
        assert_eq!(written.as_deref(), Some(path.as_path()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let secret = std::fs::read_to_string(&path).unwrap().trim().to_owned();
        let token = tokens.find_active(&secret).await.unwrap().unwrap();
        assert_eq!(
            (
                token.name.as_str(),
                token.role.as_str(),
                token.scope.as_str()
            ),
            ("bootstrap admin", "admin", "national")
        );
        assert!(!tokens_table_text(&db).await.contains(&secret));

        // Tokens exist now (even once all are revoked): nothing more is created or written.
        assert_eq!(bootstrap_admin_token(&tokens, &path).await.unwrap(), None);
        assert!(tokens.revoke(token.id).await.unwrap());
        let elsewhere = dir.path().join("again");
        assert_eq!(
            bootstrap_admin_token(&tokens, &elsewhere).await.unwrap(),
            None
        );
        assert!(!elsewhere.exists());
        assert_eq!(tokens.count().await.unwrap(), 1);
    }
);

both_backends!(
    the_bootstrap_refuses_to_overwrite_a_stale_token_file,
    |db: TestDb| async move {
        let tokens = TokenStore::new(db.database.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        std::fs::write(&path, "simpul_old\n").unwrap();
        let error = bootstrap_admin_token(&tokens, &path)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("exists"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "simpul_old\n");
        assert_eq!(tokens.count().await.unwrap(), 0, "no token without a file");
    }
);

fn simpul(args: &[&str], db: &TestDb, data_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simpul"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("SIMPUL_DATA_DIR", data_dir)
        .env_remove("SIMPUL_MASTER_KEY")
        .output()
        .expect("the simpul binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

both_backends!(
    cli_creates_lists_and_revokes_tokens,
    |db: TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        let output = simpul(
            &[
                "tokens",
                "create",
                "--role",
                "regency",
                "--scope",
                "34.04",
                "--name",
                "Diskominfo Sleman",
            ],
            &db,
            dir.path(),
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(text.contains("will not be shown again"), "{text}");
        let secret = text
            .lines()
            .find(|line| line.starts_with(TOKEN_PREFIX))
            .unwrap()
            .to_owned();
        let id = text
            .split_whitespace()
            .find_map(|word| uuid::Uuid::parse_str(word).ok())
            .unwrap();
        assert!(!stderr(&output).contains(&secret), "secret on stderr");

        let tokens = TokenStore::new(db.database.clone());
        let stored = tokens.find_active(&secret).await.unwrap().unwrap();
        assert_eq!(stored.id, id);
        assert_eq!(stored.name, "Diskominfo Sleman");

        // A pegiat token is for a KIM that exists (the CLI refuses an unknown id, exit 2).
        let community = uuid::Uuid::new_v4().to_string();
        db.executor()
            .execute(
                &community,
                form(SLEMAN_DESA, 10),
                &context(ActorRole::Regency),
            )
            .await
            .unwrap();
        let output = simpul(
            &[
                "tokens",
                "create",
                "--role",
                "pegiat",
                "--scope",
                &community,
                "--name",
                "Pegiat KIM Maju",
            ],
            &db,
            dir.path(),
        );
        assert!(output.status.success(), "{}", stderr(&output));

        // An analyst: national, a province or a kabupaten/kota.
        for scope in ["national", "34", "34.04"] {
            let output = simpul(
                &[
                    "tokens", "create", "--role", "analyst", "--scope", scope, "--name", "BPS",
                ],
                &db,
                dir.path(),
            );
            assert!(output.status.success(), "{scope}: {}", stderr(&output));
        }

        let output = simpul(&["tokens", "list"], &db, dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        let table = stdout(&output);
        let header = table.lines().next().unwrap();
        for column in ["ID", "NAME", "ROLE", "SCOPE", "CREATED", "REVOKED"] {
            assert!(header.contains(column), "{table}");
        }
        assert!(table.contains(&id.to_string()), "{table}");
        assert!(table.contains("Diskominfo Sleman"), "{table}");
        assert!(table.contains(&community), "{table}");
        assert!(!table.contains(&secret[TOKEN_PREFIX.len()..]), "{table}");

        let output = simpul(&["tokens", "revoke", &id.to_string()], &db, dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(tokens.find_active(&secret).await.unwrap().is_none());

        let output = simpul(&["tokens", "list", "--json"], &db, dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        let rows: Vec<serde_json::Value> = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0]["id"], id.to_string());
        assert_eq!(rows[0]["role"], "regency");
        assert_eq!(rows[0]["scope"], "34.04");
        assert!(rows[0]["revoked_at"].is_string(), "{:?}", rows[0]);
        assert!(rows[1]["revoked_at"].is_null(), "{:?}", rows[1]);
        assert_eq!(rows[4]["role"], "analyst");
        assert_eq!(rows[4]["scope"], "34.04");
        assert!(rows[0].get("token_hash").is_none());

        // Revoking again, or an id that never existed: exit 2.
        let output = simpul(&["tokens", "revoke", &id.to_string()], &db, dir.path());
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let unknown = uuid::Uuid::new_v4().to_string();
        let output = simpul(&["tokens", "revoke", &unknown], &db, dir.path());
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(&unknown), "{}", stderr(&output));
    }
);

both_backends!(
    cli_refuses_bad_roles_scopes_and_names,
    |db: TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        // 64 for a usage error, 2 for a region code that does not exist.
        for (role, scope, name, expected, code) in [
            ("root", "national", "x", "--role: unknown role `root`", 64),
            ("system", "national", "x", "--role", 64),
            (
                "admin",
                "34",
                "x",
                "--scope: role `admin` takes the scope `national`",
                64,
            ),
            (
                "province",
                "34.04",
                "x",
                "--scope: role `province` takes a province code",
                64,
            ),
            (
                "regency",
                "34",
                "x",
                "--scope: role `regency` takes a kabupaten/kota code",
                64,
            ),
            (
                "regency",
                "34.99",
                "x",
                "--scope: region 34.99 does not exist",
                2,
            ),
            ("regency", "sleman", "x", "--scope", 64),
            (
                "pegiat",
                "34.04",
                "x",
                "--scope: role `pegiat` takes a community id",
                64,
            ),
            ("auditor", "everything", "x", "--scope", 64),
            (
                "analyst",
                "34.04.01",
                "x",
                "--scope: role `analyst` takes `national`, a province code (PP) or a \
                 kabupaten/kota code (PP.RR), but 34.04.01 is a kecamatan",
                64,
            ),
            (
                "analyst",
                "34.99",
                "x",
                "--scope: region 34.99 does not exist",
                2,
            ),
            ("national", "national", "  ", "--name", 64),
        ] {
            let output = simpul(
                &[
                    "tokens", "create", "--role", role, "--scope", scope, "--name", name,
                ],
                &db,
                dir.path(),
            );
            assert_eq!(output.status.code(), Some(code), "{role} {scope} {name:?}");
            assert!(
                stderr(&output).contains(expected),
                "{role} {scope}: {}",
                stderr(&output)
            );
            assert!(!stdout(&output).contains(TOKEN_PREFIX));
        }
        let output = simpul(&["tokens", "revoke", "not-a-uuid"], &db, dir.path());
        assert_eq!(output.status.code(), Some(64));
        assert!(
            stderr(&output).contains("not a UUID"),
            "{}",
            stderr(&output)
        );
        let output = simpul(&["tokens", "create", "--role", "admin"], &db, dir.path());
        assert_eq!(output.status.code(), Some(64));
        assert!(stderr(&output).contains("--scope"), "{}", stderr(&output));
        assert_eq!(
            TokenStore::new(db.database.clone()).count().await.unwrap(),
            0
        );
    }
);

-- Sessions of the web application (docs/web.md): signing in at /masuk with an API token opens
-- one. Only the SHA-256 of the session cookie is kept (lowercase hex), like a token's. A session
-- acts with its token's role and scope, and ends with it: a revoked token's sessions are
-- refused. `last_seen_at` is moved at most once a minute; a session idle longer than the
-- configured time, or older than its absolute limit, is refused and deleted. Signing out deletes
-- the row. `csrf` is the session's anti-forgery token, which every form must send back.
CREATE TABLE web_sessions
(
    session_hash text        PRIMARY KEY CHECK (session_hash ~ '^[0-9a-f]{64}$'),
    token_id     uuid        NOT NULL REFERENCES api_tokens (id),
    csrf         text        NOT NULL CHECK (csrf <> ''),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen_at);

-- Sessions of the web application (docs/web.md): as the PostgreSQL migration of the same name.
-- Times are RFC 3339 UTC with microseconds, so text order is time order.
CREATE TABLE web_sessions
(
    session_hash text PRIMARY KEY CHECK (length(session_hash) = 64 AND session_hash NOT GLOB '*[^0-9a-f]*'),
    token_id     text NOT NULL REFERENCES api_tokens (id),
    csrf         text NOT NULL CHECK (csrf <> ''),
    created_at   text NOT NULL,
    last_seen_at text NOT NULL
) STRICT;
CREATE INDEX web_sessions_last_seen ON web_sessions (last_seen_at);

-- API bearer tokens. Only the SHA-256 of a token is kept (lowercase hex): a copy of the database
-- does not let anyone call the API. The secret is shown once, when the token is created.
-- Role and scope are validated by the application (a scope needs the region edition to check);
-- the table only refuses what can never be right.
-- Rows are never deleted: revoking sets revoked_at, so the bootstrap (which runs only while the
-- table is empty) cannot be triggered again by revoking every token, and R11's `token:<id>`
-- actors in the event log keep pointing at a row.
CREATE TABLE api_tokens
(
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL CHECK (name <> ''),
    role       text        NOT NULL,
    scope      text        NOT NULL,
    token_hash text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz NULL
);

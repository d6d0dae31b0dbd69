-- API bearer tokens: only the SHA-256 of a token (lowercase hex), never the token itself.
-- Role and scope are validated by the application. Rows are never deleted (revoking sets
-- revoked_at), so the empty-table bootstrap runs once and event actors `token:<id>` stay
-- resolvable. Times are RFC 3339 UTC with microseconds, so text order is time order.
CREATE TABLE api_tokens
(
  id         text PRIMARY KEY,
  name       text NOT NULL CHECK (name <> ''),
  role       text NOT NULL,
  scope      text NOT NULL,
  token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
  created_at text NOT NULL,
  revoked_at text NULL
) STRICT;

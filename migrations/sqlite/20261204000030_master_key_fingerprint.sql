-- The fingerprint of the master key that wraps the data keys (see the PostgreSQL migration of the
-- same name): one row at most, lowercase hex, recorded_at RFC 3339 UTC.
CREATE TABLE master_key_fingerprint
(
  id          integer PRIMARY KEY CHECK (id = 1),
  fingerprint text NOT NULL CHECK (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*'),
  recorded_at text NOT NULL
) STRICT;

-- The fingerprint of the master key that wraps this database's data keys (`person_keys`), so that
-- every command refuses another key before it seals anything with it (issue 12). It does not
-- reveal the key: HMAC-SHA256 of nothing under a secret derived from the key (HKDF-SHA256 with
-- the label `simpul master key fingerprint v1`), lowercase hex. At most one row: the first
-- command that uses the key records it (INSERT … ON CONFLICT DO NOTHING, then read back).
CREATE TABLE master_key_fingerprint
(
    id          integer     PRIMARY KEY CHECK (id = 1),
    fingerprint text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    recorded_at timestamptz NOT NULL DEFAULT now()
);

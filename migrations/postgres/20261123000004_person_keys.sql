-- Per-person data keys that seal officers' names and contacts, wrapped by the master key.
-- Erasure deletes the key row (crypto-shredding); the erasure itself is recorded alongside.
CREATE TABLE person_keys
(
    person_id   uuid        PRIMARY KEY,
    wrapped_key bytea       NOT NULL,
    nonce       bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE person_erasures
(
    person_id uuid        PRIMARY KEY,
    erased_at timestamptz NOT NULL,
    reason    text        NOT NULL,
    actor     text        NOT NULL
);

-- Per-person data keys (wrapped by the master key); erasure deletes the key row.
CREATE TABLE person_keys
(
  person_id   text PRIMARY KEY,
  wrapped_key blob NOT NULL,
  nonce       blob NOT NULL,
  created_at  text NOT NULL
) STRICT;

CREATE TABLE person_erasures
(
  person_id text PRIMARY KEY,
  erased_at text NOT NULL,
  reason    text NOT NULL,
  actor     text NOT NULL
) STRICT;

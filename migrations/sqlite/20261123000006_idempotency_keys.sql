-- Idempotency-Key: the first response to (principal, key), kept 24 hours; NULL status = in flight.
CREATE TABLE idempotency_keys
(
  principal    text    NOT NULL,
  key          text    NOT NULL,
  request_hash text    NOT NULL,
  status       integer,
  body         text,
  created_at   text    NOT NULL,
  PRIMARY KEY (principal, key)
) STRICT;

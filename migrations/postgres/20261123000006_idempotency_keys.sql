-- Idempotency-Key: the first response to (principal, key) is kept for 24 hours and replayed for a
-- retry with the same body; a row with no status is a request still in flight.
CREATE TABLE idempotency_keys
(
    principal    text        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status       integer,
    body         text,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);

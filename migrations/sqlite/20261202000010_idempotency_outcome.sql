-- An Idempotency-Key's outcome is recorded in the transaction that appends its events (see the
-- PostgreSQL migration of the same name).
ALTER TABLE idempotency_keys ADD COLUMN claim text;
ALTER TABLE idempotency_keys ADD COLUMN version integer;
ALTER TABLE idempotency_keys ADD COLUMN position integer;

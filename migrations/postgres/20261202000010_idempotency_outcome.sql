-- An Idempotency-Key's outcome is recorded in the transaction that appends its events, so the
-- two cannot disagree after a crash: `claim` names the request holding an unfinished key (a
-- retry may take it over once it is old), `version` and `position` are the outcome the response
-- is rebuilt from. `body` stays for rows recorded before.
ALTER TABLE idempotency_keys ADD COLUMN claim text;
ALTER TABLE idempotency_keys ADD COLUMN version bigint;
ALTER TABLE idempotency_keys ADD COLUMN position bigint;

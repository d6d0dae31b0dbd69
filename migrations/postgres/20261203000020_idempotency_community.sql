-- The community an idempotent request wrote to, so that a replayed `POST /communities` names the
-- KIM the first request formed (its `Location` and `id`), not a freshly generated one.
ALTER TABLE idempotency_keys ADD COLUMN community_id text;

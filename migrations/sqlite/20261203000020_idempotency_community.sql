-- The community an idempotent request wrote to (see the PostgreSQL migration of the same name).
ALTER TABLE idempotency_keys ADD COLUMN community_id text;

-- A global position and the writing transaction's id, so readers can follow every event of every
-- aggregate in one order that never skips a late commit (see simpul-store's feed module).
ALTER TABLE events
    ADD COLUMN position bigint GENERATED ALWAYS AS IDENTITY,
    ADD COLUMN txid     xid8   NOT NULL DEFAULT pg_current_xact_id();

CREATE UNIQUE INDEX events_position ON events (position);
CREATE INDEX events_feed_order ON events (txid, position);

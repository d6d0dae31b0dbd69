-- SQLite has one writer at a time, so MAX(position) + 1 inside the write transaction is the
-- commit order.
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT COALESCE(MAX(position), 0) + 1 FROM events))
RETURNING sequence, position

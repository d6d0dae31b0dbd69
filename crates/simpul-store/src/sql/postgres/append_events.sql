-- One statement appends all of a command's events; the primary key (aggregate_type,
-- aggregate_id, sequence) turns a concurrent write to the same community into a conflict.
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload::json, e.metadata::json
  FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
       AS e(sequence, event_type, event_version, payload, metadata)
RETURNING sequence, position

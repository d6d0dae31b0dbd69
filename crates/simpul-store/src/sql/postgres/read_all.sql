-- The global feed. Rows are returned only below the oldest transaction still in flight, so a
-- transaction that took its position early but commits late is never overtaken: every row whose
-- txid is below xmin is final, and every row not yet visible will have txid >= xmin. Ordering by
-- (txid, position) makes that order stable; `after` is resumed from the row at that position.
SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version,
       payload::text AS payload, metadata::text AS metadata
  FROM events
 WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
   AND (txid, position) > (
         COALESCE((SELECT txid FROM events WHERE position <= $1 ORDER BY position DESC LIMIT 1),
                  '0'::xid8),
         $1)
 ORDER BY txid, position
 LIMIT $2

SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
 WHERE position > ?1
 ORDER BY position
 LIMIT ?2

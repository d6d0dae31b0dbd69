INSERT INTO projection_checkpoints (name, state, last_error, error_position, error_event, updated_at)
VALUES (?1, 'failed', ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT (name) DO UPDATE
   SET state = 'failed', last_error = excluded.last_error,
       error_position = excluded.error_position, error_event = excluded.error_event,
       updated_at = excluded.updated_at

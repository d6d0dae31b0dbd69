INSERT INTO projection_checkpoints (name, position, events, state, updated_at)
VALUES ($1, $2, $3, 'running', now())
ON CONFLICT (name) DO UPDATE
   SET position = excluded.position,
       events = projection_checkpoints.events + excluded.events,
       state = 'running', last_error = NULL, error_position = NULL, error_event = NULL,
       updated_at = excluded.updated_at

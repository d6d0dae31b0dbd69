-- Bench data: nine activities for each of the $1 KIM, in sequence order per KIM.
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT 'Community', 'bench-' || c, s, 'ActivityRecorded', '1.0',
       json_build_object('ActivityRecorded', json_build_object(
           'activity_id', md5(c || '-' || s)::uuid, 'kind', 'dissemination',
           'title', 'Diseminasi informasi', 'held_on', '2025-01-01', 'participants', 10)),
       json_build_object('actor_id', 'bench', 'actor_role', 'pegiat', 'request_id', 'bench-' || c || '-' || s,
           'recorded_at', '2025-01-02T00:00:00.000000Z',
           'region_edition', 'kepmendagri-300.2.2-2138-2025')
  FROM generate_series(2, 10) AS s, generate_series(1, $1::bigint) AS c
 ORDER BY s, c

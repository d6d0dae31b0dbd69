-- Bench data: $2 KIM, each formed in one of the desa in $1 (real Kemendagri 2025 codes).
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT 'Community', 'bench-' || c, 1, 'CommunityFormed', '1.0',
       json_build_object('CommunityFormed', json_build_object(
           'name', 'KIM Bench ' || c, 'village', ($1::text[])[1 + c % array_length($1::text[], 1)],
           'region_edition', 'kepmendagri-300.2.2-2138-2025', 'formed_on', '2024-01-01',
           'origin_group', NULL, 'member_count', 10, 'initiated_by', 'Karang Taruna',
           'recorded_by_role', 'regency', 'on_behalf_of_community', true, 'stage', 'kim1',
           'policy_version', '2025.1')),
       json_build_object('actor_id', 'bench', 'actor_role', 'regency', 'request_id', 'bench-' || c,
           'recorded_at', '2025-01-01T00:00:00.000000Z',
           'region_edition', 'kepmendagri-300.2.2-2138-2025')
  FROM generate_series(1, $2::bigint) AS c
 ORDER BY c

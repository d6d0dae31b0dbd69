-- All rows of a batch in one statement (PostgreSQL).
INSERT INTO audit_trail (position, recorded_at, community_id, sequence, desa_code, regency_code,
                         province_code, event_type, actor, role, request_id, reason, summary)
SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                     $13::text[])

-- Every touched KIM's key and state in one statement (PostgreSQL).
INSERT INTO stage_dashboard_members (community_id, desa_code, stage, status, legal, state)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[])
ON CONFLICT (community_id) DO UPDATE
   SET desa_code = excluded.desa_code, stage = excluded.stage, status = excluded.status,
       legal = excluded.legal, state = excluded.state

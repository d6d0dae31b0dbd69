INSERT INTO stage_dashboard_members (community_id, desa_code, stage, status, legal, state)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (community_id) DO UPDATE
   SET desa_code = excluded.desa_code, stage = excluded.stage, status = excluded.status,
       legal = excluded.legal, state = excluded.state

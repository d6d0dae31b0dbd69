INSERT INTO audit_trail (position, recorded_at, community_id, sequence, desa_code, regency_code,
                         province_code, event_type, actor, role, request_id, reason, summary)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)

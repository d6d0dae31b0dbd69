-- The columns of an audit page; `query.rs` adds the WHERE clause of the filters given, then
-- `ORDER BY position LIMIT n` (keyset pagination on the position).
SELECT position, recorded_at, community_id, sequence, desa_code, regency_code, province_code,
       event_type, actor, role, request_id, reason, summary
  FROM audit_trail

-- The columns of an audit page; `query.rs` adds the WHERE clause of the filters given, then
-- `ORDER BY position LIMIT n` (keyset pagination on the position). Each row's ledger index
-- comes from the `ledger` read model (NULL while it has not reached the event).
SELECT position, recorded_at, community_id, sequence, desa_code, regency_code, province_code,
       event_type, actor, role, request_id, reason, summary,
       (SELECT ledger_index FROM ledger_leaves
         WHERE ledger_leaves.position = audit_trail.position) AS ledger_index
  FROM audit_trail

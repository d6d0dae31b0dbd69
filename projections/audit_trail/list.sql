SELECT position, recorded_at, community_id, sequence, desa_code, regency_code, province_code,
       event_type, actor, role, request_id, reason, summary
  FROM audit_trail
 WHERE ($1 = '' OR community_id = $1)
   AND ($2 = '' OR actor = $2)
   AND ($3 = '' OR desa_code = $3 OR desa_code LIKE $3 || '.%')
   AND ($4 = '' OR event_type = $4)
   AND ($5 = '' OR recorded_at >= $5)
   AND ($6 = '' OR recorded_at < $6)
   AND position > $7
 ORDER BY position
 LIMIT $8

-- The columns of a page; `query.rs` adds the WHERE clause of the filters given, then
-- `ORDER BY community_id LIMIT n` (keyset pagination on the id).
SELECT community_id, name, desa_code, desa_name, kecamatan_code, kecamatan_name, regency_code,
       regency_name, province_code, province_name, stage, status, legal, sk_number,
       CAST(sk_date AS text) AS sk_date, nomor_induk, CAST(member_count AS bigint) AS member_count,
       CAST(active_officers AS bigint) AS active_officers,
       CAST(bimtek_count AS bigint) AS bimtek_count,
       CAST(last_bimtek_on AS text) AS last_bimtek_on, CAST(media_channels AS bigint) AS media_channels,
       CAST(e_businesses AS bigint) AS e_businesses,
       CAST(formed_on AS text) AS formed_on, last_event_at, version,
       CAST(stage_since AS text) AS stage_since, CAST(last_activity_on AS text) AS last_activity_on,
       CAST(vacant_posts AS bigint) AS vacant_posts
  FROM community_summary

INSERT INTO community_summary (
    community_id, name, desa_code, desa_name, kecamatan_code, kecamatan_name,
    regency_code, regency_name, province_code, province_name, stage, status, legal,
    sk_number, sk_date, nomor_induk, member_count, active_officers, bimtek_count,
    last_bimtek_on, media_channels, e_businesses, formed_on, last_event_at, version, state,
    stage_since, last_activity_on, vacant_posts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, CAST($15 AS date), $16, $17,
        $18, $19, CAST($20 AS date), $21, $22, CAST($23 AS date), $24, $25, $26, CAST($27 AS date),
        CAST($28 AS date), $29)
ON CONFLICT (community_id) DO UPDATE SET
    name = excluded.name, desa_code = excluded.desa_code, desa_name = excluded.desa_name,
    kecamatan_code = excluded.kecamatan_code, kecamatan_name = excluded.kecamatan_name,
    regency_code = excluded.regency_code, regency_name = excluded.regency_name,
    province_code = excluded.province_code, province_name = excluded.province_name,
    stage = excluded.stage, status = excluded.status, legal = excluded.legal,
    sk_number = excluded.sk_number, sk_date = excluded.sk_date, nomor_induk = excluded.nomor_induk,
    member_count = excluded.member_count, active_officers = excluded.active_officers,
    bimtek_count = excluded.bimtek_count, last_bimtek_on = excluded.last_bimtek_on,
    media_channels = excluded.media_channels, e_businesses = excluded.e_businesses,
    formed_on = excluded.formed_on, last_event_at = excluded.last_event_at,
    version = excluded.version, state = excluded.state, stage_since = excluded.stage_since,
    last_activity_on = excluded.last_activity_on, vacant_posts = excluded.vacant_posts

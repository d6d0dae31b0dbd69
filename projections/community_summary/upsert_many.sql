-- All rows of a batch in one statement (PostgreSQL): one round trip instead of one per KIM.
INSERT INTO community_summary (
    community_id, name, desa_code, desa_name, kecamatan_code, kecamatan_name,
    regency_code, regency_name, province_code, province_name, stage, status, legal,
    sk_number, sk_date, nomor_induk, member_count, active_officers, bimtek_count,
    last_bimtek_on, media_channels, e_businesses, formed_on, last_event_at, version, state,
    stage_since, last_activity_on, vacant_posts)
SELECT community_id, name, desa_code, desa_name, kecamatan_code, kecamatan_name,
       regency_code, regency_name, province_code, province_name, stage, status, legal,
       sk_number, CAST(sk_date AS date), nomor_induk, member_count, active_officers, bimtek_count,
       CAST(last_bimtek_on AS date), media_channels, e_businesses, CAST(formed_on AS date),
       last_event_at, version, state, CAST(stage_since AS date), CAST(last_activity_on AS date),
       vacant_posts
  FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
              $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bool[],
              $14::text[], $15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::bigint[],
              $20::text[], $21::bigint[], $22::bigint[], $23::text[], $24::text[], $25::bigint[],
              $26::text[], $27::text[], $28::text[], $29::bigint[])
       AS u(community_id, name, desa_code, desa_name, kecamatan_code, kecamatan_name,
            regency_code, regency_name, province_code, province_name, stage, status, legal,
            sk_number, sk_date, nomor_induk, member_count, active_officers, bimtek_count,
            last_bimtek_on, media_channels, e_businesses, formed_on, last_event_at, version, state,
            stage_since, last_activity_on, vacant_posts)
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

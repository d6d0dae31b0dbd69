-- Audit queries filter by province, kabupaten/kota or event type (often a region and a type)
-- and read in position order; community lists filter by a region at its own level and read in
-- id order.
CREATE INDEX audit_trail_province ON audit_trail (province_code, position);
CREATE INDEX audit_trail_province_type ON audit_trail (province_code, event_type, position);
CREATE INDEX audit_trail_regency ON audit_trail (regency_code, position);
CREATE INDEX audit_trail_regency_type ON audit_trail (regency_code, event_type, position);
CREATE INDEX audit_trail_event_type ON audit_trail (event_type, position);
CREATE INDEX community_summary_province ON community_summary (province_code, community_id);
CREATE INDEX community_summary_regency ON community_summary (regency_code, community_id);
CREATE INDEX community_summary_kecamatan ON community_summary (kecamatan_code, community_id);

-- Audit queries filter by province, kabupaten/kota or event type and read in position order.
CREATE INDEX audit_trail_province ON audit_trail (province_code, position);
CREATE INDEX audit_trail_regency ON audit_trail (regency_code, position);
CREATE INDEX audit_trail_event_type ON audit_trail (event_type, position);

-- stage_transitions gains each KIM's regions, formation, first dates at KIM 2/3/4 (and months
-- to them), dissolution date and date order, and every bimtek's date: as the PostgreSQL
-- migration of the same name. SQLite adds a NOT NULL column only with a default; the tables are
-- emptied first and every row written from now on carries real values.
DELETE FROM stage_transitions;
DELETE FROM stage_transition_members;
DELETE FROM projection_checkpoints WHERE name = 'stage_transitions';
ALTER TABLE stage_transition_members ADD COLUMN district_code text NOT NULL DEFAULT '';
ALTER TABLE stage_transition_members ADD COLUMN regency_code text NOT NULL DEFAULT '';
ALTER TABLE stage_transition_members ADD COLUMN province_code text NOT NULL DEFAULT '';
ALTER TABLE stage_transition_members ADD COLUMN formed_on text NOT NULL DEFAULT '';
ALTER TABLE stage_transition_members ADD COLUMN formed_stage text NOT NULL DEFAULT '';
ALTER TABLE stage_transition_members ADD COLUMN kim2_on text;
ALTER TABLE stage_transition_members ADD COLUMN kim3_on text;
ALTER TABLE stage_transition_members ADD COLUMN kim4_on text;
ALTER TABLE stage_transition_members ADD COLUMN dissolved_on text;
ALTER TABLE stage_transition_members ADD COLUMN kim2_months integer;
ALTER TABLE stage_transition_members ADD COLUMN kim3_months integer;
ALTER TABLE stage_transition_members ADD COLUMN kim4_months integer;
ALTER TABLE stage_transition_members ADD COLUMN in_date_order integer NOT NULL DEFAULT 1;

CREATE INDEX stage_transition_members_province ON stage_transition_members (province_code, formed_on);
CREATE INDEX stage_transition_members_regency ON stage_transition_members (regency_code, formed_on);
CREATE INDEX stage_transition_members_district ON stage_transition_members (district_code, formed_on);
CREATE INDEX stage_transition_members_desa ON stage_transition_members (desa_code, formed_on);
CREATE INDEX stage_transitions_community ON stage_transitions (community_id, at, position);

CREATE TABLE stage_transition_bimtek
(
  position     integer PRIMARY KEY,
  community_id text    NOT NULL,
  held_on      text    NOT NULL
) STRICT;
CREATE INDEX stage_transition_bimtek_community ON stage_transition_bimtek (community_id, held_on, position);

-- stage_transitions gains what progression analytics (issue 15) aggregate per KIM, so a request
-- never scans the log: each KIM's region at every level, its formation (date and stage), the
-- first date it stood at KIM 2, 3 and 4 (the earliest `assessed_on` of an advance to that stage
-- or above; its `formed_on` if formed there or above) and the months that took, the date of its
-- dissolution (the event's own `dissolved_on`) and whether its dates follow the log's order; and
-- every bimtek a KIM attended, by its `held_on`. All are the events' own dates, never recording
-- time. The read model is emptied and rebuilt from the log.
DELETE FROM stage_transitions;
DELETE FROM stage_transition_members;
DELETE FROM projection_checkpoints WHERE name = 'stage_transitions';
ALTER TABLE stage_transition_members ADD COLUMN district_code text NOT NULL;
ALTER TABLE stage_transition_members ADD COLUMN regency_code text NOT NULL;
ALTER TABLE stage_transition_members ADD COLUMN province_code text NOT NULL;
ALTER TABLE stage_transition_members ADD COLUMN formed_on date NOT NULL;
ALTER TABLE stage_transition_members ADD COLUMN formed_stage text NOT NULL;
ALTER TABLE stage_transition_members ADD COLUMN kim2_on date;
ALTER TABLE stage_transition_members ADD COLUMN kim3_on date;
ALTER TABLE stage_transition_members ADD COLUMN kim4_on date;
ALTER TABLE stage_transition_members ADD COLUMN dissolved_on date;
-- Whole months from formation to the first date at KIM 2/3/4, rounded up: the least n with
-- kimN_on <= formed_on + n months (on the month's last day when the day does not exist there),
-- so "reached within 6 months" is `kim2_months <= 6`.
ALTER TABLE stage_transition_members ADD COLUMN kim2_months integer;
ALTER TABLE stage_transition_members ADD COLUMN kim3_months integer;
ALTER TABLE stage_transition_members ADD COLUMN kim4_months integer;
-- Whether every stage change and the dissolution is dated on or after the formation or change
-- before it in the log. Only the KIM where this is false (an assessment back-dated before an
-- earlier one) need their changes ordered by date to know their stage at a month's end.
ALTER TABLE stage_transition_members ADD COLUMN in_date_order boolean NOT NULL;

-- A region at its own level, then formation dates: cohorts and time-to-stage of one region
-- read only its KIM.
CREATE INDEX stage_transition_members_province ON stage_transition_members (province_code, formed_on);
CREATE INDEX stage_transition_members_regency ON stage_transition_members (regency_code, formed_on);
CREATE INDEX stage_transition_members_district ON stage_transition_members (district_code, formed_on);
CREATE INDEX stage_transition_members_desa ON stage_transition_members (desa_code, formed_on);
-- A KIM's changes by date (spells, month-end stages).
CREATE INDEX stage_transitions_community ON stage_transitions (community_id, at, position);

-- Every bimtek (any kind: bimtek, workshop, sarasehan, forum diskusi) a KIM attended.
CREATE TABLE stage_transition_bimtek
(
    position     bigint PRIMARY KEY,
    community_id text   NOT NULL,
    held_on      date   NOT NULL
);
CREATE INDEX stage_transition_bimtek_community ON stage_transition_bimtek (community_id, held_on, position);

-- audit_trail: every event flattened (who did what, when, why), with a one-line summary in
-- Bahasa Indonesia. Personal data never appears here (officers are named by role only).
CREATE TABLE audit_trail
(
    position      bigint PRIMARY KEY,
    recorded_at   text   NOT NULL,
    community_id  text   NOT NULL,
    sequence      bigint NOT NULL,
    desa_code     text   NOT NULL,
    regency_code  text   NOT NULL,
    province_code text   NOT NULL,
    event_type    text   NOT NULL,
    actor         text   NOT NULL,
    role          text   NOT NULL,
    request_id    text   NOT NULL,
    reason        text,
    summary       text   NOT NULL
);
CREATE INDEX audit_trail_community ON audit_trail (community_id, position);
CREATE INDEX audit_trail_actor ON audit_trail (actor, position);

-- stage_transitions: every stage change with the days spent in the previous stage and the bimtek
-- attended before it; stage_transition_members keeps each KIM's current stage and since when.
CREATE TABLE stage_transitions
(
    position         bigint PRIMARY KEY,
    community_id     text   NOT NULL,
    desa_code        text   NOT NULL,
    regency_code     text   NOT NULL,
    province_code    text   NOT NULL,
    from_stage       text   NOT NULL,
    to_stage         text   NOT NULL,
    at               date   NOT NULL,
    days_in_previous bigint NOT NULL,
    bimtek_before    bigint NOT NULL,
    policy_version   text
);

CREATE TABLE stage_transition_members
(
    community_id text   PRIMARY KEY,
    desa_code    text   NOT NULL,
    stage        text   NOT NULL,
    stage_since  date   NOT NULL,
    bimtek_count bigint NOT NULL
);

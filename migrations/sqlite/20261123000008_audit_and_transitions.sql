-- audit_trail: every event flattened, with a one-line Bahasa Indonesia summary (no personal data).
CREATE TABLE audit_trail
(
  position      integer PRIMARY KEY,
  recorded_at   text    NOT NULL,
  community_id  text    NOT NULL,
  sequence      integer NOT NULL,
  desa_code     text    NOT NULL,
  regency_code  text    NOT NULL,
  province_code text    NOT NULL,
  event_type    text    NOT NULL,
  actor         text    NOT NULL,
  role          text    NOT NULL,
  request_id    text    NOT NULL,
  reason        text,
  summary       text    NOT NULL
) STRICT;
CREATE INDEX audit_trail_community ON audit_trail (community_id, position);
CREATE INDEX audit_trail_actor ON audit_trail (actor, position);

-- stage_transitions: every stage change; members keep the current stage and since when.
CREATE TABLE stage_transitions
(
  position         integer PRIMARY KEY,
  community_id     text    NOT NULL,
  desa_code        text    NOT NULL,
  regency_code     text    NOT NULL,
  province_code    text    NOT NULL,
  from_stage       text    NOT NULL,
  to_stage         text    NOT NULL,
  at               text    NOT NULL,
  days_in_previous integer NOT NULL,
  bimtek_before    integer NOT NULL,
  policy_version   text
) STRICT;

CREATE TABLE stage_transition_members
(
  community_id text    PRIMARY KEY,
  desa_code    text    NOT NULL,
  stage        text    NOT NULL,
  stage_since  text    NOT NULL,
  bimtek_count integer NOT NULL
) STRICT;

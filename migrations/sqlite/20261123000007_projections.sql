-- Read models and their checkpoints (rows and checkpoint are written in one transaction).
CREATE TABLE projection_checkpoints
(
  name           text    PRIMARY KEY,
  position       integer NOT NULL DEFAULT 0,
  events         integer NOT NULL DEFAULT 0,
  state          text    NOT NULL DEFAULT 'running',
  last_error     text,
  error_position integer,
  error_event    text,
  updated_at     text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE TABLE community_summary
(
  community_id     text    PRIMARY KEY,
  name             text    NOT NULL,
  desa_code        text    NOT NULL,
  desa_name        text    NOT NULL,
  kecamatan_code   text    NOT NULL,
  kecamatan_name   text    NOT NULL,
  regency_code     text    NOT NULL,
  regency_name     text    NOT NULL,
  province_code    text    NOT NULL,
  province_name    text    NOT NULL,
  stage            text    NOT NULL,
  status           text    NOT NULL,
  legal            integer NOT NULL,
  sk_number        text,
  sk_date          text,
  nomor_induk      text,
  member_count     integer NOT NULL,
  active_officers  integer NOT NULL,
  bimtek_count     integer NOT NULL,
  last_bimtek_on   text,
  media_channels   integer NOT NULL,
  e_businesses     integer NOT NULL,
  formed_on        text    NOT NULL,
  last_event_at    text    NOT NULL,
  version          integer NOT NULL,
  state            text    NOT NULL
) STRICT;
CREATE INDEX community_summary_region ON community_summary (desa_code, community_id);
CREATE INDEX community_summary_name ON community_summary (lower(name), community_id);

CREATE TABLE stage_dashboard
(
  region_code text    NOT NULL,
  level       text    NOT NULL,
  stage       text    NOT NULL,
  status      text    NOT NULL,
  legal       integer NOT NULL,
  count       integer NOT NULL,
  PRIMARY KEY (region_code, stage, status, legal)
) STRICT;

CREATE TABLE stage_dashboard_members
(
  community_id text    PRIMARY KEY,
  desa_code    text    NOT NULL,
  stage        text    NOT NULL,
  status       text    NOT NULL,
  legal        integer NOT NULL,
  state        text    NOT NULL
) STRICT;

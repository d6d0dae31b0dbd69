-- Read models (projections/) and their checkpoints. Each projection writes its rows and its
-- checkpoint in one transaction, so a crash never loses or doubles an update.
CREATE TABLE projection_checkpoints
(
    name           text        PRIMARY KEY,
    position       bigint      NOT NULL DEFAULT 0,
    events         bigint      NOT NULL DEFAULT 0,
    state          text        NOT NULL DEFAULT 'running',
    last_error     text,
    error_position bigint,
    error_event    text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- community_summary: one row per KIM (what is this KIM now?). `state` is the folded aggregate.
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
    legal            boolean NOT NULL,
    sk_number        text,
    sk_date          date,
    nomor_induk      text,
    member_count     integer NOT NULL,
    active_officers  integer NOT NULL,
    bimtek_count     integer NOT NULL,
    last_bimtek_on   date,
    media_channels   integer NOT NULL,
    e_businesses     integer NOT NULL,
    formed_on        date    NOT NULL,
    last_event_at    text    NOT NULL,
    version          bigint  NOT NULL,
    state            text    NOT NULL
);
CREATE INDEX community_summary_region ON community_summary (desa_code, community_id);
CREATE INDEX community_summary_name ON community_summary (lower(name), community_id);

-- stage_dashboard: counts per region (province, kabupaten/kota, kecamatan) × stage × status ×
-- legal, maintained by deltas; stage_dashboard_members remembers each KIM's current key.
CREATE TABLE stage_dashboard
(
    region_code text    NOT NULL,
    level       text    NOT NULL,
    stage       text    NOT NULL,
    status      text    NOT NULL,
    legal       boolean NOT NULL,
    count       bigint  NOT NULL,
    PRIMARY KEY (region_code, stage, status, legal)
);

CREATE TABLE stage_dashboard_members
(
    community_id text    PRIMARY KEY,
    desa_code    text    NOT NULL,
    stage        text    NOT NULL,
    status       text    NOT NULL,
    legal        boolean NOT NULL,
    state        text    NOT NULL
);

-- Wake projection runners when events are committed (LISTEN simpul_events).
CREATE FUNCTION simpul_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('simpul_events', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION simpul_notify_events();

-- community_history (docs/ledger.md, "As of"): each KIM's successive states with their validity
-- ranges in recording time. A row starts at the event that changed the name, stage, status,
-- legal standing, SK, nomor induk or member count (`valid_from`, that event's recorded_at) and
-- ends where the next one starts (`valid_to`, NULL while current); `changed` names what changed.
-- The dashboard and the list "as of" a date read the rows valid then. The times are RFC 3339 in UTC
-- with microseconds, so byte order is time order: COLLATE "C" compares them as bytes.
CREATE TABLE community_states
(
    community_id   text    NOT NULL,
    sequence       bigint  NOT NULL,
    position       bigint  NOT NULL,
    event_type     text    NOT NULL,
    valid_from     text    COLLATE "C" NOT NULL,
    valid_to       text    COLLATE "C",
    name           text    NOT NULL,
    desa_code      text    NOT NULL,
    district_code  text    NOT NULL,
    regency_code   text    NOT NULL,
    province_code  text    NOT NULL,
    stage          text    NOT NULL,
    status         text    NOT NULL,
    legal          boolean NOT NULL,
    sk_number      text,
    nomor_induk    text,
    member_count   integer NOT NULL,
    changed        text    NOT NULL,
    PRIMARY KEY (community_id, sequence)
);
CREATE INDEX community_states_province ON community_states (province_code, valid_from);
CREATE INDEX community_states_regency ON community_states (regency_code, valid_from);
CREATE INDEX community_states_from ON community_states (valid_from);

-- The folded state after each KIM's last event, and the sequence of its open row.
CREATE TABLE community_state_heads
(
    community_id  text   PRIMARY KEY,
    open_sequence bigint NOT NULL,
    state         text   NOT NULL
);

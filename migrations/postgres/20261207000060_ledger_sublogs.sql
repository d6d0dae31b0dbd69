-- Per-province sub-logs of the ledger (docs/ledger.md). Each leaf also gets its community's
-- province and a dense index within that province's sub-log. The `ledger` read model is rebuilt
-- from the log to fill them: it assigns the same ledger indexes and leaf hashes as before, since
-- both follow from the feed's order and the events alone.
DROP TABLE ledger_leaves;
CREATE TABLE ledger_leaves
(
  ledger_index   bigint PRIMARY KEY CHECK (ledger_index >= 0),
  position       bigint NOT NULL UNIQUE,
  leaf_hash      text   NOT NULL CHECK (length(leaf_hash) = 64),
  province       text   NOT NULL,
  province_index bigint NOT NULL CHECK (province_index >= 0)
);
CREATE UNIQUE INDEX ledger_leaves_province ON ledger_leaves (province, province_index);

-- Each community's province (from its CommunityFormed event), and each sub-log's size.
CREATE TABLE ledger_communities
(
  community_id text PRIMARY KEY,
  province     text NOT NULL
);
CREATE TABLE ledger_provinces
(
  province text   PRIMARY KEY,
  size     bigint NOT NULL CHECK (size > 0)
);

DELETE FROM projection_checkpoints WHERE name = 'ledger';

-- The sub-log table a checkpoint commits to ('' for checkpoints cut before sub-logs existed).
ALTER TABLE ledger_checkpoints ADD COLUMN sublogs text NOT NULL DEFAULT '';

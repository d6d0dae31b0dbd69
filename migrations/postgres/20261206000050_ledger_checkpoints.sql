-- Signed checkpoints of the ledger (docs/ledger.md): the tree head at a size, as the C2SP
-- signed note that was published, cut every N events or T seconds by `simpul serve`.
CREATE TABLE ledger_checkpoints
(
  tree_size bigint PRIMARY KEY CHECK (tree_size > 0),
  root_hash text NOT NULL CHECK (length(root_hash) = 64),
  note      text NOT NULL,
  signed_at text NOT NULL
);

-- The ledger (docs/ledger.md): every event's dense ledger index, assigned once in the feed's
-- commit order by the `ledger` read model, and its RFC 9162 leaf hash
-- (SHA-256 of 0x00 and the event's canonical bytes) in lower-case hex.
CREATE TABLE ledger_leaves
(
  ledger_index bigint PRIMARY KEY CHECK (ledger_index >= 0),
  position     bigint NOT NULL UNIQUE,
  leaf_hash    text NOT NULL CHECK (length(leaf_hash) = 64)
);

-- The feed's commit order, kept in the database's own tables and sequences: it survives pg_dump
-- and pg_restore into any cluster (a new cluster's transaction ids start again from the bottom),
-- and a reader waits for no transaction but event writers that are committing at that moment.
--
-- Every transaction that writes events is one *commit* of the feed:
--   * its rows carry `commit_batch`, a number drawn once per transaction from `feed_batches` (the
--     column's default), unique for ever: a restore brings the sequence along;
--   * at its commit (a deferred trigger, queued once per batch) it takes the feed's commit lock
--     *shared* (transaction advisory lock (3, 0), held until its commit is visible or undone),
--     draws the next `feed_commits.seq` and records (seq, batch). Committers do not wait for
--     each other.
--   * a reader first calls `simpul_feed_horizon()`: it takes the same lock *exclusively* for an
--     instant — waiting for the commits under way, a flush each — and returns the last seq drawn.
--     Every seq up to it is then visible or undone for good, and any later one will be higher.
--     The reader's next statement returns committed events with seq up to the horizon, in
--     (seq, position) order (`read_all.sql`).
-- What a reader has seen is final, and whatever commits later comes after it; no open
-- transaction — an import, an index build, a transaction in another database — holds a reader
-- back until it reaches its own commit.

CREATE SEQUENCE feed_batches AS bigint;
CREATE SEQUENCE feed_commit_seq AS bigint;

CREATE TABLE feed_commits (
    seq   bigint PRIMARY KEY,
    batch bigint NOT NULL UNIQUE
);

-- Events already stored: one commit per writing transaction, numbered in the order the feed
-- served them until now, (txid, position), so that every stored checkpoint keeps its place. The
-- ALTER waits for every transaction writing events to end, and holds them off until this
-- migration commits.
ALTER TABLE events ADD COLUMN commit_batch bigint;

WITH numbered AS (
    SELECT txid, row_number() OVER (ORDER BY txid) AS n
      FROM (SELECT DISTINCT txid FROM events) transactions
)
UPDATE events e SET commit_batch = numbered.n FROM numbered WHERE e.txid = numbered.txid;

INSERT INTO feed_commits (seq, batch)
SELECT DISTINCT commit_batch, commit_batch FROM events;

SELECT setval('feed_batches', COALESCE(max(batch), 0) + 1, false) FROM feed_commits;
SELECT setval('feed_commit_seq', COALESCE(max(seq), 0) + 1, false) FROM feed_commits;

-- The transaction's batch: drawn by its first event row, kept in a transaction-local setting
-- (reset at commit or rollback, and with a rolled-back savepoint).
CREATE FUNCTION simpul_feed_batch() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    batch text := current_setting('simpul.feed_batch', true);
BEGIN
    IF batch IS NULL OR batch = '' THEN
        batch := nextval('feed_batches')::text;
        PERFORM set_config('simpul.feed_batch', batch, true);
    END IF;
    RETURN batch::bigint;
END
$$;

-- True for the first row of each batch in a transaction: the commit trigger is queued once, not
-- once per row (a constraint trigger's WHEN is evaluated when the row is inserted).
CREATE FUNCTION simpul_feed_first_of_batch(batch bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('simpul.feed_queued', true) IS NOT DISTINCT FROM batch::text THEN
        RETURN false;
    END IF;
    PERFORM set_config('simpul.feed_queued', batch::text, true);
    RETURN true;
END
$$;

-- At commit: the commit lock (shared), then the next seq. Nothing after this in the transaction
-- waits on another lock, and a reader holding the lock exclusively waits for nothing, so holding
-- it through the commit cannot deadlock.
CREATE FUNCTION simpul_feed_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(3, 0);
    INSERT INTO feed_commits (seq, batch) VALUES (nextval('feed_commit_seq'), NEW.commit_batch)
        ON CONFLICT (batch) DO NOTHING;
    RETURN NULL;
END
$$;

-- A reader's horizon: once no commit is under way, the last seq drawn (0 before any). Call it in
-- a transaction of its own (a statement on its own), and read the feed in a later statement.
CREATE FUNCTION simpul_feed_horizon() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    horizon bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(3, 0);
    SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
      INTO horizon FROM feed_commit_seq;
    RETURN horizon;
END
$$;

ALTER TABLE events
    ALTER COLUMN commit_batch SET DEFAULT simpul_feed_batch(),
    ALTER COLUMN commit_batch SET NOT NULL;

CREATE CONSTRAINT TRIGGER events_feed_commit
    AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (simpul_feed_first_of_batch(NEW.commit_batch))
    EXECUTE FUNCTION simpul_feed_commit();

CREATE INDEX events_feed_order_by_commit ON events (commit_batch, position);
DROP INDEX events_feed_order;

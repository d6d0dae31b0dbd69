-- What the feed's commit order costs a reader (issue 13): the whole feed read in pages of 1000,
-- server side (no client decoding), with the feed's query before migration `…80_feed_commits`
-- ((txid, position) below the xmin horizon, one index range scan) and after it
-- (the horizon, then feed_commits × events(commit_batch, position), one index probe per commit).
-- 100,000 events in 20,000 commits of 5, as commands write them. Reproduce (`docs/benchmarks.md`):
--
--   createdb -h 127.0.0.1 -U postgres simpul_feed_read
--   for f in migrations/postgres/*.sql; do psql -h 127.0.0.1 -U postgres -d simpul_feed_read -q -f $f; done
--   psql -h 127.0.0.1 -U postgres -d simpul_feed_read -f benches/feed_read.sql
--   dropdb -h 127.0.0.1 -U postgres simpul_feed_read
SET synchronous_commit = off;
DO $$
BEGIN
  FOR i IN 1..20000 LOOP
    INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
    SELECT 'Community', 'k' || i, s, 'ActivityRecorded', '1.0',
           '{"title":"Sosialisasi program desa","held_on":"2025-01-01"}',
           '{"actor_id":"bench","actor_role":"pegiat","request_id":"r","recorded_at":"2025-01-01T00:00:00Z"}'
      FROM generate_series(1, 5) s;
    COMMIT;
  END LOOP;
END $$;
-- The index the old query ran on (dropped by the migration).
CREATE INDEX events_feed_order ON events (txid, position);
VACUUM ANALYZE events;
VACUUM ANALYZE feed_commits;

CREATE FUNCTION pg_temp.read_feed(kind text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  cur bigint := 0; got bigint; total bigint := 0; bytes bigint; ps bigint[]; h bigint;
  t0 timestamptz := clock_timestamp();
BEGIN
  LOOP
    IF kind = 'commit order' THEN
      h := simpul_feed_horizon();
      SELECT array_agg(position), count(*), sum(length(payload) + length(metadata))
        INTO ps, got, bytes FROM (
      WITH resume AS (
        SELECT COALESCE((SELECT c.seq FROM events e JOIN feed_commits c ON c.batch = e.commit_batch
                          WHERE e.position <= cur ORDER BY e.position DESC LIMIT 1), 0) AS seq)
      SELECT e.position, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type,
             e.event_version, e.payload::text AS payload, e.metadata::text AS metadata
        FROM resume,
             LATERAL (SELECT seq, batch FROM feed_commits
                       WHERE seq >= resume.seq AND seq <= h ORDER BY seq) c,
             LATERAL (SELECT * FROM events
                       WHERE (commit_batch, position)
                             > (c.batch, CASE WHEN c.seq = resume.seq THEN cur ELSE 0 END)
                         AND (commit_batch, position) <= (c.batch, 9223372036854775807)
                      ORDER BY commit_batch, position LIMIT 1000) e
       ORDER BY c.seq, e.position LIMIT 1000) q;
    ELSE
      SELECT array_agg(position), count(*), sum(length(payload) + length(metadata))
        INTO ps, got, bytes FROM (
      SELECT position, aggregate_type, aggregate_id, sequence, event_type, event_version,
             payload::text AS payload, metadata::text AS metadata
        FROM events
       WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
         AND (txid, position) > (COALESCE((SELECT txid FROM events WHERE position <= cur
                                            ORDER BY position DESC LIMIT 1), '0'::xid8), cur)
       ORDER BY txid, position LIMIT 1000) q;
    END IF;
    EXIT WHEN got = 0;
    total := total + got;
    cur := ps[array_length(ps, 1)];
  END LOOP;
  RETURN format('%s: %s events in %s ms', kind, total,
                round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000));
END $$;

SELECT pg_temp.read_feed(kind) FROM (VALUES ('txid'), ('commit order'), ('txid'), ('commit order'),
  ('txid'), ('commit order'), ('txid'), ('commit order'), ('txid'), ('commit order')) k(kind);

-- The global feed: committed events in commit order, (feed_commits.seq, position), up to the
-- horizon $3 that `SELECT simpul_feed_horizon()` returned in an earlier statement (migration
-- `…80_feed_commits`): every seq up to it is visible or undone for good, so nothing returned
-- here can be overtaken by an event still in flight, and no open transaction holds the reader
-- back. `after` is resumed from the row at that position (0: from the start): the rest of its
-- commit, then the commits after it, each by position (at most `limit` rows read from any one
-- commit, so a big commit is read a page at a time). A commit's rows are bounded by row
-- comparisons on (commit_batch, position) only, never `commit_batch = c.batch`: with the equality
-- the planner may walk the position index from the start of the log and filter by batch, which
-- made every page of a big commit (an import) re-read everything before it.
WITH resume AS (
    SELECT COALESCE((SELECT c.seq
                       FROM events e JOIN feed_commits c ON c.batch = e.commit_batch
                      WHERE e.position <= $1
                      ORDER BY e.position DESC
                      LIMIT 1), 0) AS seq
)
SELECT e.position, e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, e.event_version,
       e.payload::text AS payload, e.metadata::text AS metadata
  FROM resume,
       LATERAL (SELECT seq, batch FROM feed_commits
                 WHERE seq >= resume.seq AND seq <= $3 ORDER BY seq) c,
       LATERAL (SELECT * FROM events
                 WHERE (commit_batch, position)
                       > (c.batch, CASE WHEN c.seq = resume.seq THEN $1 ELSE 0 END)
                   AND (commit_batch, position) <= (c.batch, 9223372036854775807)
                 ORDER BY commit_batch, position
                 LIMIT $2) e
 ORDER BY c.seq, e.position
 LIMIT $2

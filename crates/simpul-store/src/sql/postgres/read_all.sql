-- The global feed: every committed event in commit order, (feed_commits.seq, position). Each
-- transaction that wrote events took its seq at commit under the feed's commit lock (migration
-- `…60_feed_commits`), so what a reader sees is a prefix of the seqs: an event still in flight
-- will commit with a higher seq than anything returned here, never behind it, and no open
-- transaction holds the reader back. `after` is resumed from the row at that position (0: from
-- the start): the rest of its commit, then the commits after it, each by position (at most
-- `limit` rows read from any one commit, so a big commit is read a page at a time).
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
       LATERAL (SELECT seq, batch FROM feed_commits WHERE seq >= resume.seq ORDER BY seq) c,
       LATERAL (SELECT * FROM events
                 WHERE commit_batch = c.batch
                   AND (commit_batch, position)
                       > (c.batch, CASE WHEN c.seq = resume.seq THEN $1 ELSE 0 END)
                 ORDER BY commit_batch, position
                 LIMIT $2) e
 ORDER BY c.seq, e.position
 LIMIT $2

-- Counts of the batch's keys that reached zero go, so a rebuild and the incremental tables agree.
DELETE FROM stage_dashboard
 WHERE count = 0
   AND (region_code, stage, status, legal) IN (
       SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[]))

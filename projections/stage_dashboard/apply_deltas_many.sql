-- Every count change of a batch in one statement (keys are unique: deltas are summed first).
INSERT INTO stage_dashboard (region_code, level, stage, status, legal, count)
SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::bigint[])
ON CONFLICT (region_code, stage, status, legal) DO UPDATE
   SET count = stage_dashboard.count + excluded.count

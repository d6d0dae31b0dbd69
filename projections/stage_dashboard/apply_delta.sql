INSERT INTO stage_dashboard (region_code, level, stage, status, legal, count)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (region_code, stage, status, legal) DO UPDATE
   SET count = stage_dashboard.count + excluded.count

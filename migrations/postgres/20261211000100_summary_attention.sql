-- community_summary gains what supervisors filter on to find the KIM that need attention
-- (docs/api.md, GET /communities): since when a KIM is in its stage (`stage_since`: the
-- formation date, then the `assessed_on` of the last stage change), the date of its last
-- activity (`last_activity_on`: the latest `held_on` of an activity or a bimtek; NULL: none yet)
-- and how many of the three core posts (ketua, sekretaris, bendahara) are vacant. All are the
-- events' own dates, never server time. The read model is emptied and rebuilt from the log.
DELETE FROM community_summary;
DELETE FROM projection_checkpoints WHERE name = 'community_summary';
ALTER TABLE community_summary ADD COLUMN stage_since date NOT NULL;
ALTER TABLE community_summary ADD COLUMN last_activity_on date;
ALTER TABLE community_summary ADD COLUMN vacant_posts integer NOT NULL;

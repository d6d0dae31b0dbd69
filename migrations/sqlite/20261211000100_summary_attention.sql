-- community_summary gains stage_since, last_activity_on and vacant_posts: as the PostgreSQL
-- migration of the same name. SQLite adds a NOT NULL column only with a default; the table is
-- emptied first and every row written from now on carries real values.
DELETE FROM community_summary;
DELETE FROM projection_checkpoints WHERE name = 'community_summary';
ALTER TABLE community_summary ADD COLUMN stage_since text NOT NULL DEFAULT '';
ALTER TABLE community_summary ADD COLUMN last_activity_on text;
ALTER TABLE community_summary ADD COLUMN vacant_posts integer NOT NULL DEFAULT 0;

-- A global position. SQLite has one writer at a time, so positions assigned inside the write
-- transaction are already in commit order. (rowid is not used: VACUUM may renumber it.)
ALTER TABLE events ADD COLUMN position integer;
CREATE UNIQUE INDEX events_position ON events (position);

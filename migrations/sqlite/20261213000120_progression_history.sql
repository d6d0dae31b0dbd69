-- The bimtek effect (issue 15) reads every KIM's stage changes and bimtek dates. They are now kept
-- in the KIM's own stage_transition_members row, so one indexed scan of one row per KIM serves it
-- instead of three reads joined in memory: `stage_changes` holds `<assessed_on>:<from>:<to>` per
-- change (stages by number), `bimtek_dates` every bimtek's `held_on`, each space-separated in
-- log order (projections/stage_transitions/history.rs). stage_transition_bimtek is no longer
-- needed. The read model is emptied and rebuilt from the log.
DELETE FROM stage_transitions;
DELETE FROM stage_transition_members;
DELETE FROM projection_checkpoints WHERE name = 'stage_transitions';
DROP TABLE stage_transition_bimtek;
ALTER TABLE stage_transition_members ADD COLUMN stage_changes text NOT NULL DEFAULT '';
ALTER TABLE stage_transition_members ADD COLUMN bimtek_dates text NOT NULL DEFAULT '';

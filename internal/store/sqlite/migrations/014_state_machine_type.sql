-- A state machine's type as the Step Functions API names it (STANDARD,
-- EXPRESS), fixed when it is created; '' for those recorded before,
-- which are STANDARD.
ALTER TABLE state_machines ADD COLUMN type TEXT NOT NULL DEFAULT '';

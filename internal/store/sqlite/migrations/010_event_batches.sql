-- Workflow history events appended from this version on: one row per run
-- of consecutive event IDs of one execution committed together (a batch
-- of the interpreter's group commit), first_id to last_id, every ID in
-- between present. events holds the run's events one after the other,
-- compressed (see workflow_batch.go): a batch of 50 events costs one row
-- and one index entry, where workflow_events took 50 rows, each a B-tree
-- insert.
-- workflow_events keeps the events written before; a history is both
-- tables merged in ID order, and an ID is in at most one row of either.
-- A rowid table: its rows are large (kilobytes), which a table without
-- rowid stores badly.
CREATE TABLE workflow_event_batches (
	execution_id INTEGER NOT NULL REFERENCES workflow_executions(id),
	first_id     INTEGER NOT NULL,
	last_id      INTEGER NOT NULL,
	events       BLOB NOT NULL
);
CREATE UNIQUE INDEX workflow_event_batches_first ON workflow_event_batches(execution_id, first_id);

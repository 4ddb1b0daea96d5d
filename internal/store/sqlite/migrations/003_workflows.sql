-- Workflow executions: one row per execution of a state machine. status
-- is PENDING while the execution waits for a slot of its concurrency key,
-- then RUNNING, then one of the final statuses. queue orders the waiting
-- executions of a key (first started, first run); a redrive queues again.
-- lock is the file the owning process holds while it runs the execution.
CREATE TABLE workflow_executions (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	arn               TEXT NOT NULL UNIQUE,
	name              TEXT NOT NULL,
	state_machine     TEXT NOT NULL,
	definition        BLOB NOT NULL,
	input             BLOB NOT NULL,
	status            TEXT NOT NULL,
	output            BLOB,
	error             TEXT NOT NULL DEFAULT '',
	cause             TEXT NOT NULL DEFAULT '',
	concurrency_key   TEXT NOT NULL DEFAULT '',
	concurrency_limit INTEGER NOT NULL DEFAULT 1,
	queue             INTEGER NOT NULL,
	parent            TEXT NOT NULL DEFAULT '',
	lock              TEXT NOT NULL DEFAULT '',
	options           BLOB NOT NULL,
	stop_requested    INTEGER NOT NULL DEFAULT 0,
	stop_error        TEXT NOT NULL DEFAULT '',
	stop_cause        TEXT NOT NULL DEFAULT '',
	redrive_count     INTEGER NOT NULL DEFAULT 0,
	created           INTEGER NOT NULL,
	started           INTEGER NOT NULL DEFAULT 0,
	stopped           INTEGER NOT NULL DEFAULT 0,
	redriven          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workflow_executions_live ON workflow_executions(status) WHERE status IN ('PENDING', 'RUNNING');
CREATE INDEX workflow_executions_key ON workflow_executions(concurrency_key, status, queue) WHERE concurrency_key != '';
CREATE INDEX workflow_executions_parent ON workflow_executions(parent) WHERE parent != '';
CREATE INDEX workflow_executions_name ON workflow_executions(name);

-- An execution's history, in order. body is the whole event as the
-- interpreter wrote it (JSON); type and at are copies for queries.
CREATE TABLE workflow_events (
	execution_id INTEGER NOT NULL REFERENCES workflow_executions(id),
	id           INTEGER NOT NULL,
	type         TEXT NOT NULL,
	at           INTEGER NOT NULL,
	body         BLOB NOT NULL,
	PRIMARY KEY (execution_id, id)
) WITHOUT ROWID;

-- Task tokens of .waitForTaskToken tasks and how they were completed
-- (by `velocity workflow task success|failure`, from any process).
CREATE TABLE workflow_task_tokens (
	token        TEXT PRIMARY KEY,
	execution_id INTEGER NOT NULL REFERENCES workflow_executions(id),
	state        TEXT NOT NULL,
	status       TEXT NOT NULL,
	output       BLOB,
	error        TEXT NOT NULL DEFAULT '',
	cause        TEXT NOT NULL DEFAULT '',
	heartbeat    INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
);
CREATE INDEX workflow_task_tokens_execution ON workflow_task_tokens(execution_id);

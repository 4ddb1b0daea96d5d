-- The whole journal as the SQLite store had it at its sixteenth migration,
-- in one step: PostgreSQL starts from there. Times are Unix nanoseconds
-- (bigint, 0 for never) as in SQLite, so that both stores give back the
-- caller's time to the nanosecond, which timestamptz (microseconds) would
-- not.

CREATE TABLE runs (
	id          bigserial PRIMARY KEY,
	project     text NOT NULL,
	dir         text NOT NULL,
	commit_sha  text NOT NULL,
	branch      text NOT NULL,
	dirty       boolean NOT NULL,
	status      text NOT NULL,
	reason      text NOT NULL DEFAULT '',
	lock        text NOT NULL,
	workspace   text NOT NULL DEFAULT '',
	created     bigint NOT NULL,
	finished    bigint NOT NULL DEFAULT 0,
	-- What a partial run was asked to run: JSON {"version":1,"only":[…],
	-- "skip":[…]}, '' for a whole run.
	selection   text NOT NULL DEFAULT '',
	trigger     text NOT NULL DEFAULT '',
	commit_time bigint NOT NULL DEFAULT 0
);
CREATE INDEX runs_project ON runs (project, id);
CREATE INDEX runs_live ON runs (status) WHERE status IN ('pending', 'running');

CREATE TABLE actions (
	run_id        bigint NOT NULL REFERENCES runs (id),
	seq           integer NOT NULL,
	stage_index   integer NOT NULL,
	stage         text NOT NULL,
	name          text NOT NULL,
	kind          text NOT NULL,
	needs         text NOT NULL,
	status        text NOT NULL,
	allow_failure boolean NOT NULL DEFAULT false,
	exit_code     integer NOT NULL DEFAULT 0,
	attempts      integer NOT NULL DEFAULT 0,
	reason        text NOT NULL DEFAULT '',
	started       bigint NOT NULL DEFAULT 0,
	finished      bigint NOT NULL DEFAULT 0,
	cache_key     text NOT NULL DEFAULT '',
	cached_from   bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, stage, name)
);
-- Finding the last successful execution of an action of a project.
CREATE INDEX actions_by_name ON actions (stage, name, run_id);

CREATE TABLE attempts (
	run_id        bigint NOT NULL REFERENCES runs (id),
	stage         text NOT NULL,
	action        text NOT NULL,
	n             integer NOT NULL,
	status        text NOT NULL,
	exit_code     integer NOT NULL DEFAULT 0,
	reason        text NOT NULL DEFAULT '',
	log           text NOT NULL,
	started       bigint NOT NULL,
	finished      bigint NOT NULL DEFAULT 0,
	cache_key     text NOT NULL DEFAULT '',
	cached_from   bigint NOT NULL DEFAULT 0,
	-- final and allow_failure say how an attempt's end changes its action.
	final         boolean NOT NULL DEFAULT false,
	allow_failure boolean NOT NULL DEFAULT false,
	-- What went into the attempt's result-cache key (the engine's JSON
	-- document); NULL when no key was computed.
	key_parts     bytea,
	PRIMARY KEY (run_id, stage, action, n)
);

-- Files an action produced, stored content-addressed in the blob store.
CREATE TABLE outputs (
	run_id  bigint NOT NULL REFERENCES runs (id),
	stage   text NOT NULL,
	action  text NOT NULL,
	path    text NOT NULL,
	mode    bigint NOT NULL,
	size    bigint NOT NULL,
	digest  text NOT NULL,
	link    text NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, stage, action, path)
);

-- The result cache: an action's key -> the run whose result it can reuse.
CREATE TABLE results (
	key      text PRIMARY KEY,
	run_id   bigint NOT NULL,
	stage    text NOT NULL,
	action   text NOT NULL,
	log      text NOT NULL,
	created  bigint NOT NULL,
	used     bigint NOT NULL
);

-- Dependency caches; the newest entry of a scope is the fall-back when no
-- key matches.
CREATE TABLE dep_caches (
	scope    text NOT NULL,
	key      text NOT NULL,
	digest   text NOT NULL,
	size     bigint NOT NULL,
	created  bigint NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX dep_caches_newest ON dep_caches (scope, created);

-- Manual approvals of stages.
CREATE TABLE approvals (
	run_id   bigint NOT NULL REFERENCES runs (id),
	stage    text NOT NULL,
	status   text NOT NULL,
	by       text NOT NULL DEFAULT '',
	at       bigint NOT NULL,
	PRIMARY KEY (run_id, stage)
);

-- One row per deploy of a release; a rollback adds a row of the release
-- it puts back. files is JSON with a format version.
CREATE TABLE deployments (
	id          bigserial PRIMARY KEY,
	environment text NOT NULL,
	service     text NOT NULL,
	release     text NOT NULL,
	run_id      bigint NOT NULL,
	commit_sha  text NOT NULL DEFAULT '',
	status      text NOT NULL,
	reason      text NOT NULL DEFAULT '',
	rollback    boolean NOT NULL DEFAULT false,
	definition  bytea NOT NULL,
	files       text NOT NULL,
	created     bigint NOT NULL,
	updated     bigint NOT NULL
);
CREATE INDEX deployments_service ON deployments (environment, service, id);
-- At most one live deployment per environment and service.
CREATE UNIQUE INDEX deployments_live ON deployments (environment, service) WHERE status = 'live';
CREATE INDEX deployments_deploying ON deployments (status) WHERE status = 'deploying';

-- Workflow executions. queue orders the waiting executions of a
-- concurrency key (first started, first run); a redrive queues again. A
-- sequence hands out queue places: concurrent inserts never share one.
CREATE SEQUENCE workflow_queue;
CREATE TABLE workflow_executions (
	id                bigserial PRIMARY KEY,
	arn               text NOT NULL UNIQUE,
	name              text NOT NULL,
	state_machine     text NOT NULL,
	definition        bytea NOT NULL,
	input             bytea NOT NULL,
	status            text NOT NULL,
	output            bytea,
	error             text NOT NULL DEFAULT '',
	cause             text NOT NULL DEFAULT '',
	concurrency_key   text NOT NULL DEFAULT '',
	concurrency_limit integer NOT NULL DEFAULT 1,
	queue             bigint NOT NULL DEFAULT nextval('workflow_queue'),
	parent            text NOT NULL DEFAULT '',
	lock              text NOT NULL DEFAULT '',
	options           bytea NOT NULL,
	stop_requested    boolean NOT NULL DEFAULT false,
	stop_error        text NOT NULL DEFAULT '',
	stop_cause        text NOT NULL DEFAULT '',
	redrive_count     integer NOT NULL DEFAULT 0,
	created           bigint NOT NULL,
	started           bigint NOT NULL DEFAULT 0,
	stopped           bigint NOT NULL DEFAULT 0,
	redriven          bigint NOT NULL DEFAULT 0
);
ALTER SEQUENCE workflow_queue OWNED BY workflow_executions.queue;
CREATE INDEX workflow_executions_live ON workflow_executions (status) WHERE status IN ('PENDING', 'RUNNING');
CREATE INDEX workflow_executions_key ON workflow_executions (concurrency_key, status, queue) WHERE concurrency_key != '';
CREATE INDEX workflow_executions_parent ON workflow_executions (parent) WHERE parent != '';
CREATE INDEX workflow_executions_name ON workflow_executions (name);

-- An execution's history, one row per event. body is the whole event as
-- the interpreter wrote it (JSON); type and at are copies for queries.
CREATE TABLE workflow_events (
	execution_id bigint NOT NULL REFERENCES workflow_executions (id),
	id           bigint NOT NULL,
	type         text NOT NULL,
	at           bigint NOT NULL,
	body         bytea NOT NULL,
	PRIMARY KEY (execution_id, id)
);

-- Task tokens of .waitForTaskToken tasks and how they were completed.
CREATE TABLE workflow_task_tokens (
	token        text PRIMARY KEY,
	execution_id bigint NOT NULL REFERENCES workflow_executions (id),
	state        text NOT NULL,
	status       text NOT NULL,
	output       bytea,
	error        text NOT NULL DEFAULT '',
	cause        text NOT NULL DEFAULT '',
	heartbeat    bigint NOT NULL DEFAULT 0,
	created      bigint NOT NULL,
	updated      bigint NOT NULL
);
CREATE INDEX workflow_task_tokens_execution ON workflow_task_tokens (execution_id);

-- Who owns something live (a run, a workflow execution) and until when.
CREATE TABLE leases (
	name    text PRIMARY KEY,
	holder  text NOT NULL,
	expires bigint NOT NULL
);

-- API tokens: the SHA-256 of each secret, never the secret.
CREATE TABLE tokens (
	name      text PRIMARY KEY,
	role      text NOT NULL,
	hash      bytea NOT NULL,
	created   bigint NOT NULL,
	last_used bigint NOT NULL DEFAULT 0,
	revoked   bigint NOT NULL DEFAULT 0
);

-- Webhook deliveries each project received, by the provider's delivery id.
CREATE TABLE deliveries (
	project  text NOT NULL,
	id       text NOT NULL,
	received bigint NOT NULL,
	PRIMARY KEY (project, id)
);

-- State machines registered through the Step Functions API, by ARN; type
-- is '' for STANDARD.
CREATE TABLE state_machines (
	arn        text PRIMARY KEY,
	name       text NOT NULL,
	definition bytea NOT NULL,
	role_arn   text NOT NULL,
	type       text NOT NULL DEFAULT '',
	created    bigint NOT NULL,
	updated    bigint NOT NULL
);

-- The due time each schedule of each project last fired at.
CREATE TABLE schedule_fires (
	project  text NOT NULL,
	schedule text NOT NULL,
	due      bigint NOT NULL,
	PRIMARY KEY (project, schedule)
);

-- A team server's projects; poll is nanoseconds. The webhook secret and
-- the alert webhook are sealed by the projects service.
CREATE TABLE projects (
	name           text PRIMARY KEY,
	repo           text NOT NULL,
	branch         text NOT NULL,
	poll           bigint NOT NULL DEFAULT 0,
	mode           text NOT NULL,
	webhook_secret bytea,
	created        bigint NOT NULL,
	head           text NOT NULL DEFAULT '',
	alert_webhook  bytea
);

-- Projects' queues: state is waiting, started, superseded or failed; run
-- is 0 until a started request's run is recorded.
CREATE TABLE requests (
	id         bigserial PRIMARY KEY,
	project    text NOT NULL,
	commit_sha text NOT NULL,
	branch     text NOT NULL,
	trigger    text NOT NULL,
	state      text NOT NULL,
	run        bigint NOT NULL DEFAULT 0,
	reason     text NOT NULL DEFAULT '',
	received   bigint NOT NULL,
	updated    bigint NOT NULL
);
CREATE INDEX requests_by_project_state ON requests (project, state, id);

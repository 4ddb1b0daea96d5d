-- One row per deploy of a release; a rollback adds a row of the release
-- it puts back. definition and files (JSON) are what a restart or a
-- rollback needs to deploy the release again.
CREATE TABLE deployments (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	environment TEXT NOT NULL,
	service     TEXT NOT NULL,
	release     TEXT NOT NULL,
	run_id      INTEGER NOT NULL,
	commit_sha  TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	rollback    INTEGER NOT NULL DEFAULT 0,
	definition  BLOB NOT NULL,
	files       TEXT NOT NULL,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL
);
CREATE INDEX deployments_service ON deployments(environment, service, id);
-- At most one live deployment per environment and service.
CREATE UNIQUE INDEX deployments_live ON deployments(environment, service) WHERE status = 'live';
CREATE INDEX deployments_deploying ON deployments(status) WHERE status = 'deploying';

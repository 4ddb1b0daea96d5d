-- A team server's projects and their queues of requests, and who or what
-- started each run. Times are Unix nanoseconds, 0 for never; poll is
-- nanoseconds too. The webhook secret is read back only by the server.
ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT '';

CREATE TABLE projects (
	name           TEXT PRIMARY KEY,
	repo           TEXT NOT NULL,
	branch         TEXT NOT NULL,
	poll           INTEGER NOT NULL DEFAULT 0,
	mode           TEXT NOT NULL,
	webhook_secret BLOB,
	created        INTEGER NOT NULL,
	head           TEXT NOT NULL DEFAULT ''
);

-- State is waiting, started, superseded or failed; run is 0 until a
-- started request's run is recorded.
CREATE TABLE requests (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	project  TEXT NOT NULL,
	commit_sha TEXT NOT NULL,
	branch   TEXT NOT NULL,
	trigger  TEXT NOT NULL,
	state    TEXT NOT NULL,
	run      INTEGER NOT NULL DEFAULT 0,
	reason   TEXT NOT NULL DEFAULT '',
	received INTEGER NOT NULL,
	updated  INTEGER NOT NULL
);
CREATE INDEX requests_by_project_state ON requests (project, state, id);

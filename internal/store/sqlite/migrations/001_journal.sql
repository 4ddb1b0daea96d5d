CREATE TABLE runs (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	project   TEXT NOT NULL,
	dir       TEXT NOT NULL,
	commit_sha TEXT NOT NULL,
	branch    TEXT NOT NULL,
	dirty     INTEGER NOT NULL,
	status    TEXT NOT NULL,
	reason    TEXT NOT NULL DEFAULT '',
	lock      TEXT NOT NULL,
	created   INTEGER NOT NULL,
	finished  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_project ON runs(project, id);
CREATE INDEX runs_live ON runs(status) WHERE status IN ('pending', 'running');

CREATE TABLE actions (
	run_id      INTEGER NOT NULL REFERENCES runs(id),
	seq         INTEGER NOT NULL,
	stage_index INTEGER NOT NULL,
	stage       TEXT NOT NULL,
	name        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	needs       TEXT NOT NULL,
	status      TEXT NOT NULL,
	allow_failure INTEGER NOT NULL DEFAULT 0,
	exit_code   INTEGER NOT NULL DEFAULT 0,
	attempts    INTEGER NOT NULL DEFAULT 0,
	reason      TEXT NOT NULL DEFAULT '',
	started     INTEGER NOT NULL DEFAULT 0,
	finished    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, stage, name)
);

CREATE TABLE attempts (
	run_id    INTEGER NOT NULL REFERENCES runs(id),
	stage     TEXT NOT NULL,
	action    TEXT NOT NULL,
	n         INTEGER NOT NULL,
	status    TEXT NOT NULL,
	exit_code INTEGER NOT NULL DEFAULT 0,
	reason    TEXT NOT NULL DEFAULT '',
	log       TEXT NOT NULL,
	started   INTEGER NOT NULL,
	finished  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, stage, action, n)
);

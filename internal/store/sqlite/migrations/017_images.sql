-- Container images built by build actions: one per action of a run.
-- tags and pushed are JSON arrays of strings.
CREATE TABLE images (
	run_id  INTEGER NOT NULL REFERENCES runs(id),
	stage   TEXT NOT NULL,
	action  TEXT NOT NULL,
	id      TEXT NOT NULL,
	tags    TEXT NOT NULL DEFAULT '[]',
	pushed  TEXT NOT NULL DEFAULT '[]',
	PRIMARY KEY (run_id, stage, action)
);

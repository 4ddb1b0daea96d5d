-- Container images built by build actions: one per action of a run.
-- tags and pushed are JSON arrays of strings.
CREATE TABLE images (
	run_id  bigint NOT NULL REFERENCES runs (id),
	stage   text NOT NULL,
	action  text NOT NULL,
	id      text NOT NULL,
	tags    text NOT NULL DEFAULT '[]',
	pushed  text NOT NULL DEFAULT '[]',
	PRIMARY KEY (run_id, stage, action)
);

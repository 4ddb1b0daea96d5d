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
	cache_key   TEXT NOT NULL DEFAULT '',
	cached_from INTEGER NOT NULL DEFAULT 0,
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
	cache_key   TEXT NOT NULL DEFAULT '',
	cached_from INTEGER NOT NULL DEFAULT 0,
	-- final and allow_failure say how an attempt's end changes its action.
	final     INTEGER NOT NULL DEFAULT 0,
	allow_failure INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, stage, action, n)
);

-- The action follows its attempts inside the statement that records the
-- attempt, so each state change is one statement and one commit: the
-- journal's cost per action halves compared with explicit transactions.
CREATE TRIGGER attempt_started AFTER INSERT ON attempts
BEGIN
	UPDATE actions SET status = 'running', attempts = NEW.n,
		started = CASE WHEN started = 0 THEN NEW.started ELSE started END
	WHERE run_id = NEW.run_id AND stage = NEW.stage AND name = NEW.action;
	SELECT RAISE(ABORT, 'no such action') WHERE changes() = 0;
END;

CREATE TRIGGER attempt_finished AFTER UPDATE OF status ON attempts WHEN NEW.final = 1
BEGIN
	UPDATE actions SET status = NEW.status, exit_code = NEW.exit_code, reason = NEW.reason,
		finished = NEW.finished, allow_failure = NEW.allow_failure,
		cache_key = NEW.cache_key, cached_from = NEW.cached_from
	WHERE run_id = NEW.run_id AND stage = NEW.stage AND name = NEW.action;
END;

-- Files an action produced, stored content-addressed in the blob store.
CREATE TABLE outputs (
	run_id  INTEGER NOT NULL REFERENCES runs(id),
	stage   TEXT NOT NULL,
	action  TEXT NOT NULL,
	path    TEXT NOT NULL,
	mode    INTEGER NOT NULL,
	size    INTEGER NOT NULL,
	digest  TEXT NOT NULL,
	link    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, stage, action, path)
);

-- The result cache: an action's key -> the run whose result it can reuse.
CREATE TABLE results (
	key      TEXT PRIMARY KEY,
	run_id   INTEGER NOT NULL,
	stage    TEXT NOT NULL,
	action   TEXT NOT NULL,
	log      TEXT NOT NULL,
	created  INTEGER NOT NULL,
	used     INTEGER NOT NULL
);

-- Dependency caches: scope names the project/stage/action and its paths;
-- key hashes the cache_key files. The newest entry of a scope is the
-- fall-back when no key matches.
CREATE TABLE dep_caches (
	scope    TEXT NOT NULL,
	key      TEXT NOT NULL,
	digest   TEXT NOT NULL,
	size     INTEGER NOT NULL,
	created  INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
);
CREATE INDEX dep_caches_newest ON dep_caches(scope, created);

-- Manual approvals of stages: requested when the stage is reached,
-- decided by `velocity approve` (or the prompt of the run's terminal).
CREATE TABLE approvals (
	run_id   INTEGER NOT NULL REFERENCES runs(id),
	stage    TEXT NOT NULL,
	status   TEXT NOT NULL,
	by       TEXT NOT NULL DEFAULT '',
	at       INTEGER NOT NULL,
	PRIMARY KEY (run_id, stage)
);

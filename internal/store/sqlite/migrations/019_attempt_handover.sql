-- One statement that records the end of an attempt and the start of the
-- next, so that the engine running a chain of actions commits once per
-- action instead of twice (a commit writes each page it changed to the
-- WAL, and the two statements change the same pages). Inserting into
-- the view runs both statements of the journal, with their triggers.
CREATE VIEW attempt_handovers AS SELECT
	status AS end_status, exit_code AS end_exit_code, reason AS end_reason, finished AS end_finished,
	final AS end_final, allow_failure AS end_allow_failure, cache_key AS end_cache_key,
	cached_from AS end_cached_from, key_parts AS end_key_parts,
	run_id AS end_run_id, stage AS end_stage, action AS end_action, n AS end_n,
	run_id, stage, action, n, status, log, started
FROM attempts WHERE 0;

CREATE TRIGGER attempt_handover INSTEAD OF INSERT ON attempt_handovers
BEGIN
	UPDATE attempts SET status = NEW.end_status, exit_code = NEW.end_exit_code, reason = NEW.end_reason,
		finished = NEW.end_finished, final = NEW.end_final, allow_failure = NEW.end_allow_failure,
		cache_key = NEW.end_cache_key, cached_from = NEW.end_cached_from, key_parts = NEW.end_key_parts
	WHERE run_id = NEW.end_run_id AND stage = NEW.end_stage AND action = NEW.end_action AND n = NEW.end_n;
	SELECT RAISE(ABORT, 'no such attempt') WHERE changes() = 0;
	INSERT INTO attempts (run_id, stage, action, n, status, log, started)
	VALUES (NEW.run_id, NEW.stage, NEW.action, NEW.n, NEW.status, NEW.log, NEW.started);
END;

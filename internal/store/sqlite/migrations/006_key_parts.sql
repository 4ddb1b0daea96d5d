-- What went into an attempt's result-cache key (a JSON document the engine
-- writes, with its own format version), so that `velocity explain` and the
-- console can say why a later run missed the cache. NULL for attempts
-- recorded before this column existed or that computed no key.
ALTER TABLE attempts ADD COLUMN key_parts BLOB;

-- Finding the last successful execution of an action of a project. Not
-- partial on status: an index that every status change moves an action in
-- or out of costs a write on each action's hot path.
CREATE INDEX actions_by_name ON actions(stage, name, run_id);

-- The committer date of each run's commit (Unix nanoseconds, 0 outside
-- git or for runs recorded before it was kept): lead time for changes
-- counts from it.
ALTER TABLE runs ADD COLUMN commit_time INTEGER NOT NULL DEFAULT 0;

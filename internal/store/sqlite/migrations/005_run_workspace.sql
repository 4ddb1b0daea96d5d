-- The directory a run worked in. Workspaces are kept after a run and
-- reused by the project's next one, so the path in tool output can be
-- looked up; '' for runs from before workspaces were kept.
ALTER TABLE runs ADD COLUMN workspace TEXT NOT NULL DEFAULT '';

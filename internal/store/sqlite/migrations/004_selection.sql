-- What a partial run (velocity run NAME…, --only, --skip) was asked to
-- run: JSON {"version":1,"only":[…],"skip":[…]}, '' for a whole run.
ALTER TABLE runs ADD COLUMN selection TEXT NOT NULL DEFAULT '';

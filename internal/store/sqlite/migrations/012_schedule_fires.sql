-- The due time each schedule of each project last fired at, so that a
-- server back from downtime runs a missed schedule once and several
-- servers on one database fire each due time once. Due is Unix
-- nanoseconds.
CREATE TABLE schedule_fires (
	project  TEXT NOT NULL,
	schedule TEXT NOT NULL,
	due      INTEGER NOT NULL,
	PRIMARY KEY (project, schedule)
);

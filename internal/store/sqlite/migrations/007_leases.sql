-- Who owns something live (a run, a workflow execution) and until when:
-- the holder renews its lease while it works, and a lease that has expired
-- may be taken over. Times are Unix nanoseconds.
CREATE TABLE leases (
	name    TEXT PRIMARY KEY,
	holder  TEXT NOT NULL,
	expires INTEGER NOT NULL
);

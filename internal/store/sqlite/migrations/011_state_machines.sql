-- State machines registered through the Step Functions API, by ARN.
-- Created and updated are Unix nanoseconds.
CREATE TABLE state_machines (
	arn        TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	definition BLOB NOT NULL,
	role_arn   TEXT NOT NULL,
	created    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
);

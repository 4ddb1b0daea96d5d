-- API tokens: the SHA-256 of each secret, never the secret. A revoked
-- token stays (its name shows in the list as revoked) until a new token
-- takes its name. Times are Unix nanoseconds, 0 for never.
CREATE TABLE tokens (
	name      TEXT PRIMARY KEY,
	role      TEXT NOT NULL,
	hash      BLOB NOT NULL,
	created   INTEGER NOT NULL,
	last_used INTEGER NOT NULL DEFAULT 0,
	revoked   INTEGER NOT NULL DEFAULT 0
);

-- The velocity serve nodes sharing the journal, each as it last reported
-- itself. runs is a JSON array of run IDs.
CREATE TABLE nodes (
	id      TEXT PRIMARY KEY,
	addr    TEXT NOT NULL,
	started INTEGER NOT NULL,
	seen    INTEGER NOT NULL,
	ttl     INTEGER NOT NULL,
	runs    TEXT NOT NULL DEFAULT '[]',
	actions INTEGER NOT NULL DEFAULT 0
);

-- The velocity serve nodes sharing the journal, each as it last reported
-- itself. runs is a JSON array of run IDs.
CREATE TABLE nodes (
	id      text PRIMARY KEY,
	addr    text NOT NULL,
	started bigint NOT NULL,
	seen    bigint NOT NULL,
	ttl     bigint NOT NULL,
	runs    text NOT NULL DEFAULT '[]',
	actions bigint NOT NULL DEFAULT 0
);

-- Webhook deliveries each project received, by the provider's delivery id,
-- so that a redelivered webhook starts no second run. Received is Unix
-- nanoseconds.
CREATE TABLE deliveries (
	project  TEXT NOT NULL,
	id       TEXT NOT NULL,
	received INTEGER NOT NULL,
	PRIMARY KEY (project, id)
);

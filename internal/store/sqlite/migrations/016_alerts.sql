-- A project's alert webhook: where failed runs of its branch, failed
-- deploys and rollbacks are posted. Sealed like the webhook secret (a
-- Slack webhook URL is a credential); NULL for none.
ALTER TABLE projects ADD COLUMN alert_webhook BLOB;

-- Keyed event hashes: version 2 events are HMAC-SHA256 under an audit key kept outside the database (its id in
-- hash_key); version 1 events (written before) keep verifying under the plain SHA-256 rule.
ALTER TABLE audit_events ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN hash_key TEXT;

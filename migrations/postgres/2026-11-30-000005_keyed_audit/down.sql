ALTER TABLE audit_events DROP COLUMN hash_key;
ALTER TABLE audit_events DROP COLUMN hash_version;

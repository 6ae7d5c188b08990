DROP TABLE webhook_dead_letters;
DROP TABLE webhook_state;
DROP INDEX events_reference;
DROP TABLE events;
ALTER TABLE audit_head DROP COLUMN event_seq;

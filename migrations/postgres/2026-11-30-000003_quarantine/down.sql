DROP TABLE mapping_versions;
DROP INDEX audit_events_requester;
DROP INDEX quarantine_subject;
DROP INDEX quarantine_requester;
DROP INDEX quarantine_received;
DROP TABLE quarantine;

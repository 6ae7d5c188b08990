DROP TABLE audit_head;
DROP TABLE audit_checkpoints;
DROP TABLE audit_events;
DROP TABLE reviews;
DROP TABLE submission_images;
DROP TABLE submissions;

DROP INDEX submissions_requester;
ALTER TABLE submissions ADD CONSTRAINT submissions_requester_id_key UNIQUE (requester_id);

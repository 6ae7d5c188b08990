-- Idempotency is per upstream client: two clients may use the same requester_id without one answering 409
-- to the other. Rows pushed without authentication (client_id NULL) share one scope.
ALTER TABLE submissions DROP CONSTRAINT submissions_requester_id_key;
CREATE UNIQUE INDEX submissions_requester ON submissions (requester_id, COALESCE(client_id, ''));

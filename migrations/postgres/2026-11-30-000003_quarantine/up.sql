-- Refused submissions of authenticated callers, kept sealed so that a mistake (a missing mapping, a rotated key)
-- can be replayed once fixed. The body is the request body as received (still encrypted when the upstream
-- encrypts), sealed again under the data key and bound to the entry's id; it is removed once replayed.
CREATE TABLE quarantine (
    id                 TEXT PRIMARY KEY NOT NULL,
    received_at        TIMESTAMP NOT NULL,
    client_id          TEXT NOT NULL,
    error_code         TEXT NOT NULL,
    error_message      TEXT NOT NULL,
    status_code        INTEGER NOT NULL,
    body_bytes         BIGINT NOT NULL,
    body_sha256        TEXT NOT NULL,
    key_label          TEXT,
    requester_id       TEXT,
    -- The subject's keyed pseudonym (the one erasure writes), never the user id itself.
    subject            TEXT,
    key_id             TEXT,
    nonce              BYTEA,
    ciphertext         BYTEA,
    state              TEXT NOT NULL,
    attempts           INTEGER NOT NULL,
    last_attempt_at    TIMESTAMP,
    replayed_reference TEXT,
    replayed_at        TIMESTAMP
);
CREATE INDEX quarantine_received ON quarantine (received_at, id);
CREATE INDEX quarantine_requester ON quarantine (requester_id);
CREATE INDEX quarantine_subject ON quarantine (subject);

-- "Did push X arrive, and what happened to it?" reads the trail by requester id. Events about a stored record are
-- found through its reference; only those without one (refusals, quarantine) need this index, and leaving out
-- the rest keeps the write of every stored submission as cheap as before.
CREATE INDEX audit_events_requester ON audit_events (requester_id) WHERE reference IS NULL;

-- Every mapping file ever activated, by the SHA-256 of its bytes, so a record's mapping can be shown as it was.
CREATE TABLE mapping_versions (
    sha256        TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    content       TEXT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL
);

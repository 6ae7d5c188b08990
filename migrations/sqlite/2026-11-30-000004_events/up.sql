-- Decision events: written in the transaction of the change they report (a transactional outbox), read by the
-- change feed and delivered to webhook endpoints. `seq` is allocated under the audit chain's head lock, so commit
-- order is sequence order and a reader never sees a gap filled later.
ALTER TABLE audit_head ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE events (
    seq         BIGINT PRIMARY KEY NOT NULL,
    -- UUID v7: unique by construction; no index to maintain on every stored submission.
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    reference   TEXT,
    data        TEXT NOT NULL
);
CREATE INDEX events_reference ON events (reference);

-- One row per configured endpoint: how far it has been delivered, its retry state, and who holds its lease (so
-- several instances deliver each event once between them).
CREATE TABLE webhook_state (
    endpoint         TEXT PRIMARY KEY NOT NULL,
    cursor           BIGINT NOT NULL,
    paused           BOOLEAN NOT NULL,
    attempts         INTEGER NOT NULL,
    first_failure_at TIMESTAMP,
    next_attempt_at  TIMESTAMP,
    last_error       TEXT,
    delivered        BIGINT NOT NULL,
    lease_owner      TEXT,
    leased_until     TIMESTAMP
);

-- Events an endpoint kept refusing past the retry horizon; `redeliver` asks for another attempt.
CREATE TABLE webhook_dead_letters (
    endpoint   TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    dead_at    TIMESTAMP NOT NULL,
    redeliver  BOOLEAN NOT NULL,
    PRIMARY KEY (endpoint, seq)
);

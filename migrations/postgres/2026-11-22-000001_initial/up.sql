-- One row per accepted submission; requester_id is the upstream's idempotency key.
CREATE TABLE submissions (
    reference        TEXT PRIMARY KEY NOT NULL,
    requester_id     TEXT NOT NULL UNIQUE,
    user_id          TEXT NOT NULL,
    app_id           TEXT,
    client_id        TEXT,
    received_at      TIMESTAMP NOT NULL,
    document_version TEXT,
    document_status  TEXT,
    mapping_name     TEXT NOT NULL,
    mapping_hash     TEXT NOT NULL,
    decision         TEXT NOT NULL,
    status           TEXT NOT NULL,
    reasons          TEXT NOT NULL,
    fields           TEXT NOT NULL,
    pii_names        TEXT NOT NULL,
    pii_key_id       TEXT,
    pii_nonce        BYTEA,
    pii_ciphertext   BYTEA,
    document_number_hmac TEXT,
    erased_at        TIMESTAMP,
    payload_digest   TEXT NOT NULL,
    payload_bytes    BIGINT NOT NULL,
    decryption_key   TEXT,
    response_body    TEXT NOT NULL,
    content_hash     TEXT NOT NULL
);
CREATE INDEX submissions_received ON submissions (received_at, reference);
CREATE INDEX submissions_user ON submissions (user_id);
CREATE INDEX submissions_document_number ON submissions (document_number_hmac);

-- Images, AES-256-GCM encrypted at rest; associated data binds each blob to its submission and kind.
CREATE TABLE submission_images (
    reference    TEXT NOT NULL REFERENCES submissions (reference) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    byte_len     BIGINT NOT NULL,
    key_id       TEXT NOT NULL,
    nonce        BYTEA NOT NULL,
    ciphertext   BYTEA NOT NULL,
    PRIMARY KEY (reference, kind)
);

-- Reviewer decisions on pending cases.
CREATE TABLE reviews (
    id          TEXT PRIMARY KEY NOT NULL,
    reference   TEXT NOT NULL REFERENCES submissions (reference) ON DELETE CASCADE,
    reviewer    TEXT NOT NULL,
    decision    TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX reviews_reference ON reviews (reference);

-- Append-only, hash-chained: each row carries the hash of the one before it.
CREATE TABLE audit_events (
    seq          BIGINT PRIMARY KEY NOT NULL,
    occurred_at  TIMESTAMP NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT,
    reference    TEXT,
    requester_id TEXT,
    details      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_events_reference ON audit_events (reference);

-- When retention removes a prefix of the chain, a checkpoint keeps the hash of the last removed event (with a
-- MAC under the storage search key) so the rest still verifies.
CREATE TABLE audit_checkpoints (
    seq            BIGINT PRIMARY KEY NOT NULL,
    hash           TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    removed_events BIGINT NOT NULL,
    mac            TEXT NOT NULL
);

-- The chain's head. Every append updates this single row first, which serialises appenders on every backend.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Idempotency is per upstream client: two clients may use the same requester_id without one answering 409
-- to the other. Rows pushed without authentication (client_id NULL) share one scope.
-- SQLite cannot drop a column's UNIQUE: the table is rebuilt (https://sqlite.org/lang_altertable.html, the
-- twelve steps), with foreign keys off so that dropping the old table does not cascade to images and
-- reviews; this migration therefore runs outside a transaction of diesel's and opens its own.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE submissions_new (
    reference        TEXT PRIMARY KEY NOT NULL,
    requester_id     TEXT NOT NULL,
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
    pii_nonce        BLOB,
    pii_ciphertext   BLOB,
    document_number_hmac TEXT,
    erased_at        TIMESTAMP,
    payload_digest   TEXT NOT NULL,
    payload_bytes    BIGINT NOT NULL,
    decryption_key   TEXT,
    response_body    TEXT NOT NULL,
    content_hash     TEXT NOT NULL
);
INSERT INTO submissions_new (reference, requester_id, user_id, app_id, client_id, received_at, document_version, document_status, mapping_name, mapping_hash, decision, status, reasons, fields, pii_names, pii_key_id, pii_nonce, pii_ciphertext, document_number_hmac, erased_at, payload_digest, payload_bytes, decryption_key, response_body, content_hash)
    SELECT reference, requester_id, user_id, app_id, client_id, received_at, document_version, document_status, mapping_name, mapping_hash, decision, status, reasons, fields, pii_names, pii_key_id, pii_nonce, pii_ciphertext, document_number_hmac, erased_at, payload_digest, payload_bytes, decryption_key, response_body, content_hash FROM submissions;
DROP TABLE submissions;
ALTER TABLE submissions_new RENAME TO submissions;
CREATE INDEX submissions_received ON submissions (received_at, reference);
CREATE INDEX submissions_user ON submissions (user_id);
CREATE INDEX submissions_document_number ON submissions (document_number_hmac);
CREATE UNIQUE INDEX submissions_requester ON submissions (requester_id, COALESCE(client_id, ''));
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;

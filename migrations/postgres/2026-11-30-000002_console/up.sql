-- The console: people (local accounts; OIDC sign-ins have no row), their sessions, claims on cases, and
-- four-eyes proposals waiting for a second reviewer.
CREATE TABLE console_users (
    username             TEXT PRIMARY KEY NOT NULL,
    display_name         TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    roles                TEXT NOT NULL,
    totp_key_id          TEXT,
    totp_nonce           BYTEA,
    totp_ciphertext      BYTEA,
    totp_enrolled        BOOLEAN NOT NULL,
    -- The time step of the last accepted code: each code works once.
    totp_last_step       BIGINT,
    disabled             BOOLEAN NOT NULL,
    created_at           TIMESTAMP NOT NULL
);

-- id_hash is the SHA-256 of the cookie's token: the database never holds a usable session id.
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY NOT NULL,
    subject      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    roles        TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    stage        TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_subject ON console_sessions (subject);

CREATE TABLE console_claims (
    reference    TEXT PRIMARY KEY NOT NULL REFERENCES submissions (reference) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    until        TIMESTAMP NOT NULL
);

CREATE TABLE console_proposals (
    reference    TEXT PRIMARY KEY NOT NULL REFERENCES submissions (reference) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    decision     TEXT NOT NULL,
    note         TEXT NOT NULL,
    note_hmac    TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);

-- OpenID Connect sign-ins in progress: state, PKCE verifier and nonce, for a few minutes.
CREATE TABLE console_oidc_logins (
    state      TEXT PRIMARY KEY NOT NULL,
    verifier   TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    return_to  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX submissions_status_received ON submissions (status, received_at);
-- The audit page's event filter and the overview's refusal counts.
CREATE INDEX audit_events_kind_time ON audit_events (kind, occurred_at);

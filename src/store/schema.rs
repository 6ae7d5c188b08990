//! Diesel table definitions, one schema for both backends (portable column types only).

diesel::table! {
    /// Accepted submissions.
    submissions (reference) {
        reference -> Text,
        requester_id -> Text,
        user_id -> Text,
        app_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        received_at -> Timestamp,
        document_version -> Nullable<Text>,
        document_status -> Nullable<Text>,
        mapping_name -> Text,
        mapping_hash -> Text,
        decision -> Text,
        status -> Text,
        reasons -> Text,
        fields -> Text,
        pii_names -> Text,
        pii_key_id -> Nullable<Text>,
        pii_nonce -> Nullable<Binary>,
        pii_ciphertext -> Nullable<Binary>,
        document_number_hmac -> Nullable<Text>,
        erased_at -> Nullable<Timestamp>,
        payload_digest -> Text,
        payload_bytes -> BigInt,
        decryption_key -> Nullable<Text>,
        response_body -> Text,
        content_hash -> Text,
    }
}

diesel::table! {
    /// The hash-chained audit trail.
    audit_events (seq) {
        seq -> BigInt,
        occurred_at -> Timestamp,
        kind -> Text,
        actor -> Nullable<Text>,
        reference -> Nullable<Text>,
        requester_id -> Nullable<Text>,
        details -> Text,
        prev_hash -> Text,
        hash -> Text,
        hash_version -> Integer,
        hash_key -> Nullable<Text>,
    }
}

diesel::table! {
    /// Single-row head of the audit chain.
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
        event_seq -> BigInt,
    }
}

diesel::table! {
    /// Encrypted images.
    submission_images (reference, kind) {
        reference -> Text,
        kind -> Text,
        content_type -> Text,
        byte_len -> BigInt,
        key_id -> Text,
        nonce -> Binary,
        ciphertext -> Binary,
    }
}

diesel::table! {
    /// Reviewer decisions.
    reviews (id) {
        id -> Text,
        reference -> Text,
        reviewer -> Text,
        decision -> Text,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(submission_images -> submissions (reference));
diesel::joinable!(reviews -> submissions (reference));
diesel::allow_tables_to_appear_in_same_query!(
    submissions,
    submission_images,
    reviews,
    audit_events
);

diesel::table! {
    /// Retention checkpoints of the audit chain.
    audit_checkpoints (seq) {
        seq -> BigInt,
        hash -> Text,
        created_at -> Timestamp,
        removed_events -> BigInt,
        mac -> Text,
    }
}

diesel::table! {
    /// Local console accounts.
    console_users (username) {
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        must_change_password -> Bool,
        roles -> Text,
        totp_key_id -> Nullable<Text>,
        totp_nonce -> Nullable<Binary>,
        totp_ciphertext -> Nullable<Binary>,
        totp_enrolled -> Bool,
        totp_last_step -> Nullable<BigInt>,
        disabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Console sessions, by the SHA-256 of their cookie token.
    console_sessions (id_hash) {
        id_hash -> Text,
        subject -> Text,
        display_name -> Text,
        roles -> Text,
        csrf -> Text,
        stage -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    /// Reviewers' claims on cases.
    console_claims (reference) {
        reference -> Text,
        subject -> Text,
        display_name -> Text,
        until -> Timestamp,
    }
}

diesel::table! {
    /// Four-eyes proposals awaiting a second reviewer.
    console_proposals (reference) {
        reference -> Text,
        subject -> Text,
        display_name -> Text,
        decision -> Text,
        note -> Text,
        note_hmac -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// OpenID Connect sign-ins in progress.
    console_oidc_logins (state) {
        state -> Text,
        verifier -> Text,
        nonce -> Text,
        return_to -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(console_claims -> submissions (reference));
diesel::joinable!(console_proposals -> submissions (reference));
diesel::allow_tables_to_appear_in_same_query!(submissions, console_claims, console_proposals);

diesel::table! {
    /// Refused submissions of authenticated callers, sealed, waiting for replay.
    quarantine (id) {
        id -> Text,
        received_at -> Timestamp,
        client_id -> Text,
        error_code -> Text,
        error_message -> Text,
        status_code -> Integer,
        body_bytes -> BigInt,
        body_sha256 -> Text,
        key_label -> Nullable<Text>,
        requester_id -> Nullable<Text>,
        subject -> Nullable<Text>,
        key_id -> Nullable<Text>,
        nonce -> Nullable<Binary>,
        ciphertext -> Nullable<Binary>,
        state -> Text,
        attempts -> Integer,
        last_attempt_at -> Nullable<Timestamp>,
        replayed_reference -> Nullable<Text>,
        replayed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Mapping files as activated, by content hash.
    mapping_versions (sha256) {
        sha256 -> Text,
        name -> Text,
        file_name -> Text,
        content -> Text,
        first_seen_at -> Timestamp,
    }
}

diesel::table! {
    /// Decision events (outbox and change feed).
    events (seq) {
        seq -> BigInt,
        id -> Text,
        kind -> Text,
        occurred_at -> Timestamp,
        reference -> Nullable<Text>,
        data -> Text,
    }
}

diesel::table! {
    /// Delivery state per webhook endpoint.
    webhook_state (endpoint) {
        endpoint -> Text,
        cursor -> BigInt,
        paused -> Bool,
        attempts -> Integer,
        first_failure_at -> Nullable<Timestamp>,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        delivered -> BigInt,
        lease_owner -> Nullable<Text>,
        leased_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Events an endpoint refused past the retry horizon.
    webhook_dead_letters (endpoint, seq) {
        endpoint -> Text,
        seq -> BigInt,
        attempts -> Integer,
        last_error -> Text,
        dead_at -> Timestamp,
        redeliver -> Bool,
    }
}

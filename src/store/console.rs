//! Repository functions of the console: local accounts, sessions, claims on cases, four-eyes proposals and
//! OpenID Connect sign-ins in progress. Secrets arrive sealed or hashed: the store keeps what it is given.
//! Claims and proposals change under the audit chain's lock with their audit event, like every other write
//! that someone must answer for.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use kyc_crypto::at_rest::SealedBlob;

use super::audit_log::{AuditDraft, AuditKey, ChainCursor, truncate_to_micros};
use super::schema::{
    console_claims, console_oidc_logins, console_proposals, console_sessions, console_users,
};
use super::{Backend, DbConnection, submissions_table as submissions};
use crate::decision::{ReviewDecision, Status};
use crate::submission::Reference;

/// A local console account.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_users, treat_none_as_default_value = false)]
pub struct UserRow {
    /// Sign-in name.
    pub username: String,
    /// Name shown in the console and in audit events.
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The password is a one-time one: it must be changed at the next sign-in.
    pub must_change_password: bool,
    /// Comma-separated console roles.
    pub roles: String,
    /// Key id of the sealed TOTP secret.
    pub totp_key_id: Option<String>,
    /// Nonce of the sealed TOTP secret.
    pub totp_nonce: Option<Vec<u8>>,
    /// The sealed TOTP secret.
    pub totp_ciphertext: Option<Vec<u8>>,
    /// A code of the secret was confirmed (enrolment finished).
    pub totp_enrolled: bool,
    /// The time step of the last accepted TOTP code.
    pub totp_last_step: Option<i64>,
    /// Signing in is refused.
    pub disabled: bool,
    /// When the account was made.
    pub created_at: NaiveDateTime,
}

impl UserRow {
    /// The sealed TOTP secret, when one was issued.
    pub fn sealed_totp(&self) -> Option<SealedBlob> {
        match (&self.totp_key_id, &self.totp_nonce, &self.totp_ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => Some(SealedBlob {
                key_id: key_id.clone(),
                nonce: nonce.clone(),
                ciphertext: ciphertext.clone(),
            }),
            _ => None,
        }
    }
}

/// Adds an account.
pub fn insert_user(conn: &mut DbConnection, user: &UserRow) -> QueryResult<()> {
    diesel::insert_into(console_users::table)
        .values(user)
        .execute(conn)
        .map(|_| ())
}

/// One account.
pub fn find_user(conn: &mut DbConnection, username: &str) -> QueryResult<Option<UserRow>> {
    console_users::table
        .find(username)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Every account, by name.
pub fn list_users(conn: &mut DbConnection) -> QueryResult<Vec<UserRow>> {
    console_users::table
        .order(console_users::username)
        .select(UserRow::as_select())
        .load(conn)
}

/// Sets a new password hash; `must_change` marks it one-time.
pub fn set_password(
    conn: &mut DbConnection,
    username: &str,
    hash: &str,
    must_change: bool,
) -> QueryResult<usize> {
    diesel::update(console_users::table.find(username))
        .set((
            console_users::password_hash.eq(hash),
            console_users::must_change_password.eq(must_change),
        ))
        .execute(conn)
}

/// Stores a sealed TOTP secret; `enrolled` once a code of it was confirmed.
pub fn set_totp(
    conn: &mut DbConnection,
    username: &str,
    sealed: Option<&SealedBlob>,
    enrolled: bool,
) -> QueryResult<usize> {
    diesel::update(console_users::table.find(username))
        .set((
            console_users::totp_key_id.eq(sealed.map(|s| s.key_id.clone())),
            console_users::totp_nonce.eq(sealed.map(|s| s.nonce.clone())),
            console_users::totp_ciphertext.eq(sealed.map(|s| s.ciphertext.clone())),
            console_users::totp_enrolled.eq(enrolled),
        ))
        .execute(conn)
}

/// Accepts a TOTP code's time step once: true when it is later than the last accepted one (and is now the
/// last), false for a code already used (or an older one).
pub fn use_totp_step(conn: &mut DbConnection, username: &str, step: i64) -> QueryResult<bool> {
    diesel::update(
        console_users::table.find(username).filter(
            console_users::totp_last_step
                .is_null()
                .or(console_users::totp_last_step.lt(step)),
        ),
    )
    .set(console_users::totp_last_step.eq(step))
    .execute(conn)
    .map(|n| n == 1)
}

/// Disables or enables an account; disabling ends its sessions.
pub fn set_disabled(conn: &mut DbConnection, username: &str, disabled: bool) -> QueryResult<usize> {
    conn.transaction(|c| {
        let n = diesel::update(console_users::table.find(username))
            .set(console_users::disabled.eq(disabled))
            .execute(c)?;
        if disabled {
            end_sessions_of(c, &format!("user:{username}"))?;
        }
        Ok(n)
    })
}

/// A console session.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_sessions)]
pub struct SessionRow {
    /// SHA-256 (hex) of the cookie token.
    pub id_hash: String,
    /// Who: `user:NAME` or `oidc:SUB@ISSUER`.
    pub subject: String,
    /// Name shown.
    pub display_name: String,
    /// Comma-separated console roles.
    pub roles: String,
    /// The token every state-changing form carries.
    pub csrf: String,
    /// `password_change`, `totp`, `totp_enrol` or `active`.
    pub stage: String,
    /// Sign-in time.
    pub created_at: NaiveDateTime,
    /// Last request.
    pub last_seen_at: NaiveDateTime,
}

/// Stores a new session.
pub fn insert_session(conn: &mut DbConnection, session: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(console_sessions::table)
        .values(session)
        .execute(conn)
        .map(|_| ())
}

/// A session by the hash of its token.
pub fn find_session(conn: &mut DbConnection, id_hash: &str) -> QueryResult<Option<SessionRow>> {
    console_sessions::table
        .find(id_hash)
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
}

/// Records activity.
pub fn touch_session(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(console_sessions::table.find(id_hash))
        .set(console_sessions::last_seen_at.eq(truncate_to_micros(now)))
        .execute(conn)
        .map(|_| ())
}

/// Moves a session to another sign-in stage.
pub fn set_session_stage(conn: &mut DbConnection, id_hash: &str, stage: &str) -> QueryResult<()> {
    diesel::update(console_sessions::table.find(id_hash))
        .set(console_sessions::stage.eq(stage))
        .execute(conn)
        .map(|_| ())
}

/// Ends one session.
pub fn end_session(conn: &mut DbConnection, id_hash: &str) -> QueryResult<()> {
    diesel::delete(console_sessions::table.find(id_hash))
        .execute(conn)
        .map(|_| ())
}

/// Ends every session of a person (disabled account, password reset).
pub fn end_sessions_of(conn: &mut DbConnection, subject: &str) -> QueryResult<usize> {
    diesel::delete(console_sessions::table.filter(console_sessions::subject.eq(subject)))
        .execute(conn)
}

/// A claim on a case.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_claims)]
pub struct ClaimRow {
    /// The case.
    pub reference: Reference,
    /// Who holds it.
    pub subject: String,
    /// Their name.
    pub display_name: String,
    /// When it lapses.
    pub until: NaiveDateTime,
}

/// A four-eyes proposal.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_proposals)]
pub struct ProposalRow {
    /// The case.
    pub reference: Reference,
    /// Who proposed.
    pub subject: String,
    /// Their name.
    pub display_name: String,
    /// What they propose.
    pub decision: ReviewDecision,
    /// Their note.
    pub note: String,
    /// HMAC of the note (for the audit events).
    pub note_hmac: String,
    /// When.
    pub created_at: NaiveDateTime,
}

/// One pending case of the review queue, with its claim and proposal if any.
#[derive(Debug, Clone)]
pub struct QueueItem {
    /// The case.
    pub reference: Reference,
    /// Arrival.
    pub received_at: NaiveDateTime,
    /// JSON array of reason codes.
    pub reasons: String,
    /// The mapping that decided it.
    pub mapping_name: String,
    /// The live claim.
    pub claim: Option<ClaimRow>,
    /// A proposal waiting for a second reviewer.
    pub proposal: Option<ProposalRow>,
}

/// Pending cases, oldest first, after `after` (a `(received_at, reference)` key), at most `limit`.
pub fn queue(
    conn: &mut DbConnection,
    after: Option<(NaiveDateTime, &Reference)>,
    limit: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<QueueItem>> {
    let mut query = submissions::table
        .into_boxed::<Backend>()
        .filter(submissions::status.eq(Status::PendingReview));
    if let Some((at, reference)) = after {
        query = query.filter(
            submissions::received_at.gt(at).or(submissions::received_at
                .eq(at)
                .and(submissions::reference.gt(reference.clone()))),
        );
    }
    let rows: Vec<(Reference, NaiveDateTime, String, String)> = query
        .order((submissions::received_at, submissions::reference))
        .limit(limit)
        .select((
            submissions::reference,
            submissions::received_at,
            submissions::reasons,
            submissions::mapping_name,
        ))
        .load(conn)?;
    let references: Vec<Reference> = rows.iter().map(|r| r.0.clone()).collect();
    let claims: Vec<ClaimRow> = console_claims::table
        .filter(console_claims::reference.eq_any(&references))
        .filter(console_claims::until.gt(now))
        .select(ClaimRow::as_select())
        .load(conn)?;
    let proposals: Vec<ProposalRow> = console_proposals::table
        .filter(console_proposals::reference.eq_any(&references))
        .select(ProposalRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(reference, received_at, reasons, mapping_name)| QueueItem {
                claim: claims.iter().find(|c| c.reference == reference).cloned(),
                proposal: proposals.iter().find(|p| p.reference == reference).cloned(),
                reference,
                received_at,
                reasons,
                mapping_name,
            },
        )
        .collect())
}

/// How many cases are pending, and when the oldest arrived.
pub fn queue_size(conn: &mut DbConnection) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    let pending = submissions::table.filter(submissions::status.eq(Status::PendingReview));
    let count = pending.count().get_result(conn)?;
    let oldest = pending
        .select(diesel::dsl::min(submissions::received_at))
        .first(conn)?;
    Ok((count, oldest))
}

/// The live claim on a case.
pub fn claim_of(
    conn: &mut DbConnection,
    reference: &Reference,
    now: NaiveDateTime,
) -> QueryResult<Option<ClaimRow>> {
    console_claims::table
        .find(reference)
        .filter(console_claims::until.gt(now))
        .select(ClaimRow::as_select())
        .first(conn)
        .optional()
}

/// The proposal waiting on a case.
pub fn proposal_of(
    conn: &mut DbConnection,
    reference: &Reference,
) -> QueryResult<Option<ProposalRow>> {
    console_proposals::table
        .find(reference)
        .select(ProposalRow::as_select())
        .first(conn)
        .optional()
}

/// What became of a claim request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Claimed (or renewed) until the time given.
    Claimed(NaiveDateTime),
    /// Someone else holds a live claim.
    Taken {
        /// Their name.
        by: String,
        /// Until when.
        until: NaiveDateTime,
    },
    /// No such case, or it is no longer pending.
    NotPending,
}

/// Claims a pending case for `subject` until `until`, unless another live claim holds it; with its audit
/// event. Under the chain lock, so two reviewers racing for one case cannot both win.
pub fn claim(
    conn: &mut DbConnection,
    key: &AuditKey,
    reference: &Reference,
    subject: &str,
    display_name: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<ClaimOutcome> {
    conn.transaction(|c| {
        let mut cursor = ChainCursor::lock(c, key)?;
        let status: Option<Status> = submissions::table
            .find(reference)
            .select(submissions::status)
            .first(c)
            .optional()?;
        if status != Some(Status::PendingReview) {
            return Ok(ClaimOutcome::NotPending);
        }
        if let Some(held) = claim_of(c, reference, now)?
            && held.subject != subject
        {
            return Ok(ClaimOutcome::Taken {
                by: held.display_name,
                until: held.until,
            });
        }
        let row = ClaimRow {
            reference: reference.clone(),
            subject: subject.into(),
            display_name: display_name.into(),
            until: truncate_to_micros(until),
        };
        diesel::delete(console_claims::table.find(reference)).execute(c)?;
        diesel::insert_into(console_claims::table)
            .values(&row)
            .execute(c)?;
        cursor.append(
            c,
            &AuditDraft {
                kind: "case_claimed".into(),
                actor: Some(subject.into()),
                reference: Some(reference.clone()),
                requester_id: None,
                details: serde_json::json!({"until": super::audit_log::format_timestamp(row.until)}),
            },
            now,
        )?;
        cursor.save(c)?;
        Ok(ClaimOutcome::Claimed(row.until))
    })
}

/// Releases `subject`'s claim on a case (nothing when they hold none), with its audit event.
pub fn release(
    conn: &mut DbConnection,
    key: &AuditKey,
    reference: &Reference,
    subject: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        let mut cursor = ChainCursor::lock(c, key)?;
        let n = diesel::delete(
            console_claims::table
                .find(reference)
                .filter(console_claims::subject.eq(subject)),
        )
        .execute(c)?;
        if n > 0 {
            cursor.append(
                c,
                &AuditDraft {
                    kind: "case_released".into(),
                    actor: Some(subject.into()),
                    reference: Some(reference.clone()),
                    requester_id: None,
                    details: serde_json::json!({}),
                },
                now,
            )?;
            cursor.save(c)?;
        }
        Ok(n > 0)
    })
}

/// What became of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposeOutcome {
    /// Recorded; a second reviewer must confirm it.
    Proposed,
    /// The case is not pending, or already has a proposal.
    NotPending,
}

/// Records a four-eyes proposal with its `review_proposed` audit event (the note stays out of the trail;
/// its HMAC goes in).
pub fn propose(
    conn: &mut DbConnection,
    key: &AuditKey,
    proposal: &ProposalRow,
    now: NaiveDateTime,
) -> QueryResult<ProposeOutcome> {
    conn.transaction(|c| {
        let mut cursor = ChainCursor::lock(c, key)?;
        let status: Option<Status> = submissions::table
            .find(&proposal.reference)
            .select(submissions::status)
            .first(c)
            .optional()?;
        if status != Some(Status::PendingReview) || proposal_of(c, &proposal.reference)?.is_some() {
            return Ok(ProposeOutcome::NotPending);
        }
        diesel::insert_into(console_proposals::table)
            .values(proposal)
            .execute(c)?;
        cursor.append(
            c,
            &AuditDraft {
                kind: "review_proposed".into(),
                actor: Some(proposal.subject.clone()),
                reference: Some(proposal.reference.clone()),
                requester_id: None,
                details: serde_json::json!({
                    "to": proposal.decision,
                    "note_hmac": proposal.note_hmac,
                }),
            },
            now,
        )?;
        cursor.save(c)?;
        Ok(ProposeOutcome::Proposed)
    })
}

/// Drops the proposal on a case (after it was confirmed, or returned).
pub fn drop_proposal(conn: &mut DbConnection, reference: &Reference) -> QueryResult<usize> {
    diesel::delete(console_proposals::table.find(reference)).execute(conn)
}

/// An OpenID Connect sign-in in progress.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = console_oidc_logins)]
pub struct OidcLoginRow {
    /// The `state` parameter.
    pub state: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// Console path to return to.
    pub return_to: String,
    /// Started.
    pub created_at: NaiveDateTime,
}

/// Stores a sign-in in progress (and forgets those older than `stale_before`).
pub fn insert_oidc_login(
    conn: &mut DbConnection,
    login: &OidcLoginRow,
    stale_before: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(
        console_oidc_logins::table.filter(console_oidc_logins::created_at.lt(stale_before)),
    )
    .execute(conn)?;
    diesel::insert_into(console_oidc_logins::table)
        .values(login)
        .execute(conn)
        .map(|_| ())
}

/// Takes (reads and deletes) a sign-in in progress: each `state` works once.
pub fn take_oidc_login(conn: &mut DbConnection, state: &str) -> QueryResult<Option<OidcLoginRow>> {
    conn.transaction(|c| {
        let row = console_oidc_logins::table
            .find(state)
            .select(OidcLoginRow::as_select())
            .first(c)
            .optional()?;
        if row.is_some() {
            diesel::delete(console_oidc_logins::table.find(state)).execute(c)?;
        }
        Ok(row)
    })
}

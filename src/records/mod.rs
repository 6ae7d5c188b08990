//! What auditors read, for the HTTP API and the operator CLI alike: filters and opaque cursors
//! ([`FilterParams`], [`Cursor`]), the wire views of stored records with personal fields masked unless the
//! reader may see them ([`view`]), and the page-at-a-time CSV/JSON Lines export ([`export`]). Reads no
//! configuration; callers pass the [`crate::protect::Protection`] built from `[storage]`.

pub mod export;
pub mod trace;
pub mod view;

use chrono::{DateTime, NaiveDateTime, Utc};

use std::str::FromStr;

use crate::decision::Status;
use crate::store::listing::{AuditFilter, Position, SubmissionFilter};
use crate::submission::Reference;

pub use view::{
    AuditEventView, ImageInfo, RecordsError, ReviewView, SubmissionDetail, SubmissionSummary,
    load_detail, summarize,
};

/// One page of the list view: rows after `cursor` (or from a fresh snapshot of the audit chain head), each
/// summarised and masked unless `unmask`, and the cursor of the next page (`None` at the end). Shared by
/// `GET /v1/submissions` and `kyc-receiver records list`.
pub fn summary_page(
    conn: &mut crate::store::DbConnection,
    filter: &SubmissionFilter,
    cursor: Option<&Cursor>,
    limit: i64,
    protection: &crate::protect::Protection,
    unmask: bool,
) -> Result<(Vec<SubmissionSummary>, Option<String>), RecordsError> {
    let mark = match cursor {
        Some(c) => c.mark,
        None => crate::store::listing::snapshot_mark(conn)?,
    };
    let rows = crate::store::listing::page(conn, filter, mark, cursor.map(|c| &c.after), limit)?;
    let next = match rows.last() {
        Some(last) if rows.len() as i64 == limit => Some(
            Cursor {
                mark,
                after: Position::of(last),
            }
            .encode(),
        ),
        _ => None,
    };
    let items = rows
        .iter()
        .map(|r| summarize(r, protection, unmask))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, next))
}

/// Default page size of `GET /v1/submissions` and `GET /v1/audit/events`.
pub const DEFAULT_LIMIT: i64 = 100;
/// Largest page size.
pub const MAX_LIMIT: i64 = 500;

/// A filter, limit or cursor that cannot be used; the message names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Filters of the submission list and export, as given (query string or command line).
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Only records received at or after this instant (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// Only records received before this instant (RFC 3339).
    #[arg(long)]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
    /// Only this upstream user id (exact).
    #[arg(long)]
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub user_id: Option<String>,
    /// Only this automatic decision: approved, rejected or pending_review.
    #[arg(long)]
    #[param(value_type = Option<Status>)]
    pub decision: Option<String>,
    /// Only this current status: approved, rejected or pending_review.
    #[arg(long)]
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    /// Only this document status as sent (e.g. OK).
    #[arg(long)]
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub document_status: Option<String>,
    /// Only records carrying this reason code (e.g. face_mismatch).
    #[arg(long)]
    #[param(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub reason: Option<String>,
    /// Only this upstream requester id (exact).
    #[arg(long)]
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub requester_id: Option<String>,
    /// Only records of this document number (compared through its keyed hash, never stored or logged in
    /// clear; spaces and punctuation ignored, letters in any case).
    #[arg(long)]
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub document_number: Option<String>,
}

impl FilterParams {
    /// The filters as an audit event records them: a user id only as the subject's keyed pseudonym (the
    /// same one erasure uses), never in clear or as a plain hash, which a guessed e-mail address would match.
    pub fn audit_facts(&self, protection: &crate::protect::Protection) -> serde_json::Value {
        serde_json::json!({
            "since": self.since,
            "until": self.until,
            "subject": self.user_id.as_deref().map(|u| protection.subject_pseudonym(u)),
            "decision": self.decision,
            "status": self.status,
            "document_status": self.document_status,
            "reason": self.reason,
            "requester_id": self.requester_id,
            "document_number_given": self.document_number.is_some(),
        })
    }

    /// Checks every value and builds the store filter; a document number becomes its keyed hash.
    pub fn parse(
        &self,
        protection: &crate::protect::Protection,
    ) -> Result<SubmissionFilter, QueryError> {
        let filter = SubmissionFilter {
            since: self
                .since
                .as_deref()
                .map(|t| instant("since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| instant("until", t))
                .transpose()?,
            user_id: text("user_id", self.user_id.as_deref(), 256)?,
            decision: status("decision", self.decision.as_deref())?,
            status: status("status", self.status.as_deref())?,
            document_status: text("document_status", self.document_status.as_deref(), 64)?,
            reason: code("reason", self.reason.as_deref())?,
            requester_id: text("requester_id", self.requester_id.as_deref(), 128)?,
            document_number_hmac: text("document_number", self.document_number.as_deref(), 64)?
                .map(|n| protection.document_number_hmac(&n)),
        };
        // An inverted range is a valid question whose answer is empty (`since` inclusive, `until` exclusive).
        Ok(filter)
    }
}

/// Filters of the audit trail, as given.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilterParams {
    /// Only events at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// Only events before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
    /// Only this event kind (e.g. submission_stored, submission_reviewed, personal_data_read, image_read).
    #[param(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub kind: Option<String>,
    /// Only events about this submission reference.
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub reference: Option<String>,
    /// Only events caused by this client id.
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub actor: Option<String>,
}

impl AuditFilterParams {
    /// Checks every value and builds the store filter.
    pub fn parse(&self) -> Result<AuditFilter, QueryError> {
        Ok(AuditFilter {
            since: self
                .since
                .as_deref()
                .map(|t| instant("since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| instant("until", t))
                .transpose()?,
            kind: code("kind", self.kind.as_deref())?,
            reference: self
                .reference
                .as_deref()
                .map(|r| {
                    Reference::parse(r).ok_or_else(|| {
                        QueryError("`reference` must be 1 to 128 printable characters".into())
                    })
                })
                .transpose()?,
            actor: text("actor", self.actor.as_deref(), 256)?,
        })
    }
}

/// A page size: default [`DEFAULT_LIMIT`], between 1 and [`MAX_LIMIT`].
pub fn parse_limit(limit: Option<&str>) -> Result<i64, QueryError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(QueryError(format!(
                "`limit` must be a whole number from 1 to {MAX_LIMIT}"
            ))),
        },
    }
}

/// Where the next page of a submission traversal starts. Opaque to clients; its text is
/// `<mark>.<received_at µs>.<reference>` ([`CURSOR_PATTERN`]), so every text the OpenAPI document allows
/// is one the service takes. The mark pins the traversal (see `store::listing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The audit chain head when the traversal started.
    pub mark: i64,
    /// The last row returned.
    pub after: Position,
}

/// The shape of a submission cursor, as the OpenAPI document states it.
pub const CURSOR_PATTERN: &str = r"^[0-9]{1,18}\.[0-9]{1,18}\.KYC-[0-9a-f]{32}$";

/// The shape of an audit cursor.
pub const AUDIT_CURSOR_PATTERN: &str = r"^[0-9]{1,18}$";

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        let micros = self.after.received_at.and_utc().timestamp_micros();
        format!("{}.{micros}.{}", self.mark, self.after.reference)
    }

    /// Reads a cursor made by [`Cursor::encode`]; exactly the texts [`CURSOR_PATTERN`] describes.
    pub fn decode(text: &str) -> Result<Cursor, QueryError> {
        let bad = || QueryError("`cursor` is not a cursor this service returned".into());
        let mut parts = text.splitn(3, '.');
        let (Some(mark), Some(micros), Some(reference)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digits = |t: &str| (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
        let ours = reference.len() == 36
            && reference.starts_with("KYC-")
            && reference[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !digits(mark) || !digits(micros) || !ours {
            return Err(bad());
        }
        let mark = mark.parse::<i64>().map_err(|_| bad())?;
        let micros = micros.parse::<i64>().map_err(|_| bad())?;
        let received_at = DateTime::<Utc>::from_timestamp_micros(micros)
            .ok_or_else(bad)?
            .naive_utc();
        Ok(Cursor {
            mark,
            after: Position {
                received_at,
                reference: Reference::parse(reference).ok_or_else(bad)?,
            },
        })
    }
}

/// Opaque cursor of the audit trail: the last sequence number seen ([`AUDIT_CURSOR_PATTERN`]).
pub fn encode_audit_cursor(seq: i64) -> String {
    seq.to_string()
}

/// Reads an audit cursor; returns the last sequence number seen.
pub fn decode_audit_cursor(text: &str) -> Result<i64, QueryError> {
    let bad = || QueryError("`cursor` is not a cursor this service returned".into());
    if !(1..=18).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse::<i64>().map_err(|_| bad())
}

/// RFC 3339 with an offset, as UTC. A `+` decoded to a space by form encoding is put back.
pub(crate) fn instant(name: &str, text: &str) -> Result<NaiveDateTime, QueryError> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|e| match text.rsplit_once(' ') {
            Some((date, offset)) => DateTime::parse_from_rfc3339(&format!("{date}+{offset}")),
            None => Err(e),
        })
        .map(|t| t.with_timezone(&Utc).naive_utc())
        .map_err(|_| {
            QueryError(format!(
                "`{name}` must be an RFC 3339 instant, e.g. 2026-11-01T00:00:00Z"
            ))
        })
}

pub(crate) fn text(
    name: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, QueryError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(QueryError(format!(
                "`{name}` must be 1 to {max} printable characters"
            )))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn status(name: &str, value: Option<&str>) -> Result<Option<Status>, QueryError> {
    value
        .map(|v| {
            Status::from_str(v)
                .map_err(|e| QueryError(format!("`{name}` must be one of {}", e.known)))
        })
        .transpose()
}

pub(crate) fn code(name: &str, value: Option<&str>) -> Result<Option<String>, QueryError> {
    match value {
        None => Ok(None),
        Some(v)
            if !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b)) =>
        {
            Ok(Some(v.to_string()))
        }
        Some(_) => Err(QueryError(format!(
            "`{name}` must be a code of letters, digits, `_`, `.`, `:` or `-`"
        ))),
    }
}

#[cfg(test)]
mod tests;

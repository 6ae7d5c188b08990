//! `POST /v1/submissions/{reference}/review` (`kyc:review`): a reviewer resolves a `pending_review` case as
//! approved or rejected with a note. The writer records the review, the new status and content hash, and the
//! `submission_reviewed` audit event in one transaction (`store::review`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::authorize;
use super::body::read_limited;
use super::{ApiError, AppState, ErrorBody, private_ok};
use crate::auth::scopes;
use crate::decision::{ReviewDecision, Status};
use crate::records::ReviewView;
use crate::store::audit_log::format_timestamp;
use crate::store::review::{ReviewOutcome, ReviewRequest};
use crate::submission::Reference;

/// Largest review body.
const MAX_REVIEW_BODY: usize = 16 * 1024;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// A reviewer's decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// `approved` or `rejected`.
    #[schema(value_type = ReviewDecision, example = "approved")]
    pub decision: String,
    /// Why (1 to 4000 characters, not only spaces; stored trimmed). Shown to readers with `kyc:read_pii`
    /// only; the audit event keeps an HMAC of it.
    #[schema(
        example = "Chip read failed; document checked by video call",
        min_length = 1,
        max_length = 4000,
        pattern = r"\S"
    )]
    pub note: String,
}

/// The recorded review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewAnswer {
    /// The record.
    pub reference: Reference,
    /// Its new status.
    pub status: Status,
    /// The review.
    pub review: ReviewView,
}

/// Resolves a pending case.
#[utoipa::path(post, path = "/v1/submissions/{reference}/review", tag = "review",
    params(("reference" = String, Path, description = "The record's reference")),
    request_body(content = ReviewBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded", body = ReviewAnswer),
        (status = 400, description = "`invalid_json`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_pending_review`, or `integrity_check_failed` when the stored record no longer matches its hash", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_payload` (names the field)", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:review"]), ("bearer" = [])))]
pub async fn review(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_REVIEW).await?;
    let body = read_limited(&req, payload, MAX_REVIEW_BODY, &state.settings.server).await?;
    let (decision, note) = parse_body(&body)?;
    let reference = Reference::parse(&path).ok_or(ApiError::NotFound)?;
    let request = ReviewRequest {
        reference,
        reviewer: principal.client_id.clone(),
        decision,
        note_hmac: state.protection.note_hmac(&note),
        note,
        proposed_by: None,
    };
    match state.writer.review(request).await? {
        ReviewOutcome::Reviewed(review) => Ok(private_ok().json(ReviewAnswer {
            reference: review.reference.clone(),
            status: review.decision.status(),
            review: ReviewView {
                created_at: format_timestamp(review.created_at),
                id: review.id,
                reviewer: review.reviewer,
                decision: review.decision,
                note: review.note,
            },
        })),
        ReviewOutcome::NotFound => Err(ApiError::NotFound),
        ReviewOutcome::NotPending { status } => Err(ApiError::NotPendingReview { status }),
        ReviewOutcome::IntegrityMismatch => Err(ApiError::IntegrityCheckFailed),
    }
}

/// The decision and the trimmed note of a review body, each checked.
fn parse_body(bytes: &[u8]) -> Result<(ReviewDecision, String), ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::InvalidJson(format!("the body is not JSON: {e}")))?;
    let invalid = |path: &str, message: &str| ApiError::InvalidPayload {
        path: path.into(),
        message: message.into(),
    };
    let body: ReviewBody = serde_json::from_value(value).map_err(|e| {
        invalid(
            "$",
            &format!("expected {{\"decision\": …, \"note\": …}} ({e})"),
        )
    })?;
    let Some(decision) = ReviewDecision::parse(&body.decision) else {
        return Err(invalid("decision", "must be \"approved\" or \"rejected\""));
    };
    // The length counts the note as sent (as the OpenAPI document states it); it is stored trimmed.
    let note = body.note.trim();
    if note.is_empty() || body.note.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid("note", "must be 1 to 4000 characters"));
    }
    Ok((decision, note.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_field_by_field() {
        assert!(parse_body(br#"{"decision":"approved","note":"ok"}"#).is_ok());
        let path = |b: &[u8]| match parse_body(b) {
            Err(ApiError::InvalidPayload { path, .. }) => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(path(br#"{"decision":"maybe","note":"x"}"#), "decision");
        assert_eq!(path(br#"{"decision":"rejected","note":"  "}"#), "note");
        assert_eq!(path(br#"{"decision":"rejected"}"#), "$");
        assert_eq!(
            path(br#"{"decision":"rejected","note":"x","extra":1}"#),
            "$"
        );
        assert!(matches!(parse_body(b"{"), Err(ApiError::InvalidJson(_))));
    }
}

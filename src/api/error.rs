//! The one place errors become HTTP responses: every client-visible failure is an [`ApiError`] with a stable
//! code, a fixed or PII-free message, and a status; every error of a lower module reaches HTTP through a
//! `From` impl here. The body is an [`ErrorBody`], the same struct the OpenAPI document shows. Causes of 5xx
//! answers go to the log with an error id; the body carries only the id.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::decision::Status;
use crate::intake::IntakeError;
use crate::payload::PayloadError;
use crate::records::{QueryError, RecordsError};
use crate::store::StoreError;

/// Every error answer: a stable code and a PII-free message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_token`, `not_pending_review`.
    #[schema(example = "invalid_query")]
    pub error: &'static str,
    /// Human-readable text; never echoes secrets, tokens or personal data.
    pub message: String,
    /// Present on 500 answers: matches the server's log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// The request's id (the `X-Request-Id` sent, or one made for it), as in the response header and the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Seconds a client is told to wait after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Every error a client can receive.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, expired or forged credentials.
    #[error("the access token is missing, expired or invalid")]
    InvalidToken {
        /// The `WWW-Authenticate` value to send.
        challenge: String,
    },
    /// Valid credentials without the scope the route needs.
    #[error("the access token lacks the scope `{scope}`")]
    InsufficientScope {
        /// The scope required.
        scope: String,
    },
    /// JSON that would take more memory once parsed than `server.inflight_body_bytes`.
    #[error("{0}")]
    ParsedTooLarge(String),
    /// Body larger than `server.max_body_bytes`.
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// A content type that cannot carry a submission.
    #[error("content type `{0}` is not accepted; send JSON or the encrypted text body")]
    UnsupportedMediaType(String),
    /// The body could not be decrypted (the reason is logged, never sent).
    #[error("the request body could not be decrypted")]
    DecryptFailed,
    /// The body is not JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// The body was cut short or could not be read.
    #[error("the request body could not be read completely")]
    IncompleteBody,
    /// The body did not arrive in time (`server.body_timeout_secs`, `server.body_min_bytes_per_sec`).
    #[error("the request body arrived too slowly")]
    RequestTimeout,
    /// JSON of the wrong shape; names the JSON path.
    #[error("{path}: {message}")]
    InvalidPayload {
        /// JSON path, e.g. `request_info.requester_id`.
        path: String,
        /// What was expected there.
        message: String,
    },
    /// No mapping handles the submission, or a required field is empty.
    #[error("{0}")]
    MappingFailed(String),
    /// The requester id was used before for a different payload.
    #[error("requester_id was already used for a different submission")]
    DuplicateConflict,
    /// Too many requests from this client.
    #[error("too many requests; retry after {retry_after} seconds")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The database (or another dependency) is unavailable; nothing was stored.
    #[error("the service is temporarily unavailable; nothing was stored")]
    Unavailable,
    /// Unknown route.
    #[error("no such resource")]
    NotFound,
    /// A filter, limit, cursor or format that cannot be used; names the parameter.
    #[error("{0}")]
    InvalidQuery(String),
    /// A read of personal data or images without an acceptable `purpose`.
    #[error("{0}")]
    PurposeRequired(String),
    /// A review of a case that is not `pending_review`.
    #[error("the submission is not pending review (its status is {status})")]
    NotPendingReview {
        /// Its current status.
        status: Status,
    },
    /// The stored record no longer matches its content hash, so it must not be changed.
    #[error("the stored record does not match its content hash; run `audit verify`")]
    IntegrityCheckFailed,
    /// A bug; details are in the log under `error_id`.
    #[error("internal error")]
    Internal {
        /// Correlates the answer with the log line.
        error_id: String,
    },
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidToken { .. } => "invalid_token",
            ApiError::InsufficientScope { .. } => "insufficient_scope",
            ApiError::PayloadTooLarge { .. } | ApiError::ParsedTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::DecryptFailed => "decrypt_failed",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::IncompleteBody => "invalid_request",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::InvalidPayload { .. } => "invalid_payload",
            ApiError::MappingFailed(_) => "mapping_failed",
            ApiError::DuplicateConflict => "duplicate_conflict",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable => "unavailable",
            ApiError::NotFound => "not_found",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::PurposeRequired(_) => "purpose_required",
            ApiError::NotPendingReview { .. } => "not_pending_review",
            ApiError::IntegrityCheckFailed => "integrity_check_failed",
            ApiError::Internal { .. } => "internal_error",
        }
    }

    /// Logs `cause` with a fresh error id and returns the opaque 500 that refers to it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        let error_id = uuid::Uuid::new_v4().to_string();
        log::error!("internal error {error_id}: {cause}");
        ApiError::Internal { error_id }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge { .. } | ApiError::ParsedTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::DecryptFailed
            | ApiError::InvalidJson(_)
            | ApiError::IncompleteBody
            | ApiError::InvalidQuery(_)
            | ApiError::PurposeRequired(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidPayload { .. } | ApiError::MappingFailed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::DuplicateConflict
            | ApiError::NotPendingReview { .. }
            | ApiError::IntegrityCheckFailed => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
            error_id: match self {
                ApiError::Internal { error_id } => Some(error_id.clone()),
                _ => None,
            },
            request_id: super::request_id::current(),
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::InvalidToken { challenge } => {
                if let Ok(value) = HeaderValue::from_str(challenge) {
                    response.insert_header((header::WWW_AUTHENTICATE, value));
                }
            }
            ApiError::InsufficientScope { scope } => {
                let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"");
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.insert_header((header::WWW_AUTHENTICATE, value));
                }
            }
            ApiError::RateLimited { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
            }
            // The rest of a slow body would still be on its way: the connection cannot be reused.
            ApiError::RequestTimeout => {
                response.force_close();
            }
            _ => {}
        }
        response.json(body)
    }
}

impl From<IntakeError> for ApiError {
    fn from(err: IntakeError) -> Self {
        let err_text = err.to_string();
        match err {
            IntakeError::Decrypt => ApiError::DecryptFailed,
            IntakeError::Payload(PayloadError::Json(m)) => ApiError::InvalidJson(m),
            IntakeError::Payload(PayloadError::Invalid { path, message }) => {
                ApiError::InvalidPayload { path, message }
            }
            IntakeError::Mapping(e) => ApiError::MappingFailed(e.to_string()),
            IntakeError::Protect(e) => ApiError::internal(&e),
            IntakeError::TooLargeParsed { .. } => ApiError::ParsedTooLarge(err_text),
        }
    }
}

/// Unavailability is a 503 the client can retry; anything else is a logged 500.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(msg) => {
                log::warn!("database unavailable: {msg}");
                ApiError::Unavailable
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        StoreError::from(err).into()
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        StoreError::from(err).into()
    }
}

impl From<crate::quarantine::ReplayError> for ApiError {
    fn from(err: crate::quarantine::ReplayError) -> Self {
        use crate::quarantine::ReplayError;
        match err {
            ReplayError::NotFound => ApiError::NotFound,
            ReplayError::Store(e) => e.into(),
            ReplayError::Protect(e) => ApiError::internal(&e),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        ApiError::InvalidQuery(err.0)
    }
}

impl From<RecordsError> for ApiError {
    fn from(err: RecordsError) -> Self {
        match err {
            RecordsError::Query(e) => e.into(),
            other => ApiError::internal(&other),
        }
    }
}

/// The thread pool that runs blocking work is gone or the work panicked: a bug, never the client's fault.
impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ApiError::internal(&err)
    }
}

//! What a console request can fail with, rendered as an HTML page (or a redirect to sign in). Messages are
//! fixed texts or name things; never a personal value.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::session::Role;
use crate::api::ApiError;

/// A console request that cannot be answered with its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: sign in, then come back to `next`.
    #[error("sign-in needed")]
    SignIn {
        /// The console path to return to.
        next: String,
    },
    /// Signing in is not finished: continue at this console path.
    #[error("continue signing in")]
    Redirect(String),
    /// The page needs a role the person does not hold.
    #[error("this page needs the {} role", .0.as_str())]
    Forbidden(Role),
    /// No such case, image or page.
    #[error("there is no such page, case or image")]
    NotFound,
    /// A form or parameter that cannot be used; names it.
    #[error("{0}")]
    BadRequest(String),
    /// A state-changing form without the session's token.
    #[error(
        "the form is out of date or was not sent by this console; reload the page and try again"
    )]
    Csrf,
    /// The case changed meanwhile (claimed by someone else, already decided, own proposal).
    #[error("{0}")]
    Conflict(String),
    /// The database or another dependency is unavailable.
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable,
    /// A bug; details are in the log under the id.
    #[error("something went wrong on our side")]
    Internal {
        /// Correlates the page with the log line.
        error_id: String,
    },
}

impl From<ApiError> for ConsoleError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::NotFound => ConsoleError::NotFound,
            ApiError::Unavailable => ConsoleError::Unavailable,
            ApiError::Internal { error_id } => ConsoleError::Internal { error_id },
            ApiError::NotPendingReview { status } => {
                ConsoleError::Conflict(format!("The case is no longer pending review (it is {status})."))
            }
            ApiError::IntegrityCheckFailed => ConsoleError::Conflict(
                "The stored record does not match its content hash; it cannot be reviewed. Verify the \
                 audit trail."
                    .into(),
            ),
            other => ConsoleError::BadRequest(other.to_string()),
        }
    }
}

impl ConsoleError {
    /// Logs `cause` with a fresh error id and returns the page that refers to it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ConsoleError {
        match ApiError::internal(cause) {
            ApiError::Internal { error_id } => ConsoleError::Internal { error_id },
            _ => ConsoleError::Unavailable,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html", config = "src/console/askama.toml")]
struct ErrorPage<'a> {
    nav: Option<super::Nav>,
    heading: &'a str,
    message: String,
    error_id: Option<&'a str>,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } | ConsoleError::Redirect(_) => StatusCode::SEE_OTHER,
            ConsoleError::Forbidden(_) | ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let location = match self {
            ConsoleError::SignIn { next } => Some(format!(
                "/console/login?next={}",
                super::percent_encode(next)
            )),
            ConsoleError::Redirect(to) => Some(to.clone()),
            _ => None,
        };
        if let Some(location) = location {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        let heading = match self {
            ConsoleError::Forbidden(_) | ConsoleError::Csrf => "Not allowed",
            ConsoleError::NotFound => "Not found",
            ConsoleError::BadRequest(_) => "That did not work",
            ConsoleError::Conflict(_) => "The case changed",
            ConsoleError::Unavailable => "Temporarily unavailable",
            _ => "Something went wrong",
        };
        let error_id = match self {
            ConsoleError::Internal { error_id } => Some(error_id.as_str()),
            _ => None,
        };
        let page = ErrorPage {
            nav: None,
            heading,
            message: self.to_string(),
            error_id,
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ConsoleError::Unavailable) {
            response.insert_header((header::RETRY_AFTER, "5"));
        }
        match page.render() {
            Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
            Err(_) => response
                .content_type("text/plain; charset=utf-8")
                .body(heading),
        }
    }
}

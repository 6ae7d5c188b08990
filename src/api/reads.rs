//! Plumbing shared by the auditor routes: strict query parsing, database work off the async workers, the
//! `purpose` rule (`audit.require_purpose`), and the audit event every read of personal data or images
//! appends *before* the data is sent — if the event cannot be stored, nothing is disclosed (503).

use std::collections::HashMap;

use actix_web::{HttpMessage, HttpRequest, web};
use serde_json::Value;

use super::submit::store_error;
use super::{AppState, LogFields};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::records::QueryError;
use crate::records::view::RecordsError;
use crate::store::audit_log::AuditDraft;
use crate::store::{DbConnection, StoreError};

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        ApiError::InvalidQuery(err.0)
    }
}

impl From<RecordsError> for ApiError {
    fn from(err: RecordsError) -> Self {
        match err {
            RecordsError::Query(e) => store_error(StoreError::from(e)),
            other => ApiError::internal(&other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        store_error(StoreError::from(err))
    }
}

/// The query string as a map. Unknown or repeated parameters are refused: a mistyped filter must not
/// silently widen what an auditor reads.
pub fn query_params(
    req: &HttpRequest,
    allowed: &[&str],
) -> Result<HashMap<String, String>, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidQuery("the query string is malformed".into()))?
        .into_inner();
    let mut map = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            return Err(ApiError::InvalidQuery(format!(
                "unknown parameter `{name}`; known: {}",
                allowed.join(", ")
            )));
        }
        if map.insert(name.clone(), value).is_some() {
            return Err(ApiError::InvalidQuery(format!(
                "parameter `{name}` is given twice"
            )));
        }
    }
    Ok(map)
}

/// Checks `purpose` against `audit.require_purpose`.
pub fn purpose(state: &AppState, given: Option<&String>) -> Result<Option<String>, ApiError> {
    state
        .settings
        .audit
        .check_purpose(given.map(String::as_str))
        .map_err(|e| ApiError::PurposeRequired(e.to_string()))
}

/// Puts the client id on the request's log line.
pub fn log_client(req: &HttpRequest, principal: &Principal) {
    req.extensions_mut().insert(LogFields {
        requester_id: None,
        client_id: Some(principal.client_id.clone()),
    });
}

/// Runs `work` with a pooled connection on the blocking thread pool.
pub async fn with_db<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get().map_err(|e| store_error(e.into()))?;
        work(&mut conn)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
}

/// Appends the audit event of a read of personal data or images and waits for its commit. `details` must
/// name things (fields, kinds, references, the purpose), never personal values.
pub async fn audit_read(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    reference: Option<String>,
    details: Value,
) -> Result<(), ApiError> {
    state
        .writer
        .audit(AuditDraft {
            kind: kind.into(),
            actor: Some(principal.client_id.clone()),
            reference,
            requester_id: None,
            details,
        })
        .await
        .map_err(|e| {
            log::warn!("read of personal data refused: its audit event was not stored ({e})");
            store_error(e)
        })
}

//! Plumbing shared by the auditor routes: database work off the async workers, the `purpose` rule
//! (`audit.require_purpose`), and the audit event every read of personal data or images appends *before* the
//! data is sent — if the event cannot be stored, nothing is disclosed (503).

use actix_web::web;
use serde_json::Value;

use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::store::DbConnection;
use crate::store::audit_log::AuditDraft;
use crate::submission::Reference;

/// Checks `purpose` against `audit.require_purpose`.
pub fn purpose(state: &AppState, given: Option<&str>) -> Result<Option<String>, ApiError> {
    state
        .settings
        .audit
        .check_purpose(given)
        .map_err(|e| ApiError::PurposeRequired(e.to_string()))
}

/// Runs `work` with a pooled connection on the blocking thread pool.
pub async fn with_db<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || work(&mut *pool.get()?)).await?
}

/// Appends the audit event of a read of personal data or images and waits for its commit. `details` must
/// name things (fields, kinds, references, the purpose), never personal values.
pub async fn audit_read(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    reference: Option<Reference>,
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
            e.into()
        })
}

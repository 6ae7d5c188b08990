//! A payload through a mapping without storing anything: what `kyc-receiver mappings test` prints and what
//! the console's dry-run page shows. The reference in the rendered response is a fixed placeholder.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{MappingSet, ResponseContext};
use crate::decision::Decision;

/// What a payload would become.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The mapping's name.
    pub mapping_name: String,
    /// Its file.
    pub mapping_file: std::path::PathBuf,
    /// SHA-256 of its file.
    pub mapping_sha256: String,
    /// The canonical fields.
    pub fields: Map<String, Value>,
    /// Which of them are personal.
    pub pii: BTreeSet<String>,
    /// Images found: kind, base64 characters and approximate decoded size.
    pub images: Vec<(String, usize, usize)>,
    /// The decision with its reasons.
    pub decision: Decision,
    /// Values that did not fit their field's type (names, never values).
    pub warnings: Vec<String>,
    /// The confirmation that would be sent.
    pub response: Value,
}

/// The reference a dry run's confirmation carries.
pub const DRY_RUN_REFERENCE: &str = "KYC-dry-run";

/// Runs `payload` (plaintext JSON) through `set`, or through the mapping named `mapping`.
pub fn dry_run(
    set: &MappingSet,
    payload: &[u8],
    mapping: Option<&str>,
    now: DateTime<Utc>,
) -> Result<DryRun, String> {
    let root = crate::payload::parse(payload).map_err(|e| format!("payload: {e}"))?;
    let mapping = match mapping {
        Some(name) => set.get(name).ok_or_else(|| {
            format!(
                "no mapping named `{name}` (have: {})",
                set.names().join(", ")
            )
        })?,
        None => set.select(&root).map_err(|e| e.to_string())?,
    };
    let mapped = mapping.apply(&root, now).map_err(|e| e.to_string())?;
    let response = mapping
        .render_response(&ResponseContext {
            payload: &root,
            fields: &mapped.fields,
            decision: &mapped.decision,
            reference: DRY_RUN_REFERENCE,
            received_at: now,
        })
        .map_err(|e| e.to_string())?;
    Ok(DryRun {
        mapping_name: mapping.name.clone(),
        mapping_file: mapping.file.clone(),
        mapping_sha256: mapping.sha256.clone(),
        images: mapped
            .images
            .iter()
            .map(|i| (i.kind.clone(), i.data.len(), i.data.len() / 4 * 3))
            .collect(),
        fields: mapped.fields,
        pii: mapped.pii,
        decision: mapped.decision,
        warnings: mapped.warnings,
        response,
    })
}

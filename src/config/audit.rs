//! `[audit]`: rules for reads of personal data, and the signed heads of the audit chain kept outside the
//! database. Reads `[audit]`.

use std::path::PathBuf;

use serde::Deserialize;

/// Longest `purpose` text accepted with a read of personal data or images.
pub const MAX_PURPOSE_LEN: usize = 200;

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Refuse reads of personal data or images (HTTP and CLI) that do not say why (`purpose`).
    pub require_purpose: bool,
    /// The Ed25519 key (PEM) that signs the chain's head; never stored in the database.
    pub head_key_file: PathBuf,
    /// Create `head_key_file` when it is missing.
    pub head_key_generate: bool,
    /// Where signed heads are appended (JSON Lines), outside the database.
    pub heads_file: PathBuf,
    /// Sign the head this often when it moved (0: only on demand).
    pub head_interval_secs: u64,
    /// Also POST each signed head here (JSON), e.g. to an auditor's log; failures are logged and retried
    /// with the next head.
    pub heads_url: Option<String>,
    /// The instance name in signed heads (default: the host name).
    pub instance: Option<String>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            require_purpose: false,
            head_key_file: PathBuf::from("certs/audit-head.pem"),
            head_key_generate: true,
            heads_file: PathBuf::from("data/audit-heads.jsonl"),
            head_interval_secs: 60,
            heads_url: None,
            instance: None,
        }
    }
}

impl AuditSettings {
    /// The instance name written into signed heads.
    pub fn instance_name(&self) -> String {
        self.instance.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "kyc-receiver".into())
        })
    }
}

/// Why a `purpose` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurposeError {
    /// `audit.require_purpose` is on and none was given.
    #[error(
        "a `purpose` is required to read personal data or images (audit.require_purpose = true)"
    )]
    Missing,
    /// Too long or with control characters.
    #[error("`purpose` must be at most {MAX_PURPOSE_LEN} characters of printable text")]
    Invalid,
}

impl AuditSettings {
    /// Checks the purpose of a read of personal data or images; returns it trimmed (`None` when absent and
    /// allowed).
    pub fn check_purpose(&self, purpose: Option<&str>) -> Result<Option<String>, PurposeError> {
        // Lengths count the text as given, before trimming, as the OpenAPI document states them.
        if let Some(p) = purpose
            && (p.chars().count() > MAX_PURPOSE_LEN || p.chars().any(char::is_control))
        {
            return Err(PurposeError::Invalid);
        }
        match purpose.map(str::trim).filter(|p| !p.is_empty()) {
            None if self.require_purpose => Err(PurposeError::Missing),
            None => Ok(None),
            Some(p) => Ok(Some(p.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_is_optional_unless_required() {
        let relaxed = AuditSettings::default();
        assert_eq!(relaxed.check_purpose(None), Ok(None));
        assert_eq!(relaxed.check_purpose(Some("  ")), Ok(None));
        let strict = AuditSettings {
            require_purpose: true,
            ..AuditSettings::default()
        };
        assert_eq!(strict.check_purpose(None), Err(PurposeError::Missing));
        assert_eq!(strict.check_purpose(Some(" ")), Err(PurposeError::Missing));
        assert_eq!(
            strict.check_purpose(Some(" case 42 ")),
            Ok(Some("case 42".into()))
        );
    }

    #[test]
    fn overlong_or_control_purposes_are_refused() {
        let s = AuditSettings::default();
        assert_eq!(
            s.check_purpose(Some(&"x".repeat(MAX_PURPOSE_LEN + 1))),
            Err(PurposeError::Invalid)
        );
        assert_eq!(s.check_purpose(Some("a\nb")), Err(PurposeError::Invalid));
    }
}

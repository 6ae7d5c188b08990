//! The confirmation check the upstream performs on the receiver's answer: parse JSON, then read the
//! result, reference number and user id through configurable *locators* (docs/ditto-protocol.md §7.2:
//! `resultLocator`, `referenceNumberLocator`, `userIdLocator`). It reads plain JSON by name on purpose and
//! never uses the receiver's own response types, so a receiver whose template drifts is caught here.
//!
//! Locator syntax is not documented upstream; a locator is a top-level key, or a dot path into nested
//! objects (array elements by number). An empty locator is disabled, except `result`, which is required.

use serde::Deserialize;
use serde_json::Value;

/// Where the three values sit in the response JSON (config `[locators]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Locators {
    /// The boolean proceed/stop value (`resultLocator`).
    #[serde(alias = "resultLocator")]
    pub result: String,
    /// The receiver's reference (`referenceNumberLocator`); empty = not checked.
    #[serde(alias = "referenceNumberLocator")]
    pub reference_number: String,
    /// The user id (`userIdLocator`); empty = not checked.
    #[serde(alias = "userIdLocator")]
    pub user_id: String,
}

impl Default for Locators {
    fn default() -> Self {
        Self {
            result: "result".into(),
            reference_number: "reference_number".into(),
            user_id: "user_id".into(),
        }
    }
}

/// A valid confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// Whether the upstream proceeds with the workflow.
    pub result: bool,
    /// The receiver's reference, when its locator is set.
    pub reference_number: Option<String>,
    /// The user id as answered, when its locator is set (a different value renames the user upstream).
    pub user_id: Option<String>,
}

/// Why a response is not a valid confirmation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    /// The body is not JSON.
    #[error("response is not JSON: {0}")]
    NotJson(String),
    /// A required locator finds nothing.
    #[error("locator `{0}` finds no value in the response")]
    Missing(String),
    /// A locator finds a value of the wrong type.
    #[error("locator `{locator}` finds {found}, expected {expected}")]
    WrongType {
        /// The locator.
        locator: String,
        /// What was there.
        found: &'static str,
        /// What should be.
        expected: &'static str,
    },
    /// The result locator is empty.
    #[error("the result locator must not be empty")]
    NoResultLocator,
}

impl ConfirmError {
    /// Short code for load statistics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "invalid_confirmation_json",
            Self::Missing(_) | Self::NoResultLocator => "confirmation_field_missing",
            Self::WrongType { .. } => "confirmation_field_type",
        }
    }
}

impl Locators {
    /// Checks `body` and extracts the confirmation.
    pub fn check(&self, body: &[u8]) -> Result<Confirmation, ConfirmError> {
        if self.result.trim().is_empty() {
            return Err(ConfirmError::NoResultLocator);
        }
        let root: Value =
            serde_json::from_slice(body).map_err(|e| ConfirmError::NotJson(e.to_string()))?;
        let result = match locate(&root, &self.result) {
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(wrong(&self.result, other, "a boolean")),
            None => return Err(ConfirmError::Missing(self.result.clone())),
        };
        Ok(Confirmation {
            result,
            reference_number: text(&root, &self.reference_number)?,
            user_id: text(&root, &self.user_id)?,
        })
    }
}

/// A required non-empty string, or `None` when the locator is disabled.
fn text(root: &Value, locator: &str) -> Result<Option<String>, ConfirmError> {
    if locator.trim().is_empty() {
        return Ok(None);
    }
    match locate(root, locator) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(Value::String(_)) | None => Err(ConfirmError::Missing(locator.to_owned())),
        Some(other) => Err(wrong(locator, other, "a string")),
    }
}

fn wrong(locator: &str, found: &Value, expected: &'static str) -> ConfirmError {
    let found = match found {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    ConfirmError::WrongType {
        locator: locator.to_owned(),
        found,
        expected,
    }
}

/// A top-level key first (names may contain dots), then a dot path; `$.` in front is ignored.
pub fn locate<'v>(root: &'v Value, locator: &str) -> Option<&'v Value> {
    let locator = locator.trim();
    let locator = locator.strip_prefix("$.").unwrap_or(locator);
    if let Some(v) = root.get(locator) {
        return Some(v);
    }
    locator.split('.').try_fold(root, |v, part| match v {
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => v.get(part),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_confirmation_is_valid() {
        let c = Locators::default()
            .check(br#"{"result":false,"reference_number":"KYC-1","user_id":"u1"}"#)
            .unwrap();
        assert!(!c.result);
        assert_eq!(c.reference_number.as_deref(), Some("KYC-1"));
        assert_eq!(c.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn nested_locators_and_ditto_names_are_followed() {
        let l: Locators = serde_json::from_str(
            r#"{"resultLocator": "data.ok", "referenceNumberLocator": "$.data.refs.0",
                "userIdLocator": ""}"#,
        )
        .unwrap();
        let c = l
            .check(br#"{"data":{"ok":true,"refs":["R-9"]},"user_id":"ignored"}"#)
            .unwrap();
        assert_eq!(
            (c.result, c.reference_number.as_deref(), c.user_id),
            (true, Some("R-9"), None)
        );
    }

    #[test]
    fn a_string_result_or_a_missing_user_id_is_not_a_confirmation() {
        let l = Locators::default();
        let e = l
            .check(br#"{"result":"true","reference_number":"K","user_id":"u"}"#)
            .unwrap_err();
        assert_eq!(e.code(), "confirmation_field_type");
        let e = l
            .check(br#"{"result":true,"reference_number":"K"}"#)
            .unwrap_err();
        assert_eq!(e, ConfirmError::Missing("user_id".into()));
        let e = l
            .check(br#"{"result":true,"reference_number":"","user_id":"u"}"#)
            .unwrap_err();
        assert_eq!(e, ConfirmError::Missing("reference_number".into()));
    }

    #[test]
    fn an_error_body_or_plain_text_is_not_a_confirmation() {
        let l = Locators::default();
        assert_eq!(
            l.check(br#"{"error":"invalid_json","message":"x"}"#)
                .unwrap_err(),
            ConfirmError::Missing("result".into())
        );
        assert_eq!(
            l.check(b"OK").unwrap_err().code(),
            "invalid_confirmation_json"
        );
    }

    #[test]
    fn a_key_with_a_dot_is_found_before_the_path() {
        let v: Value = serde_json::from_str(r#"{"a.b": 1, "a": {"b": 2}}"#).unwrap();
        assert_eq!(locate(&v, "a.b"), Some(&Value::from(1)));
    }
}

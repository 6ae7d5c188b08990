//! The incoming submission as JSON: parsed once into a `serde_json::Value`, then checked leniently where the
//! upstream varies (optional blocks, unknown fields kept, `field_list` as array or object) and strictly where
//! safety needs it (ids present, known fields of the right type). See docs/ditto-protocol.md §0.7 and §3.

use serde_json::Value;

/// Longest requester id we accept; it is an idempotency key and appears in audit events.
pub const MAX_REQUESTER_ID_LEN: usize = 128;

/// A body that is not a usable submission.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// Not JSON at all. The message carries the position, never content.
    #[error("{0}")]
    Json(String),
    /// JSON of the wrong shape at `path`.
    #[error("{path}: {message}")]
    Invalid {
        /// Dotted JSON path.
        path: String,
        /// What was expected.
        message: String,
    },
}

/// The fields every submission must carry, borrowed from the parsed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `request_info.requester_id`: the idempotency key.
    pub requester_id: &'a str,
    /// `request_info.user_id`: echoed in the confirmation.
    pub user_id: &'a str,
    /// `request_info.app_id`.
    pub app_id: Option<&'a str>,
    /// `kyc_info.document.version`.
    pub document_version: Option<&'a str>,
    /// `kyc_info.document.document_status.overall_document_status`.
    pub document_status: Option<&'a str>,
}

/// Parses the body. serde_json refuses nesting deeper than 128 levels, which bounds recursion on hostile input.
pub fn parse(bytes: &[u8]) -> Result<Value, PayloadError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "the body ends before the JSON does",
            _ if e.to_string().contains("recursion limit") => "the JSON is nested too deeply",
            _ => "the body is not valid JSON",
        };
        PayloadError::Json(format!("{what} (line {}, column {})", e.line(), e.column()))
    })
}

/// Bytes of memory a JSON text takes once parsed into a `serde_json::Value`, estimated from above without
/// parsing: its own length (strings are copied) plus [`BYTES_PER_TOKEN`] for every value and member (counted
/// by the `[`, `{`, `,` and `:` outside strings). A body of small numbers grows about twentyfold when parsed;
/// this lets the caller charge what it really costs against the in-flight memory budget.
pub fn parsed_cost(json: &[u8]) -> usize {
    let mut tokens = 1usize;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                // Skip the string: jump to each quote or backslash, stepping over escapes.
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', json.get(i..).unwrap_or_default()) {
                        Some(at) if json[i + at] == b'\\' => i += at + 2,
                        Some(at) => {
                            i += at;
                            break;
                        }
                        None => {
                            return json
                                .len()
                                .saturating_add(tokens.saturating_mul(BYTES_PER_TOKEN));
                        }
                    }
                }
            }
            b'[' | b'{' | b',' | b':' => tokens += 1,
            _ => {}
        }
        i += 1;
    }
    json.len()
        .saturating_add(tokens.saturating_mul(BYTES_PER_TOKEN))
}

/// Memory per JSON value or object member once parsed (a `Value` is 32 bytes; a map entry adds its key and
/// its share of the tree's nodes).
pub const BYTES_PER_TOKEN: usize = 96;

/// Expected JSON kinds of known optional fields; a present field of another kind is refused by path.
const TYPED_FIELDS: &[(&str, Kind)] = &[
    ("request_info.app_id", Kind::String),
    ("kyc_info", Kind::Object),
    ("kyc_info.face_matcher_result.score", Kind::Number),
    ("kyc_info.face_matcher_result.score_percent", Kind::Number),
    (
        "kyc_info.liveness_check.video.liveness_result.score",
        Kind::Number,
    ),
    (
        "kyc_info.liveness_check.video.autocapture_result.selfie_image",
        Kind::String,
    ),
    ("kyc_info.document", Kind::Object),
    ("kyc_info.document.version", Kind::String),
    (
        "kyc_info.document.document_info.document_images",
        Kind::Object,
    ),
    (
        "kyc_info.document.document_status.overall_document_status",
        Kind::String,
    ),
    ("kyc_info.document.document_status.error_list", Kind::Array),
    (
        "kyc_info.document.document_status.is_nfc_document",
        Kind::Bool,
    ),
    ("kyc_info.document.identity_data", Kind::Object),
];

#[derive(Clone, Copy)]
enum Kind {
    String,
    Number,
    Bool,
    Array,
    Object,
}

impl Kind {
    fn matches(self, v: &Value) -> bool {
        match self {
            Kind::String => v.is_string(),
            Kind::Number => v.is_number(),
            Kind::Bool => v.is_boolean(),
            Kind::Array => v.is_array(),
            Kind::Object => v.is_object(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Number => "a number",
            Kind::Bool => "true or false",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

fn invalid(path: &str, message: impl Into<String>) -> PayloadError {
    PayloadError::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Walks a dotted path; `null` counts as absent.
pub fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(root, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn required_id<'a>(root: &'a Value, path: &str, max: usize) -> Result<&'a str, PayloadError> {
    match lookup(root, path) {
        None => Err(invalid(path, "is required")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(invalid(path, "must not be empty")),
        Some(Value::String(s)) if s.len() > max => {
            Err(invalid(path, format!("must be at most {max} bytes")))
        }
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(path, "must be a string")),
    }
}

/// Checks the shape and borrows the envelope fields.
pub fn envelope(root: &Value) -> Result<Envelope<'_>, PayloadError> {
    if !root.is_object() {
        return Err(invalid("$", "the submission must be a JSON object"));
    }
    match root.get("request_info") {
        Some(Value::Object(_)) => {}
        None | Some(Value::Null) => return Err(invalid("request_info", "is required")),
        Some(_) => return Err(invalid("request_info", "must be an object")),
    }
    let requester_id = required_id(root, "request_info.requester_id", MAX_REQUESTER_ID_LEN)?;
    let user_id = required_id(root, "request_info.user_id", 512)?;
    for (path, kind) in TYPED_FIELDS {
        if let Some(v) = lookup(root, path)
            && !kind.matches(v)
        {
            return Err(invalid(path, format!("must be {}", kind.name())));
        }
    }
    if let Some(Value::Object(images)) =
        lookup(root, "kyc_info.document.document_info.document_images")
    {
        for (name, v) in images {
            if !(v.is_string() || v.is_null()) {
                return Err(invalid(
                    &format!("kyc_info.document.document_info.document_images.{name}"),
                    "must be a base64 string",
                ));
            }
        }
    }
    Ok(Envelope {
        requester_id,
        user_id,
        app_id: lookup(root, "request_info.app_id").and_then(Value::as_str),
        document_version: lookup(root, "kyc_info.document.version").and_then(Value::as_str),
        document_status: lookup(
            root,
            "kyc_info.document.document_status.overall_document_status",
        )
        .and_then(Value::as_str),
    })
}

/// A requester id fit to appear in audit events of refused requests: short and of a plain alphabet, so a
/// hostile value cannot smuggle personal data into the trail.
pub fn loggable_requester_id(root: &Value) -> Option<String> {
    lookup(root, "request_info.requester_id")
        .and_then(Value::as_str)
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests;

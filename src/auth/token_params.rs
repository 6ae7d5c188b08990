//! Gathering the parameters of a token request from its body and, where allowed, its query string.
//!
//! Owns: [`collect`]. Reads: `auth.allow_get_token` (passed in).
//!
//! - Form bodies (`application/x-www-form-urlencoded`, RFC 6749 §4.4.2) and JSON objects of strings (the
//!   upstream's `bodyParameters`, docs/ditto-protocol.md §5.2). Without a Content-Type, a body starting with `{`
//!   is read as JSON, anything else as a form (the upstream sends whatever header its admin configured).
//! - A parameter given twice is an error (RFC 6749 §3.2: "MUST NOT be included more than once").
//! - The query string is read only with `auth.allow_get_token`; otherwise OAuth parameters there are
//!   refused rather than ignored, so a misconfigured client gets a clear answer instead of "missing
//!   client_id".

use std::collections::HashMap;

use serde_json::Value;

use super::oauth_error::{OAuthError, OAuthErrorCode};
use super::token_endpoint::TokenRequest;

/// Largest accepted body; a client-credentials request is a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;
const OAUTH_PARAMS: [&str; 4] = ["grant_type", "client_id", "client_secret", "scope"];

fn bad(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRequest, description)
}

/// All parameters of `req`, each at most once.
pub fn collect(req: &TokenRequest, allow_get: bool) -> Result<HashMap<String, String>, OAuthError> {
    let is_get = match req.method.to_ascii_uppercase().as_str() {
        "POST" => false,
        "GET" if allow_get => true,
        _ => return Err(OAuthError::method_not_allowed(allow_get)),
    };
    let mut params = HashMap::new();
    if !is_get {
        parse_body(req, &mut params)?;
    }
    let query = form_pairs(req.query.as_bytes());
    if allow_get {
        for (k, v) in query {
            insert(&mut params, k, v)?;
        }
    } else if query
        .iter()
        .any(|(k, _)| OAUTH_PARAMS.contains(&k.as_str()))
    {
        return Err(bad(
            "parameters in the query string are not accepted (auth.allow_get_token is off); send them in the body",
        ));
    }
    Ok(params)
}

fn parse_body(req: &TokenRequest, params: &mut HashMap<String, String>) -> Result<(), OAuthError> {
    if req.body.len() > MAX_BODY {
        return Err(bad("request body too large"));
    }
    let media_type = req
        .content_type
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let is_json = match media_type.as_deref() {
        Some("application/x-www-form-urlencoded") => false,
        Some("application/json") => true,
        Some(m) if m.ends_with("+json") => true,
        None | Some("") => req.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'),
        Some(_) => {
            return Err(bad(
                "unsupported content type; use application/x-www-form-urlencoded or JSON",
            ));
        }
    };
    if is_json {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&req.body) else {
            return Err(bad("body is not a JSON object"));
        };
        for (k, v) in map {
            let Value::String(v) = v else {
                return Err(bad("JSON parameters must be strings"));
            };
            insert(params, k, v)?;
        }
    } else {
        if std::str::from_utf8(&req.body).is_err() {
            return Err(bad("body is not UTF-8"));
        }
        for (k, v) in form_pairs(&req.body) {
            insert(params, k, v)?;
        }
    }
    Ok(())
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    oauth2::url::form_urlencoded::parse(bytes)
        .into_owned()
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn insert(params: &mut HashMap<String, String>, k: String, v: String) -> Result<(), OAuthError> {
    // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted."
    if v.is_empty() {
        return Ok(());
    }
    if params.insert(k, v).is_some() {
        return Err(bad("a parameter was given more than once"));
    }
    Ok(())
}

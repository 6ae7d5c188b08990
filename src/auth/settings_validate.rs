//! Validation of the `auth` section: `AuthSettings::validate`.
//!
//! Reads every `auth.*` key (see `settings`). Errors and warnings start with the full key, e.g.
//! `auth.clients[1].secret_hash: not an argon2id PHC string`; all errors are reported at once.

use std::collections::HashSet;

use secrecy::ExposeSecret;

use super::error::AuthConfigError;
use super::principal::{is_valid_scope_token, scopes};
use super::secret_hash::{PhcCheck, check_phc};
use super::settings::{
    AuthMode, AuthSettings, BasicUserSettings, ClientSettings, IntrospectionSettings, JwksSettings,
    parse_allowed_algorithm,
};

#[derive(Default)]
struct Report {
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl Report {
    fn err(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.errors.push(format!("auth.{key}: {msg}"));
    }

    fn warn(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.warnings.push(format!("auth.{key}: {msg}"));
    }
}

impl AuthSettings {
    /// Checks the section; returns warnings, or every error found, each naming its key.
    pub fn validate(&self) -> Result<Vec<String>, AuthConfigError> {
        let mut r = Report::default();
        self.check_general(&mut r);
        self.check_builtin(&mut r);
        match (self.has_mode(AuthMode::Jwks), &self.jwks) {
            (true, None) => r.err("jwks", "required when the jwks mode is enabled"),
            (true, Some(j)) => check_jwks(j, &mut r),
            (false, Some(_)) => r.warn("jwks", "ignored because the jwks mode is not enabled"),
            (false, None) => {}
        }
        match (self.has_mode(AuthMode::Introspection), &self.introspection) {
            (true, None) => r.err(
                "introspection",
                "required when the introspection mode is enabled",
            ),
            (true, Some(s)) => check_introspection(s, &mut r),
            (false, Some(_)) => r.warn(
                "introspection",
                "ignored because the introspection mode is not enabled",
            ),
            (false, None) => {}
        }
        if self.has_mode(AuthMode::Basic) && self.basic.is_empty() {
            r.err(
                "basic",
                "at least one entry is required when the basic mode is enabled",
            );
        }
        check_basic_users(&self.basic, &mut r);
        if r.errors.is_empty() {
            Ok(r.warnings)
        } else {
            Err(AuthConfigError::Invalid(r.errors))
        }
    }

    fn check_general(&self, r: &mut Report) {
        if self.modes.is_empty() {
            r.err(
                "modes",
                "at least one of builtin, jwks, introspection, basic is required",
            );
        }
        if self.issuer.trim().is_empty() {
            r.err("issuer", "must not be empty");
        }
        if self.audience.trim().is_empty() {
            r.err("audience", "must not be empty");
        }
        if !(60..=86_400).contains(&self.token_ttl_secs) {
            r.err("token_ttl_secs", "must be between 60 and 86400");
        }
        if !self.token_path.starts_with('/') {
            r.err("token_path", "must start with /");
        }
        if self.allow_get_token {
            r.warn(
                "allow_get_token",
                "true: client secrets sent as query parameters end up in access logs and proxies",
            );
        }
    }

    fn check_builtin(&self, r: &mut Report) {
        if self.has_mode(AuthMode::Builtin) {
            let s = &self.signing;
            if s.key_id.trim().is_empty() {
                r.err("signing.key_id", "must not be empty");
            }
            if s.key_file.as_os_str().is_empty() {
                r.err("signing.key_file", "must not be empty");
            }
            let mut kids = HashSet::from([s.key_id.as_str()]);
            for (i, p) in s.previous.iter().enumerate() {
                if p.key_id.trim().is_empty() || !kids.insert(p.key_id.as_str()) {
                    r.err(
                        &format!("signing.previous[{i}].key_id"),
                        "must be non-empty and unique",
                    );
                }
            }
            if self.clients.is_empty() {
                r.warn(
                    "clients",
                    "builtin mode is enabled but no client can obtain a token",
                );
            }
        } else if !self.clients.is_empty() {
            r.warn("clients", "ignored because builtin mode is not enabled");
        }
        let mut ids = HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            check_client(&format!("clients[{i}]"), c, &mut ids, r);
        }
    }
}

fn check_client<'a>(key: &str, c: &'a ClientSettings, ids: &mut HashSet<&'a str>, r: &mut Report) {
    if c.client_id.is_empty() || c.client_id.chars().any(char::is_control) {
        r.err(
            &format!("{key}.client_id"),
            "must be non-empty without control characters",
        );
    } else if !ids.insert(c.client_id.as_str()) {
        r.err(&format!("{key}.client_id"), "duplicate client id");
    }
    check_hash(
        &format!("{key}.secret_hash"),
        c.secret_hash.expose_secret(),
        r,
    );
    check_scopes(&format!("{key}.scopes"), &c.scopes, r);
    if c.cert_subject
        .as_deref()
        .is_some_and(|s| s.trim().is_empty())
    {
        r.err(&format!("{key}.cert_subject"), "must not be empty when set");
    }
}

fn check_jwks(j: &JwksSettings, r: &mut Report) {
    check_url("jwks.url", &j.url, r);
    if j.issuer.trim().is_empty() {
        r.err("jwks.issuer", "must not be empty");
    }
    if j.audience.as_deref().is_some_and(|a| a.trim().is_empty()) {
        r.err("jwks.audience", "must not be empty when set");
    }
    if j.algorithms.is_empty() {
        r.err("jwks.algorithms", "must list at least one algorithm");
    }
    for (i, a) in j.algorithms.iter().enumerate() {
        if let Err(m) = parse_allowed_algorithm(a) {
            r.err(&format!("jwks.algorithms[{i}]"), m);
        }
    }
    if j.refresh_floor_secs == 0 {
        r.err("jwks.refresh_floor_secs", "must be at least 1");
    }
    if j.leeway_secs > 300 {
        r.err("jwks.leeway_secs", "must be at most 300");
    }
}

fn check_introspection(s: &IntrospectionSettings, r: &mut Report) {
    check_url("introspection.url", &s.url, r);
    if s.client_id.is_empty() {
        r.err("introspection.client_id", "must not be empty");
    }
    if s.client_secret.expose_secret().is_empty() {
        r.err("introspection.client_secret", "must not be empty");
    }
    if s.audience.as_deref().is_some_and(|a| a.trim().is_empty()) {
        r.err("introspection.audience", "must not be empty when set");
    }
    if s.audience.is_none() {
        r.warn(
            "introspection.audience",
            "not set: ANY active token of this authorization server is accepted, whatever resource \
             it was issued for; set the audience this service's tokens carry",
        );
    }
    if s.cache_secs > 3600 {
        r.err("introspection.cache_secs", "must be at most 3600");
    } else if s.cache_secs > 300 {
        r.warn(
            "introspection.cache_secs",
            "revoked tokens stay usable for up to this long",
        );
    }
}

fn check_basic_users(users: &[BasicUserSettings], r: &mut Report) {
    let mut names = HashSet::new();
    for (i, b) in users.iter().enumerate() {
        let key = format!("basic[{i}]");
        // RFC 7617 §2: the user-id cannot contain a colon.
        if b.username.is_empty()
            || b.username.contains(':')
            || b.username.chars().any(char::is_control)
        {
            r.err(
                &format!("{key}.username"),
                "must be non-empty, without ':' or control characters",
            );
        } else if !names.insert(b.username.as_str()) {
            r.err(&format!("{key}.username"), "duplicate username");
        }
        check_hash(
            &format!("{key}.password_hash"),
            b.password_hash.expose_secret(),
            r,
        );
        check_scopes(&format!("{key}.scopes"), &b.scopes, r);
    }
}

fn check_hash(key: &str, phc: &str, r: &mut Report) {
    match check_phc(phc) {
        PhcCheck::Ok => {}
        PhcCheck::Weak(m) => r.warn(key, m),
        PhcCheck::NotArgon2id => r.err(key, "not an argon2id PHC string"),
    }
}

fn check_scopes(key: &str, list: &[String], r: &mut Report) {
    if list.is_empty() {
        r.err(key, "must grant at least one scope");
    }
    for (i, s) in list.iter().enumerate() {
        if !is_valid_scope_token(s) || !scopes::is_known(s) {
            let known = scopes::ALL.join(", ");
            r.err(
                &format!("{key}[{i}]"),
                format!("unknown scope {s:?} (known: {known})"),
            );
        }
    }
}

fn check_url(key: &str, url: &str, r: &mut Report) {
    match oauth2::url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => {}
        Ok(u) if u.scheme() == "http" => {
            let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if !loopback {
                r.warn(key, "plain http to a non-loopback host; use https");
            }
        }
        Ok(_) => r.err(key, "must be an http(s) URL"),
        Err(e) => r.err(key, format!("not a URL ({e})")),
    }
}

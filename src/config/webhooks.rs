//! `[events]` (the decision events every instance writes) and `[webhooks]` (the endpoints they are delivered to,
//! signed the Standard Webhooks way). Reads `[events]` and `[webhooks]`. Checks what can be checked without the
//! network: names, URLs (HTTPS except to loopback; private address literals only with `allow_private`),
//! secrets (`whsec_` and base64 of at least 24 bytes), event kinds. Names resolved at delivery are checked
//! again then, each time (`events::deliver`).

use std::net::IpAddr;
use std::path::PathBuf;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ConfigError;

/// The kinds of decision event.
pub const EVENT_KINDS: [&str; 4] = [
    "submission.decided",
    "submission.reviewed",
    "submission.replayed",
    "subject.erased",
];

/// `[events]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSettings {
    /// Write decision events (the change feed and webhooks read them).
    pub enabled: bool,
    /// Longest `wait` of `GET /v1/events`.
    pub max_wait_secs: u64,
    /// Events are deleted this many days after they happened, once every endpoint is past them and none is
    /// a dead letter (0 keeps them). Feed consumers further behind than this miss them.
    pub retention_days: u32,
}

impl Default for EventsSettings {
    fn default() -> Self {
        EventsSettings {
            enabled: true,
            max_wait_secs: 30,
            retention_days: 30,
        }
    }
}

/// `[webhooks]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSettings {
    /// How long an event is retried before it is dead-lettered.
    pub horizon_secs: u64,
    /// The first retry's delay; each further one doubles it (with ±20 % jitter) up to `retry_max_secs`.
    pub retry_base_ms: u64,
    /// The longest delay between two attempts.
    pub retry_max_secs: u64,
    /// How often each instance looks for work (a commit on this instance wakes it at once).
    pub poll_ms: u64,
    /// How long an instance holds an endpoint while delivering to it.
    pub lease_secs: u64,
    /// The endpoints.
    pub endpoints: Vec<EndpointSettings>,
}

impl Default for WebhooksSettings {
    fn default() -> Self {
        WebhooksSettings {
            horizon_secs: 86_400,
            retry_base_ms: 1000,
            retry_max_secs: 3600,
            poll_ms: 500,
            lease_secs: 30,
            endpoints: Vec::new(),
        }
    }
}

/// `[[webhooks.endpoints]]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    /// A short name (`a-z 0-9 _ -`), used by the commands and the API.
    pub name: String,
    /// Where events are POSTed: HTTPS, or HTTP to a loopback address.
    pub url: String,
    /// Which kinds (default: all).
    #[serde(default)]
    pub events: Vec<String>,
    /// The signing secret, `whsec_` and base64 (the Standard Webhooks form).
    pub secret: SecretString,
    /// Older secrets still signing during a rotation: every request carries one signature per secret.
    #[serde(default)]
    pub previous_secrets: Vec<SecretString>,
    /// An Ed25519 private key (PEM) to add a `v1a` signature too.
    #[serde(default)]
    pub ed25519_key_file: Option<PathBuf>,
    /// Seconds to wait for the endpoint's answer.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Allow private, link-local and shared address ranges (off: no request forgery through config or DNS).
    #[serde(default)]
    pub allow_private: bool,
    /// A PEM CA file to trust for this endpoint (a private CA), besides the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Non-personal canonical fields added to each event's `data.fields` (personal ones are never sent).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Deliver the events written before this endpoint was first configured too (default: from then on).
    #[serde(default)]
    pub from_start: bool,
}

fn default_timeout() -> u64 {
    10
}

impl std::fmt::Debug for EndpointSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSettings")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl EndpointSettings {
    /// Whether this endpoint takes events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }

    /// The decoded secrets, current first.
    pub fn secret_keys(&self) -> Result<Vec<Vec<u8>>, String> {
        std::iter::once(&self.secret)
            .chain(&self.previous_secrets)
            .map(|s| decode_secret(s.expose_secret()))
            .collect()
    }
}

/// The key bytes of a `whsec_…` secret.
pub fn decode_secret(text: &str) -> Result<Vec<u8>, String> {
    let b64 = text
        .strip_prefix("whsec_")
        .ok_or("a secret starts with `whsec_` (the Standard Webhooks form)")?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "a secret is `whsec_` and base64".to_string())?;
    if key.len() < 24 {
        return Err("a secret holds at least 24 random bytes".into());
    }
    Ok(key)
}

/// Whether an address is one a webhook must not reach without `allow_private`: private, shared (CGNAT),
/// link-local (cloud metadata), unique-local, unspecified, broadcast or multicast. Loopback is allowed (a
/// local relay), as is everything public.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return !v4.is_loopback() && is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Whether an address is loopback (IPv4, IPv6, or IPv4 mapped into IPv6).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

impl WebhooksSettings {
    /// Checks every endpoint; names the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |message: String| ConfigError::Invalid {
            key: "webhooks.endpoints",
            message,
        };
        let mut names = std::collections::BTreeSet::new();
        for e in &self.endpoints {
            let named = |m: &str| bad(format!("`{}`: {m}", e.name));
            if e.name.is_empty()
                || e.name.len() > 64
                || !e
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
            {
                return Err(bad(format!(
                    "name `{}` must be 1 to 64 of a-z, 0-9, `_` and `-`",
                    e.name.chars().take(64).collect::<String>()
                )));
            }
            if !names.insert(e.name.as_str()) {
                return Err(named("the name is used twice"));
            }
            let url = reqwest::Url::parse(&e.url).map_err(|err| named(&format!("url: {err}")))?;
            let host = url.host_str().ok_or_else(|| named("url has no host"))?;
            let literal: Option<IpAddr> = host.trim_matches(['[', ']']).parse().ok();
            let loopback =
                literal.is_some_and(is_loopback) || host.eq_ignore_ascii_case("localhost");
            match url.scheme() {
                "https" => {}
                "http" if loopback => {}
                _ => return Err(named("url must be https (http only to a loopback address)")),
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(named(
                    "url must not carry credentials (the signature authenticates us)",
                ));
            }
            if let Some(ip) = literal
                && is_private(ip)
                && !e.allow_private
            {
                return Err(named(
                    "url is a private address; set allow_private = true if that is intended",
                ));
            }
            for kind in &e.events {
                if !EVENT_KINDS.contains(&kind.as_str()) {
                    return Err(named(&format!(
                        "unknown event `{kind}` (known: {})",
                        EVENT_KINDS.join(", ")
                    )));
                }
            }
            e.secret_keys().map_err(|m| named(&m))?;
            if e.timeout_secs == 0 || e.timeout_secs >= self.lease_secs {
                return Err(named(
                    "timeout_secs must be at least 1 and below webhooks.lease_secs",
                ));
            }
        }
        if self.poll_ms == 0 || self.retry_base_ms == 0 || self.horizon_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "webhooks",
                message: "poll_ms, retry_base_ms and horizon_secs must be above 0".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> EndpointSettings {
        EndpointSettings {
            name: "crm".into(),
            url: url.into(),
            events: vec![],
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string().into(),
            previous_secrets: vec![],
            ed25519_key_file: None,
            timeout_secs: 10,
            allow_private: false,
            ca_file: None,
            fields: vec![],
            from_start: false,
        }
    }

    fn check(e: EndpointSettings) -> Result<(), String> {
        WebhooksSettings {
            endpoints: vec![e],
            ..WebhooksSettings::default()
        }
        .validate()
        .map_err(|e| e.to_string())
    }

    #[test]
    fn https_anywhere_public_http_only_to_loopback() {
        assert!(check(endpoint("https://hooks.example.com/kyc")).is_ok());
        assert!(check(endpoint("http://127.0.0.1:9000/kyc")).is_ok());
        assert!(check(endpoint("http://[::1]:9000/kyc")).is_ok());
        let err = check(endpoint("http://hooks.example.com/kyc")).unwrap_err();
        assert!(err.contains("must be https"), "{err}");
    }

    #[test]
    fn private_literals_need_allow_private() {
        for url in [
            "https://10.0.0.5/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://[fd00::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://0.0.0.0/x",
        ] {
            let err = check(endpoint(url)).unwrap_err();
            assert!(err.contains("private address"), "{url}: {err}");
            let mut allowed = endpoint(url);
            allowed.allow_private = true;
            assert!(check(allowed).is_ok(), "{url}");
        }
    }

    #[test]
    fn secrets_and_kinds_are_checked_without_echoing_the_secret() {
        let mut e = endpoint("https://h.example.com/");
        e.secret = "not-a-secret-value".to_string().into();
        let err = check(e).unwrap_err();
        assert!(
            err.contains("whsec_") && !err.contains("not-a-secret-value"),
            "{err}"
        );
        let mut e = endpoint("https://h.example.com/");
        e.events = vec!["submission.deleted".into()];
        assert!(check(e).unwrap_err().contains("unknown event"));
        let mut e = endpoint("https://user:pw@h.example.com/");
        e.name = "crm".into();
        assert!(check(e).unwrap_err().contains("credentials"));
    }
}

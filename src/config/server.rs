//! `[server]`: the listener, TLS, request limits and the proxies trusted to name the client.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use super::ConfigError;

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on, `host:port`; port 0 picks a free port (tests).
    pub bind: String,
    /// HTTPS (the default). Plain HTTP is allowed only on a loopback address.
    pub tls: bool,
    /// PEM certificate chain.
    pub tls_cert: PathBuf,
    /// PEM private key.
    pub tls_key: PathBuf,
    /// Create a self-signed certificate for localhost/127.0.0.1 when the files above are missing (development).
    pub tls_self_signed: bool,
    /// Largest accepted request body; larger ones get 413 before they are read.
    pub max_body_bytes: usize,
    /// Request bodies being received and processed at once, in bytes (declared `Content-Length`; a chunked
    /// body counts as `max_body_bytes`). Further submissions wait before their body is read (TCP
    /// back-pressure) and get 503 `unavailable` after `inflight_wait_secs`. Bounds memory under any load:
    /// the process needs about four times this on top of its idle size.
    pub inflight_body_bytes: usize,
    /// Seconds a submission waits for room in `inflight_body_bytes` before 503.
    pub inflight_wait_secs: u64,
    /// Path of the submission endpoint (the upstream's configured URL).
    pub submit_path: String,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads; 0 = one per CPU core.
    pub workers: usize,
    /// PEM file of CAs for mutual TLS; when set, every client must present a certificate chaining to it.
    /// Empty = no client certificates.
    pub client_ca: PathBuf,
    /// Seconds a request body may take beyond what `body_min_bytes_per_sec` allows: a body must arrive
    /// within `body_timeout_secs + bytes / body_min_bytes_per_sec`, or the request gets 408 and the
    /// connection closes. Headers have their own 5-second limit.
    pub body_timeout_secs: u64,
    /// The slowest transfer rate a body may keep up, in bytes per second (a 30 MB body over a slow link
    /// still works; one byte every few seconds does not).
    pub body_min_bytes_per_sec: u64,
    /// Open connections at once, all addresses together (also capped below the process's file limit).
    pub max_connections: usize,
    /// Open connections at once from one address; requests on connections beyond it get 503 and the
    /// connection closes.
    pub max_connections_per_address: usize,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the real client, for the
    /// per-address limits. Empty (the default): the peer address is the client, whatever headers say.
    pub trusted_proxies: Vec<String>,
}

impl ServerSettings {
    /// Checks the connection and body-pace limits and the trusted proxies; names the key at fault.
    pub fn validate_limits(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.into(),
        };
        if self.body_min_bytes_per_sec == 0 {
            return Err(invalid(
                "server.body_min_bytes_per_sec",
                "must be at least 1",
            ));
        }
        if self.max_connections < 16 {
            return Err(invalid("server.max_connections", "must be at least 16"));
        }
        if self.max_connections_per_address == 0 {
            return Err(invalid(
                "server.max_connections_per_address",
                "must be at least 1",
            ));
        }
        self.trusted_proxy_nets().map(|_| ())
    }

    /// `trusted_proxies` parsed; a bare address is a block of one.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|text| {
                let text = text.trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError::Invalid {
                        key: "server.trusted_proxies",
                        message: format!("`{text}` is neither an IP address nor a CIDR block"),
                    })
            })
            .collect()
    }

    /// The mutual-TLS CA file, if configured.
    pub fn client_ca_path(&self) -> Option<&Path> {
        (!self.client_ca.as_os_str().is_empty()).then_some(self.client_ca.as_path())
    }
}

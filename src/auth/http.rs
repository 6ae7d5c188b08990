//! The HTTP client used to reach external authorization servers (JWKS and introspection endpoints).
//!
//! Owns: [`build_client`]. Reads: `auth.jwks.ca_file`, `auth.introspection.ca_file` (passed in).
//!
//! reqwest 0.12 with native-tls (openssl on Linux): the same major version the `oauth2` 5 crate implements
//! `AsyncHttpClient` for (a direct reqwest 0.13 would be a second reqwest whose client oauth2 cannot use).
//! Redirects are off — an authorization server that redirects a
//! back-channel call is misconfigured, and following it would send our client credentials elsewhere
//! (RFC 7662 §4 asks for TLS to the endpoint; RFC 6749 §3.2 has no redirects on the token endpoint either).

use std::path::Path;
use std::time::Duration;

use super::error::AuthConfigError;

/// Total time allowed for one call to an external endpoint.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A client with redirects off, timeouts set, and the PEM certificates in `ca_file` trusted in addition to
/// the system roots. `key` names the settings section in errors.
pub fn build_client(key: &str, ca_file: Option<&Path>) -> Result<reqwest::Client, AuthConfigError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(TIMEOUT)
        .user_agent(concat!("kyc-receiver/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let file_key = format!("{key}.ca_file");
        let pem = std::fs::read(path).map_err(|e| AuthConfigError::File {
            key: file_key.clone(),
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| AuthConfigError::File {
                key: file_key.clone(),
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(AuthConfigError::File {
                key: file_key,
                path: path.to_owned(),
                message: "no PEM certificate found".into(),
            });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| AuthConfigError::Client {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_builds_without_ca_and_names_a_missing_ca_file() {
        assert!(build_client("auth.jwks", None).is_ok());
        let e = build_client("auth.jwks", Some(Path::new("/nonexistent/ca.pem")))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("auth.jwks.ca_file: /nonexistent/ca.pem"),
            "{e}"
        );
    }

    #[test]
    fn ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        assert!(build_client("auth.introspection", Some(&path)).is_err());
    }
}

//! TLS for the listener: loads the configured certificate chain and key into an openssl acceptor (Mozilla
//! "intermediate": TLS 1.2 and 1.3 with forward-secret AEAD suites only), and creates a self-signed development
//! certificate for localhost/127.0.0.1 when `server.tls_self_signed` is on and the files are missing.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509Name, X509NameBuilder};

/// TLS set-up failed; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read, written or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file at fault.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// OpenSSL refused the material.
    #[error("TLS: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Creates `cert`/`key` as a self-signed pair for local development unless both exist already.
/// Returns true when it created them.
pub fn ensure_self_signed(cert: &Path, key: &Path) -> Result<bool, TlsError> {
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let (pkey, x509) = self_signed(&["localhost", "127.0.0.1", "::1"])?;
    for path in [cert, key] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
        }
    }
    write_private(key, &pkey.private_key_to_pem_pkcs8()?)?;
    std::fs::write(cert, x509.to_pem()?).map_err(|e| file_error(cert, e))?;
    Ok(true)
}

/// Reads the Ed25519 private key (PEM) that `setting` names at `path` — creating it (mode 0600) when it is
/// missing and `generate` is set — and refuses any other kind of key. Errors name the setting and the file.
pub fn ed25519_key(path: &Path, generate: bool, setting: &str) -> Result<PKey<Private>, String> {
    if generate && !path.exists() {
        let key = PKey::generate_ed25519().map_err(|e| e.to_string())?;
        let pem = key.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?;
        write_private(path, &pem).map_err(|e| e.to_string())?;
        log::warn!("created {setting} at {}", path.display());
    }
    let pem = std::fs::read(path).map_err(|e| format!("{setting} {}: {e}", path.display()))?;
    let key = PKey::private_key_from_pem(&pem)
        .map_err(|_| format!("{setting} {} is not a PEM private key", path.display()))?;
    if key.id() != openssl::pkey::Id::ED25519 {
        return Err(format!(
            "{setting} {} is not an Ed25519 key",
            path.display()
        ));
    }
    Ok(key)
}

/// Writes a private key readable by its owner only (mode 0600), creating its directory.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_error(path, e))?;
    file.write_all(bytes).map_err(|e| file_error(path, e))
}

/// A P-256 key and a one-year certificate for `hosts` (first is the CN). It is its own CA so a client can pin
/// it with `--cacert`.
pub fn self_signed(hosts: &[&str]) -> Result<(PKey<Private>, X509), TlsError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let pkey = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(
        Nid::COMMONNAME,
        hosts.first().copied().unwrap_or("localhost"),
    )?;
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "kyc-receiver development")?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&pkey)?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(365)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_cert_sign()
            .build()?,
    )?;
    b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let mut san = SubjectAlternativeName::new();
    for h in hosts {
        if h.parse::<std::net::IpAddr>().is_ok() {
            san.ip(h);
        } else {
            san.dns(h);
        }
    }
    let san = san.build(&b.x509v3_context(None, None))?;
    b.append_extension(san)?;
    b.sign(&pkey, MessageDigest::sha256())?;
    Ok((pkey, b.build()))
}

/// Builds the acceptor from PEM files; with `client_ca`, clients must present a certificate chaining to it
/// (mutual TLS) or the handshake fails.
pub fn acceptor(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<SslAcceptorBuilder, TlsError> {
    for path in [cert, key] {
        if !path.exists() {
            return Err(file_error(path, "not found (see certs/README.md)"));
        }
    }
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| file_error(key, e))?;
    builder
        .set_certificate_chain_file(cert)
        .map_err(|e| file_error(cert, e))?;
    builder
        .check_private_key()
        .map_err(|e| file_error(key, e))?;
    if let Some(ca) = client_ca {
        builder.set_ca_file(ca).map_err(|e| file_error(ca, e))?;
        builder
            .set_client_ca_list(X509Name::load_client_ca_file(ca).map_err(|e| file_error(ca, e))?);
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(builder)
}

/// The verified client certificate's subject of a mutual-TLS connection, for subject pinning.
#[derive(Debug, Clone)]
pub struct PeerSubject(pub String);

/// `on_connect` hook: keeps the subject of a verified client certificate in the connection's data.
pub fn record_peer_certificate(conn: &dyn std::any::Any, data: &mut actix_web::dev::Extensions) {
    use actix_tls::accept::openssl::TlsStream;
    if let Some(tls) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>()
        && let Some(cert) = tls.ssl().peer_certificate()
    {
        data.insert(PeerSubject(crate::auth::x509_subject_string(
            cert.subject_name(),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_pair_loads_into_an_acceptor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        assert!(ensure_self_signed(&cert, &key).expect("create"));
        assert!(!ensure_self_signed(&cert, &key).expect("exists"));
        acceptor(&cert, &key, None).expect("acceptor");
        let mode = std::fs::metadata(&key).expect("meta").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn missing_certificate_names_the_file() {
        let Err(err) = acceptor(Path::new("/nope/c.pem"), Path::new("/nope/k.pem"), None) else {
            panic!("a missing certificate must be an error");
        };
        assert!(err.to_string().contains("/nope/c.pem"), "{err}");
    }
}

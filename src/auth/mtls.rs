//! Pinning a client's TLS certificate subject: a client entry may name the subject its tokens are used from.
//!
//! Owns: [`client_cert_subject_allowed`], [`principal_cert_subject_allowed`], [`x509_subject_string`] and the
//! subject comparison. Reads: `auth.clients[].cert_subject`.
//!
//! Chain validation against `server.client_ca` is the TLS layer's job (the lead's acceptor); this only
//! compares the already-verified peer certificate's subject with the configured one. Subjects are compared
//! as sets of `TYPE=value` pairs, attribute types case-insensitively, so `CN=ditto, O=Example` equals
//! `O=Example,CN=ditto` and `/CN=ditto/O=Example` (RFC 4514 order and OpenSSL's one-line order differ).

use openssl::x509::X509NameRef;

use super::principal::Principal;
use super::settings::{AuthSettings, ClientSettings};

/// Whether `client` may use a connection whose verified peer certificate has `subject` (`None`: no client
/// certificate). A client without a pin may connect either way; a pinned client needs a matching subject.
pub fn client_cert_subject_allowed(client: &ClientSettings, subject: Option<&str>) -> bool {
    match (&client.cert_subject, subject) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(pin), Some(seen)) => subjects_equal(pin, seen),
    }
}

/// The same check for an authenticated principal on a protected route: when the principal is one of our
/// `auth.clients` with a pinned subject, the connection's certificate must match it; other principals
/// (external issuers, Basic users) have no pin.
pub fn principal_cert_subject_allowed(
    settings: &AuthSettings,
    principal: &Principal,
    subject: Option<&str>,
) -> bool {
    match settings.client(&principal.client_id) {
        Some(client) => client_cert_subject_allowed(client, subject),
        None => true,
    }
}

/// Formats a certificate subject as `CN=…, O=…` (short attribute names, certificate order), the form
/// [`client_cert_subject_allowed`] expects; for the lead's TLS layer (`ssl.peer_certificate()?.subject_name()`).
pub fn x509_subject_string(name: &X509NameRef) -> String {
    name.entries()
        .filter_map(|e| {
            let key = e.object().nid().short_name().ok()?;
            let value = e.data().to_string().ok()?;
            Some(format!("{key}={}", escape(&value)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('/', "\\/")
}

/// Whether two subject strings name the same distinguished name (see the module doc).
pub fn subjects_equal(a: &str, b: &str) -> bool {
    match (normalize(a), normalize(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn normalize(subject: &str) -> Option<Vec<(String, String)>> {
    let subject = subject.trim();
    let (body, sep) = match subject.strip_prefix('/') {
        Some(rest) => (rest, '/'),
        None => (subject, ','),
    };
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.push(chars.next()?),
            c if c == sep => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    let mut pairs = Vec::new();
    for part in parts {
        let (k, v) = part.split_once('=')?;
        let key = canonical_type(k.trim());
        let value = v.trim().to_owned();
        if key.is_empty() || value.is_empty() {
            return None;
        }
        pairs.push((key, value));
    }
    pairs.sort();
    Some(pairs)
}

fn canonical_type(t: &str) -> String {
    let upper = t.to_ascii_uppercase();
    match upper.as_str() {
        "COMMONNAME" => "CN",
        "ORGANIZATIONNAME" => "O",
        "ORGANIZATIONALUNITNAME" => "OU",
        "COUNTRYNAME" => "C",
        "LOCALITYNAME" => "L",
        "STATEORPROVINCENAME" | "S" => "ST",
        "EMAIL" | "E" => "EMAILADDRESS",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openssl::x509::X509Name;
    use secrecy::SecretString;

    use super::super::principal::AuthMethod;
    use super::*;

    fn client(pin: Option<&str>) -> ClientSettings {
        ClientSettings {
            dev_secret: None,
            client_id: "ditto".into(),
            secret_hash: SecretString::from("x"),
            scopes: vec!["kyc:submit".into()],
            cert_subject: pin.map(str::to_owned),
        }
    }

    #[test]
    fn unpinned_client_needs_no_certificate() {
        assert!(client_cert_subject_allowed(&client(None), None));
        assert!(client_cert_subject_allowed(
            &client(None),
            Some("CN=anyone")
        ));
    }

    #[test]
    fn pinned_client_needs_the_matching_subject() {
        let c = client(Some("CN=ditto, O=Example Corp"));
        assert!(!client_cert_subject_allowed(&c, None));
        assert!(client_cert_subject_allowed(
            &c,
            Some("O=Example Corp,CN=ditto")
        ));
        assert!(client_cert_subject_allowed(
            &c,
            Some("/CN=ditto/O=Example Corp")
        ));
        assert!(client_cert_subject_allowed(
            &c,
            Some("commonName=ditto, organizationName=Example Corp")
        ));
        assert!(!client_cert_subject_allowed(&c, Some("CN=ditto")));
        assert!(!client_cert_subject_allowed(
            &c,
            Some("CN=Ditto, O=Example Corp")
        ));
        assert!(!client_cert_subject_allowed(
            &c,
            Some("CN=ditto, O=Example Corp, OU=x")
        ));
        assert!(!client_cert_subject_allowed(&c, Some("garbage")));
    }

    #[test]
    fn escaped_commas_are_part_of_the_value() {
        assert!(subjects_equal(r"CN=a\, b, O=x", r"O=x, CN=a\, b"));
        assert!(!subjects_equal(r"CN=a\, b", "CN=a, b"));
    }

    #[test]
    fn x509_names_format_in_the_compared_form() {
        let mut b = X509Name::builder().unwrap();
        b.append_entry_by_text("CN", "ditto, inc").unwrap();
        b.append_entry_by_text("O", "Example").unwrap();
        let name = b.build();
        let s = x509_subject_string(&name);
        assert_eq!(s, r"CN=ditto\, inc, O=Example");
        assert!(subjects_equal(&s, r"O=Example, CN=ditto\, inc"));
    }

    #[test]
    fn principal_check_applies_pins_of_configured_clients_only() {
        let settings = AuthSettings {
            clients: vec![client(Some("CN=ditto"))],
            ..AuthSettings::default()
        };
        let p = |id: &str| Principal {
            client_id: id.into(),
            scopes: BTreeSet::new(),
            method: AuthMethod::Builtin,
        };
        assert!(principal_cert_subject_allowed(
            &settings,
            &p("ditto"),
            Some("CN=ditto")
        ));
        assert!(!principal_cert_subject_allowed(
            &settings,
            &p("ditto"),
            Some("CN=other")
        ));
        assert!(principal_cert_subject_allowed(
            &settings,
            &p("auditor"),
            None
        ));
    }
}

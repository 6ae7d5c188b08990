//! Tests of the token endpoint logic.

use std::sync::OnceLock;

use base64::Engine as _;

use super::super::clock::ManualClock;
use super::super::keys::generate_signing_key_pem;
use super::super::limiter::PER_ADDRESS;
use super::super::principal::AuthMethod;
use super::super::secret_hash::hash_secret;
use super::super::settings::SigningAlg;
use super::*;

const FORM: &str = "application/x-www-form-urlencoded";

fn hashes() -> &'static (String, String, String) {
    static H: OnceLock<(String, String, String)> = OnceLock::new();
    H.get_or_init(|| {
        (
            hash_secret("ditto-secret").unwrap(),
            hash_secret("a+b c:d").unwrap(),
            hash_secret("pinned-secret").unwrap(),
        )
    })
}

fn client(id: &str, hash: &str, scopes: &[&str], pin: Option<&str>) -> ClientSettings {
    ClientSettings {
        dev_secret: None,
        client_id: id.into(),
        secret_hash: SecretString::from(hash.to_owned()),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        cert_subject: pin.map(str::to_owned),
    }
}

struct Fixture {
    endpoint: TokenEndpoint,
    issuer: Arc<TokenIssuer>,
    clock: Arc<ManualClock>,
}

fn fixture(allow_get: bool) -> Fixture {
    let (h1, h2, h3) = hashes();
    let settings = AuthSettings {
        allow_get_token: allow_get,
        clients: vec![
            client("ditto", h1, &["kyc:submit"], None),
            client("auditor", h2, &["kyc:read", "kyc:read_pii"], None),
            client("pinned", h3, &["kyc:submit"], Some("CN=ditto, O=Example")),
        ],
        ..AuthSettings::default()
    };
    let clock = Arc::new(ManualClock::new(
        super::super::clock::SystemClock.now_unix(),
    ));
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let issuer = Arc::new(
        TokenIssuer::from_pem(
            SigningAlg::EdDsa,
            "k1",
            pem.as_bytes(),
            &[],
            &settings,
            clock.clone(),
        )
        .unwrap(),
    );
    Fixture {
        endpoint: TokenEndpoint::new(&settings, issuer.clone(), clock.clone()),
        issuer,
        clock,
    }
}

fn post(content_type: Option<&str>, body: &str) -> TokenRequest {
    TokenRequest {
        method: "POST".into(),
        content_type: content_type.map(str::to_owned),
        body: body.as_bytes().to_vec(),
        remote_addr: Some("192.0.2.1".parse().unwrap()),
        ..TokenRequest::default()
    }
}

fn basic(id: &str, secret: &str) -> Option<String> {
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    ))
}

fn code(r: Result<TokenResponse, OAuthError>) -> (u16, &'static str) {
    let e = r.unwrap_err();
    (e.status(), e.code().as_str())
}

#[test]
fn form_post_issues_a_verifiable_token_with_all_client_scopes() {
    let f = fixture(false);
    let r = f
        .endpoint
        .handle(&post(
            Some(FORM),
            "grant_type=client_credentials&client_id=ditto&client_secret=ditto-secret",
        ))
        .unwrap();
    assert_eq!(
        (r.token_type, r.expires_in, r.scope.as_str()),
        ("Bearer", 3600, "kyc:submit")
    );
    let p = f.issuer.verify(&r.access_token).unwrap();
    assert_eq!(
        (p.client_id.as_str(), p.method),
        ("ditto", AuthMethod::Builtin)
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    assert!(json.get("access_token").is_some() && json.get("expires_in").is_some());
}

#[test]
fn basic_credentials_are_form_decoded_per_rfc6749() {
    let f = fixture(false);
    let mut req = post(Some(FORM), "grant_type=client_credentials");
    req.authorization = basic("auditor", "a%2Bb+c%3Ad");
    let r = f.endpoint.handle(&req).unwrap();
    assert_eq!(r.scope, "kyc:read kyc:read_pii");
    // Basic plus the same client_id in the body is tolerated.
    let mut req = post(Some(FORM), "grant_type=client_credentials&client_id=ditto");
    req.authorization = basic("ditto", "ditto-secret");
    assert!(f.endpoint.handle(&req).is_ok());
}

#[test]
fn json_body_is_accepted_with_or_without_content_type() {
    let f = fixture(false);
    let body =
        r#"{"grant_type":"client_credentials","client_id":"ditto","client_secret":"ditto-secret"}"#;
    assert!(
        f.endpoint
            .handle(&post(Some("application/json; charset=utf-8"), body))
            .is_ok()
    );
    assert!(f.endpoint.handle(&post(None, body)).is_ok());
    assert!(
        f.endpoint
            .handle(&post(
                None,
                "grant_type=client_credentials&client_id=ditto&client_secret=ditto-secret"
            ))
            .is_ok()
    );
    assert_eq!(
        code(
            f.endpoint
                .handle(&post(Some("application/json"), r#"{"grant_type":1}"#))
        ),
        (400, "invalid_request")
    );
    assert_eq!(
        code(f.endpoint.handle(&post(Some("text/plain"), "x"))),
        (400, "invalid_request")
    );
}

#[test]
fn get_is_refused_unless_allowed() {
    let query = "grant_type=client_credentials&client_id=ditto&client_secret=ditto-secret";
    let get = TokenRequest {
        method: "GET".into(),
        query: query.into(),
        ..TokenRequest::default()
    };
    let f = fixture(false);
    let e = f.endpoint.handle(&get).unwrap_err();
    assert_eq!((e.status(), e.allow()), (405, Some("POST")));
    // Query parameters on POST are refused too while GET is off.
    let mut p = post(Some(FORM), "");
    p.query = query.into();
    assert_eq!(code(f.endpoint.handle(&p)), (400, "invalid_request"));

    let f = fixture(true);
    assert!(f.endpoint.handle(&get).is_ok());
    assert!(f.endpoint.handle(&p).is_ok());
}

#[test]
fn wrong_secret_and_unknown_client_are_invalid_client_with_challenge() {
    let f = fixture(false);
    for body in [
        "grant_type=client_credentials&client_id=ditto&client_secret=nope",
        "grant_type=client_credentials&client_id=nobody&client_secret=ditto-secret",
        "grant_type=client_credentials",
    ] {
        let e = f.endpoint.handle(&post(Some(FORM), body)).unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (401, OAuthErrorCode::InvalidClient),
            "{body}"
        );
        assert!(
            e.www_authenticate()
                .is_some_and(|h| h.starts_with("Basic realm="))
        );
    }
    let mut req = post(Some(FORM), "grant_type=client_credentials");
    req.authorization = Some("Bearer abc".into());
    assert_eq!(code(f.endpoint.handle(&req)), (401, "invalid_client"));
}

#[test]
fn grant_type_is_required_and_must_be_client_credentials() {
    let f = fixture(false);
    let missing = "client_id=ditto&client_secret=ditto-secret";
    assert_eq!(
        code(f.endpoint.handle(&post(Some(FORM), missing))),
        (400, "invalid_request")
    );
    let pw = "grant_type=password&client_id=ditto&client_secret=ditto-secret";
    assert_eq!(
        code(f.endpoint.handle(&post(Some(FORM), pw))),
        (400, "unsupported_grant_type")
    );
}

#[test]
fn requested_scope_must_be_a_subset_of_the_clients() {
    let f = fixture(false);
    let base = "grant_type=client_credentials&client_id=auditor&client_secret=a%2Bb+c%3Ad";
    let r = f
        .endpoint
        .handle(&post(Some(FORM), &format!("{base}&scope=kyc:read")))
        .unwrap();
    assert_eq!(r.scope, "kyc:read");
    assert_eq!(f.issuer.verify(&r.access_token).unwrap().scopes.len(), 1);
    let over = format!("{base}&scope=kyc:read+kyc:erase");
    assert_eq!(
        code(f.endpoint.handle(&post(Some(FORM), &over))),
        (400, "invalid_scope")
    );
    let empty = format!("{base}&scope=");
    assert_eq!(
        f.endpoint.handle(&post(Some(FORM), &empty)).unwrap().scope,
        "kyc:read kyc:read_pii"
    );
}

#[test]
fn credentials_in_both_places_or_repeated_parameters_are_invalid_request() {
    let f = fixture(false);
    let mut req = post(
        Some(FORM),
        "grant_type=client_credentials&client_id=ditto&client_secret=ditto-secret",
    );
    req.authorization = basic("ditto", "ditto-secret");
    assert_eq!(code(f.endpoint.handle(&req)), (400, "invalid_request"));
    let mut req = post(
        Some(FORM),
        "grant_type=client_credentials&client_id=auditor",
    );
    req.authorization = basic("ditto", "ditto-secret");
    assert_eq!(code(f.endpoint.handle(&req)), (400, "invalid_request"));
    let dup =
        "grant_type=client_credentials&client_id=ditto&client_id=ditto&client_secret=ditto-secret";
    assert_eq!(
        code(f.endpoint.handle(&post(Some(FORM), dup))),
        (400, "invalid_request")
    );
}

#[test]
fn repeated_failures_from_one_address_are_slowed_down_until_the_window_passes() {
    let f = fixture(false);
    let bad = "grant_type=client_credentials&client_id=ditto&client_secret=wrong";
    let good = "grant_type=client_credentials&client_id=ditto&client_secret=ditto-secret";
    for _ in 0..PER_ADDRESS.max_failures {
        assert_eq!(
            code(f.endpoint.handle(&post(Some(FORM), bad))),
            (401, "invalid_client")
        );
    }
    // Blocked: even the right secret is not checked.
    let e = f.endpoint.handle(&post(Some(FORM), good)).unwrap_err();
    assert_eq!((e.status(), e.code().as_str()), (429, "slow_down"));
    assert_eq!(e.retry_after_secs(), Some(PER_ADDRESS.window_secs));
    // Another address is not affected.
    let mut other = post(Some(FORM), good);
    other.remote_addr = Some("198.51.100.7".parse().unwrap());
    assert!(f.endpoint.handle(&other).is_ok());
    f.clock.advance(PER_ADDRESS.window_secs);
    assert!(f.endpoint.handle(&post(Some(FORM), good)).is_ok());
}

#[test]
fn failures_against_one_client_from_many_addresses_never_lock_out_its_right_secret() {
    let f = fixture(false);
    let bad = "grant_type=client_credentials&client_id=ditto&client_secret=wrong";
    let good = "grant_type=client_credentials&client_id=ditto&client_secret=ditto-secret";
    for i in 0..200 {
        let mut req = post(Some(FORM), bad);
        req.remote_addr = Some(format!("10.0.{}.{}", i / 200, i % 200).parse().unwrap());
        assert_eq!(code(f.endpoint.handle(&req)), (401, "invalid_client"));
    }
    let mut req = post(Some(FORM), good);
    req.remote_addr = Some("203.0.113.9".parse().unwrap());
    assert!(
        f.endpoint.handle(&req).is_ok(),
        "the upstream is not locked out"
    );
}

#[test]
fn pinned_client_needs_its_certificate_subject() {
    let f = fixture(false);
    let body = "grant_type=client_credentials&client_id=pinned&client_secret=pinned-secret";
    assert_eq!(
        code(f.endpoint.handle(&post(Some(FORM), body))),
        (401, "invalid_client")
    );
    let mut req = post(Some(FORM), body);
    req.client_cert_subject = Some("CN=other, O=Example".into());
    assert_eq!(code(f.endpoint.handle(&req)), (401, "invalid_client"));
    req.client_cert_subject = Some("O=Example, CN=ditto".into());
    assert!(f.endpoint.handle(&req).is_ok());
}

#[test]
fn request_debug_never_shows_credentials() {
    let mut req = post(Some(FORM), "client_secret=ditto-secret");
    req.authorization = basic("ditto", "ditto-secret");
    req.query = "client_secret=ditto-secret".into();
    let dbg = format!("{req:?}");
    assert!(
        !dbg.contains("ditto-secret") && !dbg.contains("Basic"),
        "{dbg}"
    );
}

#[test]
fn ipv6_peers_are_counted_per_64_prefix() {
    assert_eq!(
        address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
        "2001:db8:1:2::/64"
    );
    assert_eq!(
        address_key("2001:db8:1:2:bbbb::9".parse().unwrap()),
        address_key("2001:db8:1:2::1".parse().unwrap())
    );
    assert_eq!(
        address_key("::ffff:192.0.2.1".parse().unwrap()),
        "192.0.2.1"
    );
    assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
}

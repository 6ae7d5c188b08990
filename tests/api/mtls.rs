//! Optional mutual TLS (`server.client_ca`): clients without a certificate, or with one from another CA,
//! cannot connect; a client entry can pin its certificate's subject.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509, X509NameBuilder};

use crate::helpers::{Backend, TestApp, fixture};

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group");
    PKey::from_ec_key(EcKey::generate(&group).expect("ec")).expect("pkey")
}

/// A certificate for `cn`, self-signed as a CA when `issuer` is None.
fn cert(cn: &str, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_nid(Nid::COMMONNAME, cn).expect("cn");
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Test IDV")
        .expect("o");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("v3");
    let mut serial = BigNum::new().expect("bn");
    serial.rand(64, MsbOption::MAYBE_ZERO, false).expect("rand");
    let serial = serial.to_asn1_integer().expect("serial");
    b.set_serial_number(&serial).expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_pubkey(key).expect("pubkey");
    let (nb, na) = (
        Asn1Time::days_from_now(0).expect("t"),
        Asn1Time::days_from_now(2).expect("t"),
    );
    b.set_not_before(&nb).expect("nb");
    b.set_not_after(&na).expect("na");
    match issuer {
        None => {
            b.set_issuer_name(&name).expect("issuer");
            b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
                .expect("ext");
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .build()
                    .expect("ku"),
            )
            .expect("ext");
            b.sign(key, MessageDigest::sha256()).expect("sign");
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).expect("issuer");
            b.append_extension(BasicConstraints::new().build().expect("bc"))
                .expect("ext");
            b.append_extension(ExtendedKeyUsage::new().client_auth().build().expect("eku"))
                .expect("ext");
            b.sign(ca_key, MessageDigest::sha256()).expect("sign");
        }
    }
    b.build()
}

fn identity(cert: &X509, key: &PKey<Private>) -> reqwest::Identity {
    reqwest::Identity::from_pkcs8_pem(
        &cert.to_pem().expect("pem"),
        &key.private_key_to_pem_pkcs8().expect("pem"),
    )
    .expect("identity")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clients_with_a_certificate_from_the_configured_ca_connect() {
    let dir = tempfile::tempdir().expect("dir");
    let (ca_key, other_ca_key) = (key(), key());
    let ca = cert("Test IDV CA", &ca_key, None);
    let other_ca = cert("Other CA", &other_ca_key, None);
    let (good_key, bad_key) = (key(), key());
    let good = cert("ditto-idv-server", &good_key, Some((&ca, &ca_key)));
    let intruder = cert("intruder", &bad_key, Some((&other_ca, &other_ca_key)));
    let ca_file = dir.path().join("clients-ca.pem");
    std::fs::write(&ca_file, ca.to_pem().expect("pem")).expect("write");
    let subject = kyc_receiver::auth::x509_subject_string(good.subject_name());

    let pinned = subject.clone();
    let app = TestApp::spawn_with_identity(
        Backend::Sqlite,
        move |s| {
            s.server.client_ca = ca_file;
            for client in &mut s.auth.clients {
                if client.client_id == "upstream" {
                    client.cert_subject = Some(pinned.clone());
                }
            }
        },
        "",
        Some(identity(&good, &good_key)),
    )
    .await;
    assert_eq!(
        app.submit(fixture("ditto-v3-small.json")).await.status(),
        200,
        "pinned subject matches"
    );

    let server_ca =
        reqwest::Certificate::from_pem(&std::fs::read(app.file("cert.pem")).expect("cert"))
            .expect("pem");
    let without = reqwest::Client::builder()
        .add_root_certificate(server_ca.clone())
        .build()
        .expect("client");
    assert!(
        without.get(app.url("/healthz")).send().await.is_err(),
        "no client certificate: no connection"
    );
    let other = reqwest::Client::builder()
        .add_root_certificate(server_ca)
        .identity(identity(&intruder, &bad_key))
        .build()
        .expect("client");
    assert!(
        other.get(app.url("/healthz")).send().await.is_err(),
        "another CA: no connection"
    );
    drop(app);

    // The right CA but not the pinned subject: the connection works, the client's token does not.
    let dir2 = tempfile::tempdir().expect("dir");
    let ca_file2 = dir2.path().join("clients-ca.pem");
    std::fs::write(&ca_file2, ca.to_pem().expect("pem")).expect("write");
    let app = TestApp::spawn_with_identity(
        Backend::Sqlite,
        move |s| {
            s.server.client_ca = ca_file2;
            for client in &mut s.auth.clients {
                if client.client_id == "upstream" {
                    client.cert_subject = Some("CN=someone-else".into());
                }
            }
        },
        "",
        Some(identity(&good, &good_key)),
    )
    .await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("connects");
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "upstream"),
            ("client_secret", crate::helpers::UPSTREAM.1),
        ])
        .send()
        .await
        .expect("token");
    assert!(
        r.status().is_client_error(),
        "a token is not issued to a client on the wrong certificate"
    );
}

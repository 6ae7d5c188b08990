use super::*;
use std::io::Write;

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write");
    file
}

#[test]
fn defaults_alone_are_valid() {
    let file = write_config("");
    let settings = Settings::load(Some(file.path())).expect("defaults load");
    assert_eq!(settings.server.submit_path, "/kyc");
    assert!(settings.server.tls);
    assert!(settings.database.url.starts_with("sqlite://"));
}

#[test]
fn unknown_key_is_refused_by_name() {
    let file = write_config("[server]\nbindd = \"127.0.0.1:1\"\n");
    let err = Settings::load(Some(file.path())).expect_err("unknown key");
    assert!(err.to_string().contains("bindd"), "{err}");
}

#[test]
fn unknown_section_is_refused_by_name() {
    let file = write_config("[serverr]\nbind = \"127.0.0.1:1\"\n");
    let err = Settings::load(Some(file.path())).expect_err("unknown section");
    assert!(err.to_string().contains("serverr"), "{err}");
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let file = write_config("[server]\nbind = \"0.0.0.0:8080\"\ntls = false\n");
    let err = Settings::load(Some(file.path())).expect_err("plain http off loopback");
    assert!(err.to_string().starts_with("server.tls:"), "{err}");
}

#[test]
fn unknown_database_scheme_is_refused() {
    let file = write_config("[database]\nurl = \"mysql://localhost/kyc\"\n");
    let err = Settings::load(Some(file.path())).expect_err("mysql");
    assert!(err.to_string().starts_with("database.url:"), "{err}");
}

#[test]
fn missing_explicit_file_is_an_error() {
    let err = Settings::load(Some(Path::new("/nonexistent/kyc.toml"))).expect_err("missing");
    assert!(err.to_string().contains("kyc.toml"), "{err}");
}

#[test]
fn shipped_dev_secrets_match_their_hashes() {
    use secrecy::ExposeSecret;
    let settings = Settings::load(Some(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/kyc-receiver.toml"
    ))))
    .expect("shipped config");
    assert!(!settings.auth.clients.is_empty());
    for client in &settings.auth.clients {
        let secret = client
            .dev_secret
            .as_ref()
            .expect("shipped clients are dev clients");
        assert!(
            crate::auth::verify_secret(secret.expose_secret(), client.secret_hash.expose_secret()),
            "{}",
            client.client_id
        );
    }
}

/// A data key that is not the shipped one.
const PROD_KEY: &str = "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=";

#[test]
fn dev_secrets_refuse_a_public_bind() {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/kyc-receiver.toml"))
            .expect("shipped");
    let file =
        write_config(&shipped.replace("bind = \"127.0.0.1:8443\"", "bind = \"0.0.0.0:8443\""));
    let err = Settings::load(Some(file.path())).expect_err("dev material off loopback");
    assert!(err.to_string().contains("development"), "{err}");
    // With real data keys, the dev client secrets alone still refuse a public bind.
    let real_keys = shipped
        .replace("bind = \"127.0.0.1:8443\"", "bind = \"0.0.0.0:8443\"")
        .replace("active_key_id = \"dev-1\"", "active_key_id = \"prod-1\"")
        .replace("id = \"dev-1\"", "id = \"prod-1\"")
        .replace(&super::shipped::DEV.data_keys[0], PROD_KEY)
        .replace(
            super::shipped::DEV.search_key.as_deref().expect("shipped"),
            PROD_KEY,
        );
    let err =
        Settings::load(Some(write_config(&real_keys).path())).expect_err("dev secret off loopback");
    assert!(err.to_string().contains("dev_secret"), "{err}");
}

#[test]
fn an_inflight_budget_too_small_or_too_large_is_refused_by_name() {
    for value in ["1000", "4294967296"] {
        let file = write_config(&format!("[server]\ninflight_body_bytes = {value}\n"));
        let err = Settings::load(Some(file.path())).expect_err("budget out of range");
        assert!(
            err.to_string().starts_with("server.inflight_body_bytes:"),
            "{err}"
        );
    }
    let file = write_config("[server]\ninflight_body_bytes = 65536\n");
    assert!(Settings::load(Some(file.path())).is_ok());
}

#[test]
fn shipped_secrets_are_recognised_by_value_not_by_name() {
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/kyc-receiver.toml"))
            .expect("shipped");
    let public = shipped.replace("bind = \"127.0.0.1:8443\"", "bind = \"0.0.0.0:8443\"");
    let dev = &*super::shipped::DEV;
    let search = dev.search_key.as_deref().expect("shipped search key");
    // The development data key under a production-looking id.
    let renamed = public
        .replace("active_key_id = \"dev-1\"", "active_key_id = \"prod-1\"")
        .replace("id = \"dev-1\"", "id = \"prod-1\"")
        .replace(search, PROD_KEY);
    let err = Settings::load(Some(write_config(&renamed).path())).expect_err("renamed dev key");
    assert!(err.to_string().starts_with("storage.keys"), "{err}");
    // Real data keys, but the development search key.
    let search_only = public.replace(&dev.data_keys[0], PROD_KEY);
    let err = Settings::load(Some(write_config(&search_only).path())).expect_err("dev search key");
    assert!(err.to_string().starts_with("storage.keys"), "{err}");
    // Real keys, no dev_secret lines, but the shipped client hashes.
    let hashes_only = public
        .replace(&dev.data_keys[0], PROD_KEY)
        .replace(search, PROD_KEY)
        .lines()
        .filter(|l| !l.starts_with("dev_secret"))
        .collect::<Vec<_>>()
        .join("\n");
    let err = Settings::load(Some(write_config(&hashes_only).path())).expect_err("dev hashes");
    assert!(err.to_string().starts_with("auth.clients"), "{err}");
}

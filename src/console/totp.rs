//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of clock skew
//! either way) through the `totp-rs` crate, and the enrolment QR code as inline SVG (no image request, no
//! `data:` URL under the console's CSP). A code is good once (RFC 6238 §5.2): [`check`] returns the time
//! step it matched, and the caller accepts it only past the account's last used step.

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Bytes of a fresh secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

fn totp(secret: &[u8], account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .with_issuer(Some("kyc-receiver"))
        .with_account_name(account)
        .build()
        .ok()
}

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    use rand::RngCore as _;
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The time step whose code `code` is, when it is the current one (or one step before or after).
pub fn check(secret: &[u8], account: &str, code: &str) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, account)?.check_current(code)
}

/// The secret in base32, in groups of four, for typing into an authenticator app.
pub fn display_secret(secret: &[u8]) -> String {
    let text = Secret::from(secret.to_vec()).to_base32();
    text.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://` URL and its QR code as an SVG element.
pub fn enrolment(secret: &[u8], account: &str) -> Option<(String, String)> {
    let url = totp(secret, account)?.to_url().ok()?;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The renderer writes an XML prologue; inline SVG in HTML must not carry one.
    let svg = svg
        .find("<svg")
        .map(|i| svg[i..].to_string())
        .unwrap_or_default();
    Some((url, svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_code_is_accepted_and_others_are_not() {
        let secret = new_secret();
        let t = totp(&secret, "alice").expect("totp");
        let now = t.generate_current().to_string();
        assert!(check(&secret, "alice", &now).is_some());
        let wrong = format!(
            "{:06}",
            (now.parse::<u32>().expect("digits") + 500_000) % 1_000_000
        );
        assert!(check(&secret, "alice", &wrong).is_none());
        assert!(check(&secret, "alice", "12345").is_none());
        assert!(check(&secret, "alice", "abcdef").is_none());
    }

    #[test]
    fn enrolment_gives_an_otpauth_url_and_an_inline_svg() {
        let (url, svg) = enrolment(&new_secret(), "alice").expect("enrolment");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(svg.starts_with("<svg") && !svg.contains("style="), "{svg}");
        assert_eq!(display_secret(&[0u8; 5]), "AAAA AAAA");
    }
}

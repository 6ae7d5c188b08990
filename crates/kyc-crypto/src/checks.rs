//! The per-field checks behind [`super::CipherProfile::from_settings`]: key decoding and
//! length, IV source and length, and the warnings for IV reuse and suspicious encodings.
//! Messages give lengths and encodings only, never key or IV bytes.

use super::CryptoConfigError;
use super::encoding::decode_config;
use super::profile::{IvSource, KeyEntry};
use super::settings::{Encoding, IvMode, ProfileSettings};
use super::spec::CipherMode;

/// Decodes one key and checks its length for `mode`. Errors give lengths, never bytes.
pub(crate) fn decode_key(
    text: &str,
    encoding: Encoding,
    mode: CipherMode,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<KeyEntry, CryptoConfigError> {
    if text.is_empty() {
        return Err(CryptoConfigError::new(name, "is empty"));
    }
    let enc = encoding.as_str();
    let bytes = decode_config(text, encoding).ok_or_else(|| {
        CryptoConfigError::new(name, format!("is not valid {enc} (key_encoding = {enc})"))
    })?;
    let (sizes, need): (&[usize], &str) = if mode == CipherMode::Jwe {
        (&[32], "A256GCM needs 32")
    } else {
        (&[16, 24, 32], "AES needs 16, 24 or 32")
    };
    if !sizes.contains(&bytes.len()) {
        return Err(CryptoConfigError::new(
            name,
            format!("decodes to {} bytes; {need}", bytes.len()),
        ));
    }
    // A base64 AES-128 key is 24 characters and a hex one 32: both are valid UTF-8 keys of
    // another size, so a wrong key_encoding would pass silently. Say so.
    if encoding == Encoding::Utf8 {
        let hexish = text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit());
        let b64ish = text.ends_with('=')
            && decode_config(text, Encoding::Base64).is_some_and(|b| sizes.contains(&b.len()));
        if hexish || b64ish {
            warnings.push(format!(
                "{name}: key_encoding = utf8, but the value looks like {}; check key_encoding",
                if hexish { "hex" } else { "base64" }
            ));
        }
    }
    Ok(KeyEntry { bytes, label: None })
}

/// The IV source for `mode` from `iv` / `iv_param_spec`, with reuse warnings.
pub(crate) fn iv_source(
    s: &ProfileSettings,
    mode: CipherMode,
    key_path: &str,
    warnings: &mut Vec<String>,
) -> Result<IvSource, CryptoConfigError> {
    let at = |field: &str| format!("{key_path}.{field}");
    let name = mode.name();
    let ignored = |warnings: &mut Vec<String>, why: &str| {
        if s.iv_param_spec.is_some() {
            warnings.push(format!("{}: ignored; {why}", at("iv_param_spec")));
        }
    };
    match (mode.iv_len(), s.iv) {
        (None, IvMode::Prefix) => Err(CryptoConfigError::new(
            at("iv"),
            format!("\"prefix\" does not apply to {name}, which takes no IV from the body"),
        )),
        (None, _) => {
            ignored(warnings, &format!("{name} uses no configured IV"));
            Ok(IvSource::None)
        }
        (Some(_), IvMode::InToken) => Err(CryptoConfigError::new(
            at("iv"),
            "\"in-token\" applies to JWE only; use \"static\" or \"prefix\"",
        )),
        (Some(_), IvMode::Prefix) => {
            ignored(warnings, "iv = \"prefix\" reads the IV from each message");
            Ok(IvSource::Prefix)
        }
        (Some(n), IvMode::Static) => {
            let raw = s.iv_param_spec.as_deref().ok_or_else(|| {
                CryptoConfigError::new(
                    at("iv_param_spec"),
                    format!(
                        "missing; {name} with iv = \"static\" needs a {n}-byte IV \
                         (or set {} = \"prefix\")",
                        at("iv")
                    ),
                )
            })?;
            let enc = s.iv_encoding.as_str();
            let iv = decode_config(raw, s.iv_encoding).ok_or_else(|| {
                CryptoConfigError::new(
                    at("iv_param_spec"),
                    format!("is not valid {enc} (iv_encoding = {enc})"),
                )
            })?;
            if iv.len() != n {
                return Err(CryptoConfigError::new(
                    at("iv_param_spec"),
                    format!("decodes to {} bytes; {name} needs {n}", iv.len()),
                ));
            }
            match mode {
                CipherMode::Gcm => warnings.push(format!(
                    "{key_path}: AES/GCM/NoPadding with a static IV reuses one nonce for every \
                     message: two bodies give away the XOR of their plaintexts and the GHASH \
                     key, so anyone can forge messages (NIST SP 800-38D §8). Use iv = \
                     \"prefix\" where the upstream can."
                )),
                CipherMode::Ctr => warnings.push(format!(
                    "{key_path}: AES/CTR/NoPadding with a static IV reuses the keystream for \
                     every message, so two bodies give away the XOR of their plaintexts; \
                     prefer iv = \"prefix\""
                )),
                CipherMode::Cfb128 | CipherMode::Cfb8 => warnings.push(format!(
                    "{key_path}: {name} with a static IV shows where two bodies start to \
                     differ and the XOR of their first differing block; prefer iv = \"prefix\""
                )),
                _ => {}
            }
            Ok(IvSource::Static(iv.to_vec()))
        }
    }
}

//! Text encodings: key/IV strings from config, the base64 HTTP body, base64url for JWE.
//!
//! Body decoding (`docs/ditto-protocol.md` §0.3): standard alphabet, padding optional, ASCII
//! whitespace around the text ignored, CR and LF inside tolerated (Java's
//! `Base64.getMimeEncoder()` breaks lines every 76 characters with CRLF, `openssl enc -a`
//! every 64 with LF). Any other byte inside, spaces included, is refused. Line breaks cost
//! one filtered copy of the text; the common unbroken body is decoded straight from the
//! request bytes.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use super::settings::Encoding;

/// Standard alphabet; decoding accepts missing padding, encoding writes it.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Base64url without padding, as RFC 7515 §2 defines `BASE64URL` for JOSE; padding tolerated.
const URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a key or IV string from config. `None` means "does not decode"; the decoder's
/// own error is dropped because it quotes the offending character of the secret.
pub(crate) fn decode_config(value: &str, encoding: Encoding) -> Option<Zeroizing<Vec<u8>>> {
    match encoding {
        // Java's `String.getBytes` uses the string exactly as written, spaces included.
        Encoding::Utf8 => Some(Zeroizing::new(value.as_bytes().to_vec())),
        Encoding::Base64 => STANDARD_LENIENT
            .decode(value.trim())
            .ok()
            .map(Zeroizing::new),
        Encoding::Hex => hex::decode(value.trim()).ok().map(Zeroizing::new),
    }
}

/// Whether the body is plaintext JSON: first non-whitespace byte `{` or `[`, neither of
/// which is a base64 character, so the test cannot mistake a ciphertext.
pub(crate) fn looks_like_json(body: &[u8]) -> bool {
    matches!(body.trim_ascii_start().first(), Some(b'{' | b'['))
}

/// Decodes the base64 body into a buffer with `slack` spare bytes of capacity, so that a
/// cipher needing room for one more block can work in place without reallocating.
pub(crate) fn decode_body(body: &[u8], slack: usize) -> Option<Vec<u8>> {
    let text = body.trim_ascii();
    let filtered;
    let text = if text.iter().any(|b| matches!(b, b'\r' | b'\n')) {
        filtered = text
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect::<Vec<u8>>();
        filtered.as_slice()
    } else {
        text
    };
    let mut out = Vec::with_capacity(base64::decoded_len_estimate(text.len()) + slack);
    STANDARD_LENIENT.decode_vec(text, &mut out).ok()?;
    Some(out)
}

/// Standard base64 with padding, the response wire format.
pub(crate) fn encode_body(bytes: &[u8]) -> String {
    STANDARD_LENIENT.encode(bytes)
}

/// `BASE64URL` (RFC 7515 §2) decoding into a buffer with `slack` spare capacity.
pub(crate) fn b64url_decode(part: &[u8], slack: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(base64::decoded_len_estimate(part.len()) + slack);
    URL_LENIENT.decode_vec(part, &mut out).ok()?;
    Some(out)
}

/// `BASE64URL` (RFC 7515 §2) encoding without padding.
pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    URL_LENIENT.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_with_missing_padding_and_surrounding_whitespace_decodes() {
        assert_eq!(decode_body(b"  aGVsbG8\r\n", 0).unwrap(), b"hello");
        assert_eq!(decode_body(b"aGVsbG8=", 0).unwrap(), b"hello");
    }

    #[test]
    fn mime_line_breaks_inside_the_body_are_tolerated() {
        let long = vec![7u8; 200];
        let text = encode_body(&long);
        let wrapped: Vec<u8> = text
            .as_bytes()
            .chunks(76)
            .flat_map(|c| c.iter().copied().chain(*b"\r\n"))
            .collect();
        assert_eq!(decode_body(&wrapped, 0).unwrap(), long);
    }

    #[test]
    fn spaces_or_foreign_bytes_inside_the_body_are_refused() {
        assert!(decode_body(b"aGVs bG8=", 0).is_none());
        assert!(decode_body(b"this is %% not base64 at all", 0).is_none());
        assert!(
            decode_body(b"aGVsbG8-", 0).is_none(),
            "url alphabet is not the body's"
        );
    }

    #[test]
    fn decoded_body_has_the_requested_spare_capacity() {
        let out = decode_body(encode_body(&[1u8; 1000]).as_bytes(), 16).unwrap();
        assert!(out.capacity() >= out.len() + 16);
    }

    #[test]
    fn plaintext_json_is_recognised_after_whitespace() {
        assert!(looks_like_json(b" \n{\"a\":1}"));
        assert!(looks_like_json(b"[1]"));
        assert!(!looks_like_json(b"eyJhbGciOiJkaXIi"));
        assert!(!looks_like_json(b""));
    }

    #[test]
    fn config_values_decode_per_explicit_encoding() {
        assert_eq!(*decode_config("00ff", Encoding::Hex).unwrap(), vec![0, 255]);
        assert_eq!(
            *decode_config("AP8", Encoding::Base64).unwrap(),
            vec![0, 255]
        );
        assert_eq!(
            *decode_config("ab", Encoding::Utf8).unwrap(),
            b"ab".to_vec()
        );
        assert!(decode_config("0g", Encoding::Hex).is_none());
        assert!(decode_config("a*b", Encoding::Base64).is_none());
    }
}

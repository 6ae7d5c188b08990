//! Parsing of `cipher_spec`: a Java JCE transformation string (`Cipher.getInstance`
//! syntax `algorithm/mode/padding`, case-insensitive as in the JDK) or `JWE`.

/// A supported cipher mode; the AES key size comes from the key length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherMode {
    /// `AES/CBC/PKCS5Padding` (PKCS#5 padding is PKCS#7 on 16-byte blocks).
    Cbc,
    /// `AES/GCM/NoPadding`: 12-byte IV, 128-bit tag after the ciphertext (JDK default).
    Gcm,
    /// `AES/CTR/NoPadding`: the whole 16-byte IV is a big-endian counter (JDK, OpenSSL).
    Ctr,
    /// `AES/CFB/NoPadding`: the JDK's CFB defaults to a 128-bit segment.
    Cfb128,
    /// `AES/CFB8/NoPadding`: 8-bit segments.
    Cfb8,
    /// `AES/ECB/PKCS5Padding` (also what a bare `AES` means in the JDK); insecure.
    Ecb,
    /// RFC 7516 compact serialization with `alg=dir`, `enc=A256GCM`.
    Jwe,
}

impl CipherMode {
    /// Parses a JCE transformation or `JWE`; the error says what would be accepted.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(format!("is empty; expected one of {}", Self::ACCEPTED));
        }
        if spec.eq_ignore_ascii_case("JWE") {
            return Ok(Self::Jwe);
        }
        // `Cipher.getInstance("AES")` is AES/ECB/PKCS5Padding in the SunJCE provider.
        if spec.eq_ignore_ascii_case("AES") {
            return Ok(Self::Ecb);
        }
        let shown: String = spec.chars().take(64).collect();
        let parts: Vec<&str> = spec.split('/').map(str::trim).collect();
        let [alg, mode, padding] = parts.as_slice() else {
            return Err(format!(
                "\"{shown}\" is not a JCE transformation; expected one of {}",
                Self::ACCEPTED
            ));
        };
        if !alg.eq_ignore_ascii_case("AES") {
            return Err(format!("\"{shown}\" uses {alg}; only AES is supported"));
        }
        let padded = if padding.eq_ignore_ascii_case("PKCS5Padding")
            || padding.eq_ignore_ascii_case("PKCS7Padding")
        {
            true
        } else if padding.eq_ignore_ascii_case("NoPadding") {
            false
        } else {
            return Err(format!(
                "\"{shown}\": padding {padding} is not supported (PKCS5Padding or NoPadding)"
            ));
        };
        let mode_uc = mode.to_ascii_uppercase();
        let (parsed, needs_padding) = match mode_uc.as_str() {
            "CBC" => (Self::Cbc, true),
            "ECB" => (Self::Ecb, true),
            "GCM" => (Self::Gcm, false),
            "CTR" => (Self::Ctr, false),
            "CFB" | "CFB128" => (Self::Cfb128, false),
            "CFB8" => (Self::Cfb8, false),
            _ => {
                return Err(format!(
                    "\"{shown}\": mode {mode} is not supported; expected one of {}",
                    Self::ACCEPTED
                ));
            }
        };
        if padded != needs_padding {
            return Err(format!(
                "\"{shown}\": {mode_uc} needs {}",
                if needs_padding {
                    "PKCS5Padding"
                } else {
                    "NoPadding"
                }
            ));
        }
        Ok(parsed)
    }

    const ACCEPTED: &'static str = "AES/CBC/PKCS5Padding, AES/GCM/NoPadding, AES/CTR/NoPadding, \
        AES/CFB/NoPadding, AES/CFB8/NoPadding, AES/ECB/PKCS5Padding (allow_insecure), JWE";

    /// Canonical name for logs and messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cbc => "AES/CBC/PKCS5Padding",
            Self::Gcm => "AES/GCM/NoPadding",
            Self::Ctr => "AES/CTR/NoPadding",
            Self::Cfb128 => "AES/CFB/NoPadding",
            Self::Cfb8 => "AES/CFB8/NoPadding",
            Self::Ecb => "AES/ECB/PKCS5Padding",
            Self::Jwe => "JWE (dir, A256GCM)",
        }
    }

    /// IV length the mode needs from config or the prefix; `None` for ECB and JWE.
    pub fn iv_len(self) -> Option<usize> {
        match self {
            Self::Gcm => Some(12),
            Self::Cbc | Self::Ctr | Self::Cfb128 | Self::Cfb8 => Some(16),
            Self::Ecb | Self::Jwe => None,
        }
    }

    /// Whether the mode authenticates the ciphertext (so a wrong key is detected by a tag).
    pub fn is_authenticated(self) -> bool {
        matches!(self, Self::Gcm | Self::Jwe)
    }

    /// Whether the mode pads to whole 16-byte blocks.
    pub fn is_padded(self) -> bool {
        matches!(self, Self::Cbc | Self::Ecb)
    }
}

#[cfg(test)]
mod tests {
    use super::CipherMode::{self, *};

    #[test]
    fn jce_transformations_parse_case_insensitively() {
        for (s, m) in [
            ("AES/CBC/PKCS5Padding", Cbc),
            ("aes/cbc/pkcs7padding", Cbc),
            ("AES/GCM/NoPadding", Gcm),
            ("AES/CTR/NoPadding", Ctr),
            ("AES/CFB/NoPadding", Cfb128),
            ("AES/CFB128/NoPadding", Cfb128),
            ("AES/CFB8/NoPadding", Cfb8),
            ("AES/ECB/PKCS5Padding", Ecb),
            ("AES", Ecb),
            ("jwe", Jwe),
        ] {
            assert_eq!(CipherMode::parse(s), Ok(m), "{s}");
        }
    }

    #[test]
    fn unsupported_or_inconsistent_specs_are_refused() {
        for s in [
            "",
            "AES/XTS/NoPadding",
            "DES/CBC/PKCS5Padding",
            "AES/CBC/NoPadding",
            "AES/GCM/PKCS5Padding",
            "AES/CBC/ISO10126Padding",
            "AES/256/CFB/NoPadding:SHA-256",
        ] {
            assert!(CipherMode::parse(s).is_err(), "{s}");
        }
    }
}

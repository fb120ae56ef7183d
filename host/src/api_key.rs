//! API keys: minting, the key format, hashing.
//!
//! Format: `tpk_` + 43 base64url characters (256 random bits) + 6 base64url
//! characters of checksum (the first 4 bytes of SHA-256 of the random part).
//! The fixed prefix lets secret scanners find leaked keys; the checksum lets
//! anyone reject a typo or a foreign string without a database lookup. Only
//! SHA-256 of the whole key is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "tpk_";
const BODY_LEN: usize = 43;
const CHECK_LEN: usize = 6;
/// Length of every key.
pub const KEY_LEN: usize = KEY_PREFIX.len() + BODY_LEN + CHECK_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not a trustpub API key")]
    Format,
    #[error("the API key's checksum does not match (a typo?)")]
    Checksum,
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A freshly minted key. Its `Debug` never shows the secret.
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    pub fn generate() -> Result<Self, KeyError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| KeyError::Random(e.to_string()))?;
        let body = URL_SAFE_NO_PAD.encode(random);
        Ok(Self(format!("{KEY_PREFIX}{body}{}", checksum(&body))))
    }

    /// The secret, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps.
    pub fn hash(&self) -> String {
        hash_key(&self.0)
    }
}

/// Checks a presented key's format and checksum; returns its storage hash.
pub fn parse_key(presented: &str) -> Result<String, KeyError> {
    let rest = presented.strip_prefix(KEY_PREFIX).ok_or(KeyError::Format)?;
    if presented.len() != KEY_LEN
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(KeyError::Format);
    }
    let (body, check) = rest.split_at(BODY_LEN);
    if checksum(body) != check {
        return Err(KeyError::Checksum);
    }
    Ok(hash_key(presented))
}

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let mut check = URL_SAFE_NO_PAD.encode(&digest[..4]);
    check.truncate(CHECK_LEN);
    check
}

fn hash_key(key: &str) -> String {
    crate::digest::sha256_hex(key.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_parse_to_their_hash() {
        let key = ApiKey::generate().expect("random");
        assert!(key.expose().starts_with("tpk_"));
        assert_eq!(key.expose().len(), KEY_LEN);
        assert_eq!(parse_key(key.expose()), Ok(key.hash()));
        assert_ne!(key.hash(), key.expose());
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
    }

    #[test]
    fn keys_are_unique() {
        let a = ApiKey::generate().expect("random");
        let b = ApiKey::generate().expect("random");
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn a_typo_fails_the_checksum() {
        let key = ApiKey::generate().expect("random");
        let mut chars: Vec<char> = key.expose().chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(parse_key(&typo), Err(KeyError::Checksum));
    }

    #[test]
    fn foreign_strings_are_not_keys() {
        for s in [
            "",
            "tpk_",
            "oy2abc",
            "tpk_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            &"tpk_x".repeat(20),
        ] {
            assert_eq!(parse_key(s), Err(KeyError::Format), "{s}");
        }
    }
}

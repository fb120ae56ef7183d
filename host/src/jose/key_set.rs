//! JSON Web Key Sets: parsing an issuer's published keys into verifying keys.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// Why a JWKS document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS document is not valid JSON of the form {{\"keys\": [...]}}: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("the JWKS document holds no usable signing key")]
    NoUsableKey,
}

/// A public key from a JWKS, with what it may verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    pub kid: String,
    /// The `alg` the key is restricted to, when the JWK names one.
    pub alg: Option<String>,
    /// The issuer the key signs for, when the JWKS says (Entra ID publishes
    /// `https://login.microsoftonline.com/{tenantid}/v2.0` on its keys, or
    /// one tenant's issuer for a tenant's own key).
    pub issuer: Option<String>,
    pub material: KeyMaterial,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// RSA modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An EC point in SEC1 uncompressed form (`04 || x || y`) on the named curve.
    Ec { curve: EcCurve, sec1: Vec<u8> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    P256,
    P384,
}

/// The signing keys of one JWKS document, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerifyingKey>>,
    /// Kids published for two different keys: which one the IdP signs with
    /// cannot be known, so neither is trusted.
    ambiguous: HashSet<String>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    issuer: Option<String>,
}

impl KeySet {
    /// Parses a JWKS document. Keys that cannot verify signatures here (no
    /// `kid`, encryption keys, unknown types or curves, bad encodings) are
    /// skipped, as an IdP may publish keys for other purposes.
    pub fn from_json(json: &str) -> Result<Self, JwksError> {
        let document: Document = serde_json::from_str(json)?;
        let mut keys: HashMap<String, Arc<VerifyingKey>> = HashMap::new();
        let mut ambiguous = HashSet::new();
        for key in document
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(parse_key)
        {
            // The same key listed twice is harmless; two keys under one kid
            // are not (a token's kid would pick either).
            match keys.get(&key.kid) {
                Some(held) if held.material == key.material => {}
                Some(_) => {
                    ambiguous.insert(key.kid.clone());
                }
                None => {
                    keys.insert(key.kid.clone(), Arc::new(key));
                }
            }
        }
        keys.retain(|kid, _| !ambiguous.contains(kid));
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Self { keys, ambiguous })
    }

    pub fn get(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.keys.get(kid).cloned()
    }

    /// Whether the document published `kid` for more than one key.
    pub fn is_ambiguous(&self, kid: &str) -> bool {
        self.ambiguous.contains(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

fn parse_key(jwk: Jwk) -> Option<VerifyingKey> {
    if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let b64 = |s: &Option<String>| s.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    let material = match jwk.kty.as_str() {
        "RSA" => KeyMaterial::Rsa {
            n: b64(&jwk.n)?,
            e: b64(&jwk.e)?,
        },
        "EC" => {
            let (curve, len) = match jwk.crv.as_deref()? {
                "P-256" => (EcCurve::P256, 32),
                "P-384" => (EcCurve::P384, 48),
                _ => return None,
            };
            let (x, y) = (b64(&jwk.x)?, b64(&jwk.y)?);
            if x.len() != len || y.len() != len {
                return None;
            }
            let mut sec1 = Vec::with_capacity(1 + 2 * len);
            sec1.push(0x04);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            KeyMaterial::Ec { curve, sec1 }
        }
        _ => return None,
    };
    Some(VerifyingKey {
        kid: jwk.kid?,
        alg: jwk.alg,
        issuer: jwk.issuer,
        material,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rsa_and_ec_keys_and_skips_others() {
        let json = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r", "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "short", "crv": "P-256", "x": "AQ", "y": "AQ"},
            "not an object"
        ]});
        let set = KeySet::from_json(&json.to_string()).expect("usable keys");
        assert_eq!(set.len(), 2);
        assert_eq!(set.get("r").expect("rsa").alg.as_deref(), Some("RS256"));
        assert!(matches!(
            set.get("e").expect("ec").material,
            KeyMaterial::Ec {
                curve: EcCurve::P256,
                ..
            }
        ));
        assert!(set.get("h").is_none(), "symmetric keys are never usable");
    }

    #[test]
    fn a_kid_published_for_two_keys_is_trusted_for_neither() {
        let ec = |x: u8| {
            serde_json::json!({"kty": "EC", "kid": "dup", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode([x; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])})
        };
        let rsa = serde_json::json!({"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"});
        let set = KeySet::from_json(&serde_json::json!({"keys": [ec(1), rsa, ec(3)]}).to_string())
            .expect("one usable key");
        assert!(set.get("dup").is_none());
        assert!(set.is_ambiguous("dup"));
        assert!(set.get("r").is_some());
        // The same key twice is one key.
        let set = KeySet::from_json(&serde_json::json!({"keys": [ec(1), ec(1)]}).to_string())
            .expect("usable");
        assert!(set.get("dup").is_some());
        assert!(!set.is_ambiguous("dup"));
    }

    #[test]
    fn rejects_documents_without_usable_keys() {
        assert!(matches!(
            KeySet::from_json(r#"{"keys": []}"#),
            Err(JwksError::NoUsableKey)
        ));
        assert!(matches!(
            KeySet::from_json("[]"),
            Err(JwksError::Malformed(_))
        ));
    }
}

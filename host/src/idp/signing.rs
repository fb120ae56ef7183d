//! Signing keys of the test IdP, and their public JWKs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("could not generate a signing key: {0}")]
    Generate(String),
    #[error("the claims to sign must be a JSON object")]
    NotAnObject,
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("the private key PEM cannot be used: {0}")]
    Pem(String),
}

/// The first 16 hex digits of SHA-256 of the RSA modulus: stable for a key,
/// different across keys.
fn derived_kid(modulus: &[u8]) -> String {
    use sha2::Digest as _;
    crate::digest::hex(&sha2::Sha256::digest(modulus)[..8])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    Rs256,
    Es256,
}

/// One private key with its `kid`.
pub enum SigningKey {
    Rs256(RS256KeyPair),
    Es256(ES256KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, kid {:?})", self.alg_name(), self.kid())
    }
}

impl SigningKey {
    pub fn generate(alg: SigningAlg, kid: &str) -> Result<Self, SigningError> {
        Ok(match alg {
            SigningAlg::Rs256 => Self::Rs256(
                RS256KeyPair::generate(2048)
                    .map_err(|e| SigningError::Generate(e.to_string()))?
                    .with_key_id(kid),
            ),
            SigningAlg::Es256 => Self::Es256(ES256KeyPair::generate().with_key_id(kid)),
        })
    }

    /// An RS256 key from its private-key PEM (PKCS#1 or PKCS#8). Without a
    /// `kid`, one is derived from the public key, so that a key file alone
    /// determines the published JWKS: `idp serve` and `idp mint` agree.
    pub fn rs256_from_pem(pem: &str, kid: Option<&str>) -> Result<Self, SigningError> {
        let pair = RS256KeyPair::from_pem(pem).map_err(|e| SigningError::Pem(e.to_string()))?;
        let kid = match kid {
            Some(kid) => kid.to_string(),
            None => derived_kid(&pair.public_key().to_components().n),
        };
        Ok(Self::Rs256(pair.with_key_id(&kid)))
    }

    /// A fresh RS256 key whose `kid` is derived from its public key.
    pub fn rs256_with_derived_kid() -> Result<Self, SigningError> {
        let pair =
            RS256KeyPair::generate(2048).map_err(|e| SigningError::Generate(e.to_string()))?;
        let kid = derived_kid(&pair.public_key().to_components().n);
        Ok(Self::Rs256(pair.with_key_id(&kid)))
    }

    /// The private key as PEM, for a key file.
    pub fn to_pem(&self) -> Result<String, SigningError> {
        match self {
            Self::Rs256(k) => k.to_pem(),
            Self::Es256(k) => k.to_pem(),
        }
        .map_err(|e| SigningError::Pem(e.to_string()))
    }

    pub fn alg_name(&self) -> &'static str {
        match self {
            Self::Rs256(_) => "RS256",
            Self::Es256(_) => "ES256",
        }
    }

    pub fn kid(&self) -> &str {
        match self {
            Self::Rs256(k) => k.key_id().as_deref(),
            Self::Es256(k) => k.key_id().as_deref(),
        }
        .unwrap_or_default()
    }

    /// Signs exactly these claims: nothing is added or changed, so tests can
    /// mint tokens that lack or distort any claim.
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, SigningError> {
        if !claims.is_object() {
            return Err(SigningError::NotAnObject);
        }
        let claims = JWTClaims {
            issued_at: None,
            expires_at: None,
            invalid_before: None,
            issuer: None,
            subject: None,
            audiences: None,
            jwt_id: None,
            nonce: None,
            custom: claims.clone(),
        };
        match self {
            Self::Rs256(k) => k.sign(claims),
            Self::Es256(k) => k.sign(claims),
        }
        .map_err(|e| SigningError::Sign(e.to_string()))
    }

    /// Like [`sign`](Self::sign), with key metadata in the header (`jku`,
    /// `jwk`, `x5u`): for tests that such headers are refused.
    pub fn sign_with_metadata(
        &self,
        claims: &serde_json::Value,
        metadata: KeyMetadata,
    ) -> Result<String, SigningError> {
        match self {
            Self::Rs256(k) => {
                let mut k = k.clone();
                k.attach_metadata(metadata)
                    .map_err(|e| SigningError::Sign(e.to_string()))?;
                Self::Rs256(k).sign(claims)
            }
            Self::Es256(k) => {
                // ES256KeyPair is not Clone: rebuild it from its secret bytes.
                let mut k = ES256KeyPair::from_bytes(&k.to_bytes())
                    .map_err(|e| SigningError::Sign(e.to_string()))?
                    .with_key_id(self.kid());
                k.attach_metadata(metadata)
                    .map_err(|e| SigningError::Sign(e.to_string()))?;
                Self::Es256(k).sign(claims)
            }
        }
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> serde_json::Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match self {
            Self::Rs256(k) => {
                let c = k.public_key().to_components();
                serde_json::json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid(), "n": b64(&c.n), "e": b64(&c.e)})
            }
            Self::Es256(k) => {
                let point = k.public_key().public_key().to_bytes_uncompressed();
                serde_json::json!({"kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": self.kid(), "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
        }
    }
}

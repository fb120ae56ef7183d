//! The local test identity provider: real RSA/EC keys, a JWKS, and tokens
//! shaped like the real IdPs' — for tests, `trustpub demo` and `trustpub idp`.
//!
//! Nothing here is used to *verify* anything in production; it exists so the
//! whole exchange can be exercised with real signatures and no outside network.

mod claims;
mod samples;
pub mod server;
mod signing;

pub use claims::{GITHUB_ISSUER, GithubJob, entra_app_token_claims, github_actions_claims};
pub use samples::{SAMPLES, rebase_issuer, sample_claims};
pub use server::{KeysFault, TestIdpServer};
pub use signing::{SigningAlg, SigningError, SigningKey};

/// A set of signing keys published as one JWKS; the first key signs.
#[derive(Debug)]
pub struct TestIdp {
    keys: Vec<SigningKey>,
}

impl TestIdp {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self { keys }
    }

    /// One fresh RS256 key with the given `kid`.
    pub fn rs256(kid: &str) -> Result<Self, signing::SigningError> {
        Ok(Self::new(vec![SigningKey::generate(
            SigningAlg::Rs256,
            kid,
        )?]))
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// Signs `claims` (a JSON object) with the first key.
    pub fn mint(&self, claims: &serde_json::Value) -> Result<String, signing::SigningError> {
        self.signing_key().sign(claims)
    }

    /// The public keys as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() })
    }
}

//! The signature check an evaluator delegates to the host.

/// Verifies a compact JWS with the keys the operator configured for `issuer`
/// and returns the verified payload (JSON). In a component this is the host's
/// `verify-jws` import; in native tests, [`crate::testing::FakeVerifier`].
pub trait SignatureVerifier {
    fn verify_jws(&self, token: &str, issuer: &str) -> Result<String, String>;
}

//! The signature check an evaluator delegates to the host.

/// Verifies a compact JWS with the keys the operator configured for `issuer`
/// and returns the verified payload (JSON). In a component this is the host's
/// `verify-jws` import; in native tests, [`crate::testing::FakeVerifier`].
pub trait SignatureVerifier {
    fn verify_jws(&self, token: &str, issuer: &str) -> Result<String, String>;
}

/// Verifies `raw` through `verifier` for `issuer` and returns the verified
/// claims, whose `iss` must be that issuer. From here on an evaluator must use
/// only these claims; the messages are ready to be `bad-token` messages.
pub fn verified_claims(
    verifier: &dyn SignatureVerifier,
    raw: &str,
    issuer: &str,
) -> Result<crate::Claims, String> {
    let payload = verifier
        .verify_jws(raw, issuer)
        .map_err(|e| format!("the token's signature is not valid: {e}"))?;
    let claims = crate::Claims::from_json(&payload)?;
    if claims.string("iss")? != issuer {
        return Err("the verified iss claim differs from the token's".into());
    }
    Ok(claims)
}

//! The signature check an evaluator delegates to the host.

use crate::check::{ISSUER, SIGNATURE};
use crate::claims::Claims;
use crate::types::Rejection;

/// Verifies a compact JWS with the keys the operator configured for `issuer`
/// and returns the verified payload (JSON). In a component this is the host's
/// `verify-jws` import; natively, a test's fake or the host's own verifier.
pub trait SignatureVerifier {
    fn verify_jws(&self, token: &str, issuer: &str) -> Result<String, String>;
}

/// Verifies `raw` through `verifier` for `issuer` and returns the verified
/// claims, whose `iss` must be that issuer: the unverified `iss` chose the
/// keys, so a payload claiming another issuer was signed by the wrong party.
/// From here on an evaluator uses only these claims.
pub fn verified_claims(
    verifier: &dyn SignatureVerifier,
    raw: &str,
    issuer: &str,
) -> Result<Claims, Rejection> {
    let payload = verifier.verify_jws(raw, issuer).map_err(|e| {
        Rejection::new(
            SIGNATURE,
            format!("the token's signature is not valid: {e}"),
        )
    })?;
    let claims = Claims::from_json(&payload).map_err(|e| Rejection::new(SIGNATURE, e))?;
    if claims.string("iss").ok() != Some(issuer) {
        return Err(Rejection::new(
            ISSUER,
            "the verified iss claim differs from the token's",
        ));
    }
    Ok(claims)
}

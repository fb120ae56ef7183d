//! The signature check an evaluator delegates to the host.

use crate::check::{ISSUER, SIGNATURE};
use crate::claims::Claims;
use crate::jwt::UnverifiedJwt;
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
    let payload = verify(verifier, raw, issuer)?;
    let claims = Claims::from_json(&payload).map_err(|e| Rejection::new(SIGNATURE, e))?;
    of_issuer(claims, issuer)
}

/// [`verified_claims`] for a token already decoded as `unverified`: when the
/// verified payload is the text `unverified` was parsed from (always, with an
/// honest host), its claims are used instead of parsing the payload again.
pub fn verified_claims_of(
    verifier: &dyn SignatureVerifier,
    raw: &str,
    issuer: &str,
    unverified: UnverifiedJwt,
) -> Result<Claims, Rejection> {
    let payload = verify(verifier, raw, issuer)?;
    let claims = match unverified.into_claims_if_payload_is(&payload) {
        Ok(claims) => claims,
        Err(_) => Claims::from_json(&payload).map_err(|e| Rejection::new(SIGNATURE, e))?,
    };
    of_issuer(claims, issuer)
}

fn verify(verifier: &dyn SignatureVerifier, raw: &str, issuer: &str) -> Result<String, Rejection> {
    verifier.verify_jws(raw, issuer).map_err(|e| {
        Rejection::new(
            SIGNATURE,
            format!("the token's signature is not valid: {e}"),
        )
    })
}

fn of_issuer(claims: Claims, issuer: &str) -> Result<Claims, Rejection> {
    if claims.string("iss").ok() != Some(issuer) {
        return Err(Rejection::new(
            ISSUER,
            "the verified iss claim differs from the token's",
        ));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::encode_segment;

    /// Answers with a payload of its choosing, whatever the token says.
    struct Answers(&'static str);

    impl SignatureVerifier for Answers {
        fn verify_jws(&self, _: &str, _: &str) -> Result<String, String> {
            Ok(self.0.to_string())
        }
    }

    fn token(payload: &str) -> String {
        format!(
            "{}.{}.c2ln",
            encode_segment(br#"{"alg":"RS256"}"#),
            encode_segment(payload.as_bytes())
        )
    }

    #[test]
    fn the_unverified_parse_is_reused_only_for_the_same_text() {
        let payload = r#"{"iss":"https://a","sub":"token's"}"#;
        let raw = token(payload);
        let unverified = || UnverifiedJwt::parse(&raw).expect("decodes");

        let same = verified_claims_of(&Answers(payload), &raw, "https://a", unverified())
            .expect("verified");
        assert_eq!(same.string("sub"), Ok("token's"));

        // Another text, even one only differing in spacing, is parsed: only
        // what the host verified counts.
        let other = r#"{"iss":"https://a", "sub":"verified"}"#;
        let claims =
            verified_claims_of(&Answers(other), &raw, "https://a", unverified()).expect("verified");
        assert_eq!(claims.string("sub"), Ok("verified"));
    }

    #[test]
    fn a_reused_parse_still_needs_the_verified_issuer() {
        let payload = r#"{"iss":"https://a"}"#;
        let raw = token(payload);
        let unverified = UnverifiedJwt::parse(&raw).expect("decodes");
        let err = verified_claims_of(&Answers(payload), &raw, "https://b", unverified)
            .expect_err("another issuer");
        assert_eq!(err.check, ISSUER);
    }
}

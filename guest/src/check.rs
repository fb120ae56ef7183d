//! Check names: why a token is a bad token, as a stable word.
//!
//! Every rejection carries one ([`Rejection::check`]). The host counts them in
//! metrics and records them in the audit log, so an operator can tell "many
//! expired tokens" from "many wrong audiences" without parsing messages. The
//! message beside it is for the client and may change; the name may not.

use crate::types::Rejection;

/// The provider configuration does not parse or is invalid (the operator's
/// fault, but failing closed is the only safe answer).
pub const CONFIG: &str = "config";
/// Not a compact JWS whose header and payload are JSON objects.
pub const MALFORMED: &str = "malformed";
/// No `iss`, an issuer the evaluator does not accept, or a verified `iss`
/// that differs from the unverified one.
pub const ISSUER: &str = "issuer";
/// The host's `verify-jws` refused the signature.
pub const SIGNATURE: &str = "signature";
/// The `aud` claim is not an accepted audience.
pub const AUDIENCE: &str = "audience";
/// `exp`, `nbf` or `iat` missing, malformed or out of the accepted window.
pub const LIFETIME: &str = "lifetime";
/// No usable token id (the replay key).
pub const TOKEN_ID: &str = "token-id";
/// A claim the evaluator reads is missing or of the wrong type.
pub const CLAIMS: &str = "claims";

/// Whether `name` is a valid check name: non-empty lowercase ASCII letters,
/// digits and `-`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `Err(Rejection)`, for `return reject("tenant", format!(…))` in a rule.
pub fn reject<T>(check: &str, message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(check, message))
}

/// Names the check a `Result<_, String>` step belongs to, so SDK helpers that
/// return plain messages chain with `?` in a rule: `claims.string("x").check("claims")?`.
pub trait Check<T> {
    fn check(self, check: &str) -> Result<T, Rejection>;
}

impl<T> Check<T> for Result<T, String> {
    fn check(self, check: &str) -> Result<T, Rejection> {
        self.map_err(|message| Rejection::new(check, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names_are_valid_and_others_are_not() {
        for name in [
            CONFIG, MALFORMED, ISSUER, SIGNATURE, AUDIENCE, LIFETIME, TOKEN_ID, CLAIMS,
        ] {
            assert!(is_valid_name(name), "{name}");
        }
        for bad in ["", "Audience", "app_only", "app only", "é"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}

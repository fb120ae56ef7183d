//! `exp` / `nbf` / `iat` checks with a clock skew allowance.

use crate::claims::{Claims, MAX_TIMESTAMP};

/// Seconds of clock difference tolerated by default; the host passes its
/// configured value as `clock_skew_seconds` in every provider config.
pub const DEFAULT_CLOCK_SKEW_SECONDS: u64 = 300;

/// For `#[serde(default = "trustpub_guest::lifetime::default_clock_skew")]`.
pub fn default_clock_skew() -> u64 {
    DEFAULT_CLOCK_SKEW_SECONDS
}

/// Checks the token's lifetime at `now` (unix seconds), allowing `skew`
/// seconds of clock difference each way. `exp` is required; `nbf` and `iat`
/// are checked when present. Returns `exp`, which the host needs to know how
/// long to remember the token id.
pub fn check_lifetime(claims: &Claims, now: u64, skew: u64) -> Result<u64, String> {
    let exp = claims.timestamp("exp")?;
    if now >= exp.saturating_add(skew) {
        return Err(format!(
            "the token expired: exp is {exp}, now is {now} (clock skew allowed: {skew}s)"
        ));
    }
    if let Some(nbf) = claims.optional_timestamp("nbf")?
        && nbf > now.saturating_add(skew)
    {
        return Err(format!(
            "the token is not valid yet: nbf is {nbf}, now is {now} (clock skew allowed: {skew}s)"
        ));
    }
    if let Some(iat) = claims.optional_timestamp("iat")?
        && iat > now.saturating_add(skew)
    {
        return Err(format!(
            "the token was issued in the future: iat is {iat}, now is {now} (clock skew allowed: {skew}s)"
        ));
    }
    Ok(exp)
}

/// The last second (unix) this evaluator accepts a token that expires at
/// `exp` (WIT `accepted-until`): `exp + skew`, capped at [`MAX_TIMESTAMP`] so
/// the host can always store and format it. The host remembers the token id
/// until then, so a replay within the skew is still caught.
pub fn accepted_until(exp: u64, skew: u64) -> u64 {
    exp.saturating_add(skew).min(MAX_TIMESTAMP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: serde_json::Value) -> Claims {
        Claims::from_json(&v.to_string()).expect("object")
    }

    #[test]
    fn valid_within_skew() {
        let c = claims(json!({"exp": 1000, "nbf": 1100, "iat": 1100}));
        assert_eq!(check_lifetime(&c, 1050, 60), Ok(1000));
    }

    #[test]
    fn expired_beyond_skew() {
        let c = claims(json!({"exp": 1000}));
        assert!(
            check_lifetime(&c, 1060, 60)
                .expect_err("expired")
                .contains("expired")
        );
    }

    #[test]
    fn not_yet_valid() {
        let c = claims(json!({"exp": 5000, "nbf": 2000}));
        assert!(
            check_lifetime(&c, 1000, 60)
                .expect_err("nbf")
                .contains("not valid yet")
        );
    }

    #[test]
    fn issued_in_future() {
        let c = claims(json!({"exp": 5000, "iat": 2000}));
        assert!(
            check_lifetime(&c, 1000, 60)
                .expect_err("iat")
                .contains("issued in the future")
        );
    }

    #[test]
    fn accepted_until_adds_skew_within_range() {
        assert_eq!(accepted_until(1000, 300), 1300);
        assert_eq!(accepted_until(MAX_TIMESTAMP - 1, 300), MAX_TIMESTAMP);
    }

    #[test]
    fn exp_required() {
        assert!(
            check_lifetime(&claims(json!({})), 1, 0)
                .expect_err("no exp")
                .contains("no exp claim")
        );
    }
}

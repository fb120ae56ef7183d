//! Tokens shaped like each evaluator's platform, from the sample claim set
//! its crate keeps in `policies/<name>/sample-claims.json` (one file documents
//! the token shape for the evaluator's tests and for `trustpub idp mint`).

use serde_json::Value;

/// Evaluator name and its sample claims (a JSON object).
pub const SAMPLES: &[(&str, &str)] = &[
    (
        "gitlab",
        include_str!("../../../policies/gitlab/sample-claims.json"),
    ),
    (
        "forgejo-actions",
        include_str!("../../../policies/forgejo-actions/sample-claims.json"),
    ),
    (
        "generic-oidc",
        include_str!("../../../policies/generic-oidc/sample-claims.json"),
    ),
    (
        "bitbucket-pipelines",
        include_str!("../../../policies/bitbucket-pipelines/sample-claims.json"),
    ),
    (
        "circleci",
        include_str!("../../../policies/circleci/sample-claims.json"),
    ),
    (
        "buildkite",
        include_str!("../../../policies/buildkite/sample-claims.json"),
    ),
    (
        "google-cloud",
        include_str!("../../../policies/google-cloud/sample-claims.json"),
    ),
];

/// The sample claims of evaluator `name` as a fresh token's: `iat` now,
/// `nbf` (when the sample has one) as far before it as in the sample, `exp`
/// `lifetime` seconds from now and, when the sample has a `jti`, `token_id`
/// (platforms without one keep their own ids). `None` for an unknown name
/// or a sample that is not a JSON object.
pub fn sample_claims(name: &str, now: u64, lifetime: u64, token_id: &str) -> Option<Value> {
    let (_, json) = SAMPLES.iter().find(|(n, _)| *n == name)?;
    let mut claims: Value = serde_json::from_str(json).ok()?;
    let object = claims.as_object_mut()?;
    let iat = object
        .get("iat")
        .and_then(Value::as_u64)
        .unwrap_or_default();
    if let Some(nbf) = object.get("nbf").and_then(Value::as_u64) {
        object.insert(
            "nbf".into(),
            Value::from(now.saturating_sub(iat.saturating_sub(nbf))),
        );
    }
    object.insert("iat".into(), Value::from(now));
    object.insert("exp".into(), Value::from(now.saturating_add(lifetime)));
    if object.contains_key("jti") {
        object.insert("jti".into(), Value::from(token_id));
    }
    Some(claims)
}

/// `iss` moved to `base` (scheme and host, e.g. a local test IdP's URL),
/// keeping the issuer's path: `https://codeberg.org/api/actions` on
/// `http://127.0.0.1:8081` is `http://127.0.0.1:8081/api/actions`.
pub fn rebase_issuer(issuer: &str, base: &str) -> String {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_a_fresh_token() {
        for (name, _) in SAMPLES {
            let claims = sample_claims(name, 2_000_000_000, 600, "t-1").expect(name);
            assert_eq!(claims["iat"], 2_000_000_000, "{name}");
            assert_eq!(claims["exp"], 2_000_000_600, "{name}");
            assert!(
                claims["iss"].is_string() && claims["sub"].is_string(),
                "{name}"
            );
            if let Some(nbf) = claims.get("nbf") {
                assert!(nbf.as_u64().is_some_and(|n| n <= 2_000_000_000), "{name}");
            }
            if let Some(jti) = claims.get("jti") {
                assert_eq!(jti, "t-1", "{name}");
            }
        }
        assert!(sample_claims("nope", 0, 0, "t").is_none());
    }

    #[test]
    fn issuers_move_to_a_base_keeping_their_path() {
        let base = "http://127.0.0.1:8081/";
        assert_eq!(
            rebase_issuer("https://codeberg.org/api/actions", base),
            "http://127.0.0.1:8081/api/actions"
        );
        assert_eq!(
            rebase_issuer("https://gitlab.com", base),
            "http://127.0.0.1:8081"
        );
    }
}

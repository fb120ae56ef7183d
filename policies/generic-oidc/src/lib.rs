//! Generic OIDC: bring your own issuer. The evaluator declares no issuer;
//! the operator lists each in `[[providers.issuers]]` (with
//! `evaluator_issuers = false`) and sets in the provider config the
//! `audience`, the `claims` policies may constrain and, among them, the
//! `immutable_claims` (ids that never change hands). A policy is `sub`
//! (exact: the index key) and `conditions` on allowed string claims: exact
//! values where a whole path segment `*` stands for one non-empty segment.
//! No other wildcard, no regex, nothing unanchored (docs/PROVIDERS.md says
//! which pitfalls of free-form policies this avoids).
//!
//! **Pins: none.** `info().pins` may not depend on the config, and which
//! claims are ids differs per issuer; instead every policy must state each
//! `immutable_claims` exactly when it is written, and no first-use window
//! applies. Checks: OpenID Connect Core 1.0 ID token validation
//! (<https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation>),
//! RFC 7519 registered claims (<https://www.rfc-editor.org/rfc/rfc7519#section-4.1>).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trustpub_guest::job_tokens::wanted;
use trustpub_guest::{Config, Provider, Verified, ensure};

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"required":["sub"],"properties":{"sub":{"type":"string","description":"the token's exact sub claim"},"conditions":{"type":"object","additionalProperties":{"type":"string"},"description":"claim name to exact value; a whole path segment '*' stands for one segment. Only claims the provider config allows"}}}"#;
/// Registered claims the SDK checks itself: never a policy's condition.
const REGISTERED: &[&str] = &["iss", "aud", "exp", "nbf", "iat", "jti", "sub"];

pub struct GenericOidc;

/// The provider's settings besides the SDK's standard block.
#[derive(Deserialize)]
pub struct Settings {
    /// Claims policies may constrain (`sub` always is).
    #[serde(default)]
    pub claims: Vec<String>,
    /// Among `claims`, those every policy must state exactly.
    #[serde(default)]
    pub immutable_claims: Vec<String>,
}

/// No typed claims: conditions read the verified payload by name.
#[derive(Deserialize)]
pub struct Token {}

/// A policy: the exact `sub` and conditions on other claims (left out when none).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Criteria {
    pub sub: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conditions: BTreeMap<String, String>,
}

impl Provider for GenericOidc {
    const NAME: &'static str = "generic-oidc";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const ISSUERS: &'static [&'static str] = &[];
    const ISSUER_KIND: &'static str = "an issuer configured for this provider";
    const CRITERIA_SCHEMA: &'static str = SCHEMA;
    const INDEX_KEY: &'static str = "sub (exact)";
    type Config = Settings;
    type Claims = Token;
    type Criteria = Criteria;

    fn check_config(s: &Settings) -> Result<(), String> {
        let listed = |n: &&String| *n == "sub" || s.claims.contains(n);
        let bad = |n: &&String| !claim_name(n) || REGISTERED[..6].contains(&n.as_str());
        if let Some(n) = s.claims.iter().find(bad) {
            return Err(format!(
                "lists '{n}' in claims, which policies may not constrain"
            ));
        }
        let unlisted = s.immutable_claims.iter().find(|n| !listed(n));
        unlisted.map_or(Ok(()), |n| {
            Err(format!("lists '{n}' in immutable_claims, not in claims"))
        })
    }
    fn lookup_keys(t: &Verified<Token>) -> Vec<String> {
        vec![t.subject().to_string()]
    }
    fn normalize(c: Criteria) -> Result<Criteria, String> {
        let sub = format!("criteria sub '{}' contains '*': sub is exact", c.sub);
        ensure(!c.sub.contains('*'), || sub)?;
        for (claim, pattern) in &c.conditions {
            let registered = REGISTERED.contains(&claim.as_str());
            let why = "is a registered claim the evaluator checks itself (sub goes in \"sub\")";
            ensure(!registered, || {
                format!("criteria condition '{claim}' {why}")
            })?;
            let name = format!("criteria condition '{claim}' is not a claim name");
            ensure(claim_name(claim), || name)?;
            segments(claim, pattern)?;
        }
        Ok(c)
    }
    fn index_keys(c: &Criteria) -> Vec<String> {
        vec![c.sub.clone()]
    }
    /// Conditions only on claims the operator allows, and every immutable one exact.
    fn allows(c: &Criteria, config: &Config<Settings>) -> Result<(), String> {
        let s = &config.provider;
        if let Some(claim) = c.conditions.keys().find(|n| !s.claims.contains(n)) {
            let allowed = s.claims.join(", ");
            let why = format!("this registry lets policies constrain sub and {allowed}");
            return Err(format!("criteria condition on '{claim}': {why}"));
        }
        for claim in s.immutable_claims.iter().filter(|n| *n != "sub") {
            let exact = c
                .conditions
                .get(claim)
                .is_some_and(|p| !p.split('/').any(|s| s == "*"));
            let why = format!("criteria must state the immutable claim '{claim}' exactly");
            ensure(exact, || why)?;
        }
        Ok(())
    }
    fn matches(c: &Criteria, t: &Verified<Token>) -> Result<(), String> {
        wanted("sub", Some(&c.sub), Some(t.subject()))?;
        for (claim, pattern) in &c.conditions {
            let value = t.claims().string(claim)?;
            let (want, got) = (segments(claim, pattern)?, value.split('/'));
            let fits = |(w, g): (&&str, &str)| *w == g || (*w == "*" && !g.is_empty());
            let ok = want.len() == got.clone().count() && want.iter().zip(got).all(fits);
            ensure(ok, || {
                format!("{claim} is {value}, the policy wants {pattern}")
            })?;
        }
        Ok(())
    }
}

/// A claim name: ASCII letters, digits, `_`, `-`, `.` or `:`.
fn claim_name(name: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"_-.:".contains(&b);
    !name.is_empty() && name.bytes().all(ok)
}

/// A pattern's `/`-segments: `*` only as a whole segment, not every segment `*`.
fn segments<'a>(claim: &str, pattern: &'a str) -> Result<Vec<&'a str>, String> {
    let parts: Vec<&str> = pattern.split('/').collect();
    let partial = parts.iter().any(|p| p.contains('*') && *p != "*");
    let why = "'*' stands for one whole path segment and something else must be named";
    let only_stars = parts.iter().all(|p| *p == "*" || p.is_empty());
    let message = format!("criteria condition {claim} '{pattern}': {why}");
    ensure(!partial && !only_stars, || message).map(|()| parts)
}

trustpub_guest::export_evaluator!(GenericOidc);

#[cfg(test)]
mod tests;

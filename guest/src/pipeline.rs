//! The validation pipeline every `Provider` evaluator runs (the order is
//! documented on [`crate::Provider`]). It lives in one function so the order
//! is read in one place and no evaluator can skip or reorder a standard step.

use crate::check::{self, AUDIENCE, CLAIMS, CONFIG, Check, ISSUER, LIFETIME, MALFORMED, TOKEN_ID};
use crate::config::Config;
use crate::issuer::IssuerMatch;
use crate::jwt::UnverifiedJwt;
use crate::lifetime::{accepted_until, check_lifetime};
use crate::provider::Provider;
use crate::typed::from_claims;
use crate::types::{Rejection, TokenFacts};
use crate::verified::Verified;
use crate::verify::{SignatureVerifier, verified_claims_of};

/// Validates `raw` for provider `P`: the facts for the host and the verified
/// token for `match`, or the first failed check.
pub fn validate<P: Provider>(
    raw: &str,
    config: &str,
    now: u64,
    verifier: &dyn SignatureVerifier,
) -> Result<(TokenFacts, Verified<P::Claims>), Rejection> {
    // The config is the operator's: a broken one is not the client's fault,
    // but failing closed with a clear message is the only safe answer.
    let config = Config::<P::Config>::parse(config, P::NAME).check(CONFIG)?;
    P::check_config(&config.provider)
        .map_err(|e| format!("the {} provider configuration {e}", P::NAME))
        .check(CONFIG)?;

    let unverified = UnverifiedJwt::parse(raw).check(MALFORMED)?;
    let issuer = unverified.claims.string("iss").check(ISSUER)?;
    let Some(accepted) = IssuerMatch::find(issuer, P::ISSUERS, &config.issuers).check(ISSUER)?
    else {
        // An evaluator without patterns of its own (bring your own issuer)
        // accepts only configured issuers, which ISSUER_KIND then describes.
        let configured = if config.issuers.is_empty() || P::ISSUERS.is_empty() {
            ""
        } else {
            " or an issuer configured on this registry"
        };
        let patterns = match P::ISSUERS {
            [] => String::new(),
            some => format!(" ({})", some.join(" or ")),
        };
        let kind = P::ISSUER_KIND;
        let message = format!("the iss claim '{issuer}' is not {kind}{patterns}{configured}");
        return check::reject(ISSUER, message);
    };
    P::check_issuer(&accepted, &config).check(ISSUER)?;

    // From here on only verified claims count.
    let issuer = issuer.to_string();
    let claims = verified_claims_of(verifier, raw, &issuer, unverified)?;
    claims
        .require_audience(&config.audience, P::SINGLE_AUDIENCE)
        .check(AUDIENCE)?;
    if P::REQUIRE_IAT {
        claims.timestamp("iat").check(LIFETIME)?;
    }
    let skew = config.clock_skew_seconds;
    let expires_at = check_lifetime(&claims, now, skew).check(LIFETIME)?;
    let token_id = claims
        .token_id(P::TOKEN_ID_CLAIMS)
        .check(TOKEN_ID)?
        .to_string();
    let subject = claims.string("sub").check(CLAIMS)?.to_string();
    let typed = from_claims::<P::Claims>(&claims).check(CLAIMS)?;

    let token = Verified::new(typed, claims, issuer, subject, token_id);
    for rule in P::RULES {
        rule.apply(&token, &config)?;
    }
    let lookup_keys = P::lookup_keys(&token);
    if lookup_keys.is_empty() {
        return check::reject(CLAIMS, "the token yields no index key");
    }
    let facts = TokenFacts {
        issuer: token.issuer().to_string(),
        token_id: token.token_id().to_string(),
        subject: token.subject().to_string(),
        accepted_until: accepted_until(expires_at, skew),
        expires_at,
        lookup_keys,
    };
    Ok((facts, token))
}

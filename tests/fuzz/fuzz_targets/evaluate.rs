//! The shipped evaluators' validation and matching on arbitrary tokens, with
//! a verifier that vouches for any payload (as if the IdP had signed it):
//! every claim check runs on hostile values. Nothing may panic; a valid
//! token has an issuer the evaluator declares, a token id and a lookup key,
//! and is accepted until at least its expiry; a match may only name a policy
//! it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustpub_entra_id::EntraId;
use trustpub_github_actions::GitHubActions;
use trustpub_guest::issuer::IssuerPattern;
use trustpub_guest::jwt::decode_object;
use trustpub_guest::{Candidate, Evaluator, MatchResult, Session, SignatureVerifier, Validation};

/// Says every signature is valid and returns the token's own payload.
struct VouchesForAnything;

impl SignatureVerifier for VouchesForAnything {
    fn verify_jws(&self, token: &str, _issuer: &str) -> Result<String, String> {
        let payload = token.split('.').nth(1).ok_or("no payload")?;
        let map = decode_object(payload, "payload")?;
        Ok(serde_json::Value::Object(map).to_string())
    }
}

fn run<E: Evaluator>(token: &str, candidates: Vec<Candidate>, config: &str) {
    let ids: Vec<u64> = candidates.iter().map(|p| p.id).collect();
    let mut session = Session::<E>::new();
    let Validation::Valid(facts) =
        session.validate(token, config, 1_800_000_000, &VouchesForAnything)
    else {
        return;
    };
    assert!(
        E::info()
            .issuers
            .iter()
            .any(|p| IssuerPattern::parse(p).is_ok_and(|p| p.matches(&facts.issuer))),
        "valid for an undeclared issuer {}",
        facts.issuer
    );
    assert!(!facts.token_id.trim().is_empty());
    assert!(!facts.lookup_keys.is_empty());
    assert!(facts.accepted_until >= facts.expires_at);
    if let MatchResult::Matched(m) = session.match_candidates(&candidates) {
        assert!(ids.contains(&m.policy_id), "matched a policy it was not given");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The token, then optionally one policy's criteria on the next line.
    let (token, criteria) = text.split_once('\n').unwrap_or((text, "{}"));
    let policy = |criteria: &str| Candidate {
        id: 7,
        criteria: criteria.to_string(),
        pins: Vec::new(),
    };
    run::<EntraId>(
        token,
        vec![policy(criteria)],
        r#"{"audience": "api://AzureADTokenExchange", "clock_skew_seconds": 300}"#,
    );
    run::<GitHubActions>(
        token,
        vec![policy(criteria)],
        r#"{"audience": "https://www.nuget.org", "clock_skew_seconds": 300}"#,
    );
});

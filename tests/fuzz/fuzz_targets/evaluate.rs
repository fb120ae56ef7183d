//! The nine shipped evaluators' validation and matching on arbitrary tokens,
//! with a verifier that vouches for any payload (as if the IdP had signed
//! it): every claim check runs on hostile values. Nothing may panic; a valid
//! token has an issuer the evaluator declares (or the config lists), a token
//! id and a lookup key, and is accepted until at least its expiry; a match
//! may only name a policy it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
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

fn declared(patterns: &[String], config: &str, issuer: &str) -> bool {
    let configured: Vec<String> = serde_json::from_str::<serde_json::Value>(config)
        .ok()
        .and_then(|c| serde_json::from_value(c["issuers"].clone()).ok())
        .unwrap_or_default();
    patterns
        .iter()
        .chain(&configured)
        .any(|p| IssuerPattern::parse(p).is_ok_and(|p| p.matches(issuer)))
}

fn run<E: Evaluator>(token: &str, candidates: &[Candidate], config: &str) {
    let ids: Vec<u64> = candidates.iter().map(|p| p.id).collect();
    let mut session = Session::<E>::new();
    let Validation::Valid(facts) =
        session.validate(token, config, 1_800_000_000, &VouchesForAnything)
    else {
        return;
    };
    assert!(
        declared(&E::info().issuers, config, &facts.issuer),
        "valid for an undeclared issuer {}",
        facts.issuer
    );
    assert!(!facts.token_id.trim().is_empty());
    assert!(!facts.lookup_keys.is_empty());
    assert!(facts.accepted_until >= facts.expires_at);
    if let MatchResult::Matched(m) = session.match_candidates(candidates) {
        assert!(ids.contains(&m.policy_id), "matched a policy it was not given");
    }
}

const AUDIENCE: &str = r#"{"audience": "https://registry.example", "clock_skew_seconds": 300}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The token, then optionally one policy's criteria on the next line.
    let (token, criteria) = text.split_once('\n').unwrap_or((text, "{}"));
    let policies = [Candidate {
        id: 7,
        criteria: criteria.to_string(),
        pins: Vec::new(),
    }];
    run::<trustpub_entra_id::EntraId>(
        token,
        &policies,
        r#"{"audience": "api://AzureADTokenExchange", "clock_skew_seconds": 300}"#,
    );
    run::<trustpub_github_actions::GitHubActions>(token, &policies, AUDIENCE);
    run::<trustpub_gitlab::GitLab>(token, &policies, AUDIENCE);
    run::<trustpub_forgejo_actions::ForgejoActions>(token, &policies, AUDIENCE);
    run::<trustpub_bitbucket_pipelines::Component>(token, &policies, AUDIENCE);
    run::<trustpub_circleci::Component>(token, &policies, AUDIENCE);
    run::<trustpub_buildkite::Component>(token, &policies, AUDIENCE);
    run::<trustpub_google_cloud::Component>(token, &policies, AUDIENCE);
    run::<trustpub_generic_oidc::GenericOidc>(
        token,
        &policies,
        r#"{"audience": "https://registry.example", "issuers": ["https://oidc.ci.contoso.example"], "claims": ["sub", "repository", "repository_id", "ref"], "immutable_claims": ["repository_id"]}"#,
    );
});

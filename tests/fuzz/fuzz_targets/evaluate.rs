//! The shipped evaluators' validation and matching on arbitrary tokens, with
//! a verifier that vouches for any payload (as if the IdP had signed it):
//! every claim check runs on hostile values. Nothing may panic, and a match
//! may only name a policy it was given, for an issuer it declares.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustpub_entra_id::EntraId;
use trustpub_github_actions::GitHubActions;
use trustpub_guest::issuer::IssuerPattern;
use trustpub_guest::jwt::decode_object;
use trustpub_guest::{Evaluation, Evaluator, Policy, Request, SignatureVerifier};

/// Says every signature is valid and returns the token's own payload.
struct VouchesForAnything;

impl SignatureVerifier for VouchesForAnything {
    fn verify_jws(&self, token: &str, _issuer: &str) -> Result<String, String> {
        let payload = token.split('.').nth(1).ok_or("no payload")?;
        let map = decode_object(payload, "payload")?;
        Ok(serde_json::Value::Object(map).to_string())
    }
}

fn run<E: Evaluator>(token: &str, policies: Vec<Policy>, config: &str) {
    let ids: Vec<u64> = policies.iter().map(|p| p.id).collect();
    let request = Request {
        token: token.to_string(),
        policies,
        config: config.to_string(),
        now: 1_800_000_000,
    };
    if let Evaluation::Matched(m) = E::evaluate(&request, &VouchesForAnything) {
        assert!(ids.contains(&m.policy_id), "matched a policy it was not given");
        assert!(
            E::info()
                .issuers
                .iter()
                .any(|p| IssuerPattern::parse(p).is_ok_and(|p| p.matches(&m.issuer))),
            "matched for an undeclared issuer {}",
            m.issuer
        );
        assert!(!m.token_id.trim().is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The token, then optionally one policy's criteria on the next line.
    let (token, criteria) = text.split_once('\n').unwrap_or((text, "{}"));
    let policy = |criteria: &str| Policy {
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

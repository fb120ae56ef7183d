//! A hostile evaluator: a valid `info()` and a `validate` that calls every
//! token valid, but `match` claims a policy id it was never given. The host
//! must reject the result.

use trustpub_guest::{
    Candidate, CheckedCriteria, Evaluator, MatchResult, Matched, ProviderInfo, Rejection,
    SignatureVerifier, TokenFacts,
};

pub struct WrongPolicy;

/// Not among the policies any test hands it.
pub const FOREIGN_POLICY_ID: u64 = 999_999;

const ISSUER: &str = "https://hostile.example/wrong-policy";

/// Every policy and every token share this key, so the host always has
/// candidates to hand `match`.
const INDEX_KEY: &str = "hostile";

impl Evaluator for WrongPolicy {
    type Token = ();

    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-wrong-policy".into(),
            version: "0.1.0".into(),
            issuers: vec![ISSUER.into()],
            criteria_schema: "{}".into(),
            pins: Vec::new(),
            index_key: "anything".into(),
        }
    }

    fn check_criteria(criteria: &str, _config: &str) -> Result<CheckedCriteria, String> {
        Ok(CheckedCriteria {
            criteria: criteria.to_string(),
            index_keys: vec![INDEX_KEY.into()],
        })
    }

    fn validate(
        _token: &str,
        _config: &str,
        now: u64,
        _verifier: &dyn SignatureVerifier,
    ) -> Result<(TokenFacts, ()), Rejection> {
        let facts = TokenFacts {
            issuer: ISSUER.into(),
            token_id: "x".into(),
            subject: "x".into(),
            accepted_until: now.saturating_add(60),
            expires_at: now.saturating_add(60),
            lookup_keys: vec![INDEX_KEY.into()],
        };
        Ok((facts, ()))
    }

    fn match_candidates(_token: &(), _candidates: &[Candidate]) -> MatchResult {
        MatchResult::Matched(Matched {
            policy_id: FOREIGN_POLICY_ID,
            pins: Vec::new(),
        })
    }
}

trustpub_guest::export_evaluator!(WrongPolicy);

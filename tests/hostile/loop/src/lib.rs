//! A hostile evaluator: a valid `info()`, but `validate` never returns. The
//! host must interrupt it at its deadline and stay usable afterwards.

use trustpub_guest::{
    Candidate, CheckedCriteria, Evaluator, MatchResult, ProviderInfo, Rejection, SignatureVerifier,
    TokenFacts,
};

pub struct Loop;

impl Evaluator for Loop {
    type Token = ();

    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-loop".into(),
            version: "0.1.0".into(),
            issuers: vec!["https://hostile.example/loop".into()],
            criteria_schema: "{}".into(),
            pins: Vec::new(),
            index_key: "anything".into(),
        }
    }

    fn check_criteria(criteria: &str, _config: &str) -> Result<CheckedCriteria, String> {
        Ok(CheckedCriteria {
            criteria: criteria.to_string(),
            index_keys: vec!["hostile".into()],
        })
    }

    fn validate(
        _token: &str,
        _config: &str,
        _now: u64,
        _verifier: &dyn SignatureVerifier,
    ) -> Result<(TokenFacts, ()), Rejection> {
        let mut counter = 0u64;
        // black_box keeps the optimizer from proving the loop side-effect free.
        loop {
            std::hint::black_box(&mut counter);
            counter = counter.wrapping_add(1);
        }
    }

    fn match_candidates(_token: &(), _candidates: &[Candidate]) -> MatchResult {
        MatchResult::Unauthorized(Vec::new())
    }
}

trustpub_guest::export_evaluator!(Loop);

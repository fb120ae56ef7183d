//! A hostile evaluator: a valid `info()`, but `validate` panics. The wasm
//! profile aborts on panic, so the component traps (`unreachable`).

use trustpub_guest::{
    Candidate, CheckedCriteria, Evaluator, MatchResult, ProviderInfo, Rejection, SignatureVerifier,
    TokenFacts,
};

pub struct Trap;

impl Evaluator for Trap {
    type Token = ();

    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-trap".into(),
            version: "0.1.0".into(),
            issuers: vec!["https://hostile.example/trap".into()],
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
        token: &str,
        _config: &str,
        _now: u64,
        _verifier: &dyn SignatureVerifier,
    ) -> Result<(TokenFacts, ()), Rejection> {
        panic!(
            "hostile-trap panics on purpose (token of {} bytes)",
            token.len()
        )
    }

    fn match_candidates(_token: &(), _candidates: &[Candidate]) -> MatchResult {
        MatchResult::Unauthorized(Vec::new())
    }
}

trustpub_guest::export_evaluator!(Trap);

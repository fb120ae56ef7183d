//! What a case run needs from whatever runs the evaluator.

use crate::types::{Candidate, CheckedCriteria, MatchResult, TokenFacts, Validation};

pub trait CaseBackend {
    /// The compact JWS for this header and claims; a signature that verifies
    /// with the backend's keys unless `valid_signature` is false.
    fn token(
        &mut self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
        valid_signature: bool,
    ) -> String;

    /// `check-criteria` under the provider `config`; the outer `Err` is an
    /// evaluator failure (a trap, a timeout), the inner one the evaluator
    /// refusing the criteria.
    fn check_criteria(
        &mut self,
        criteria: &str,
        config: &str,
    ) -> Result<Result<CheckedCriteria, String>, String>;

    /// `validate`, then (when valid) `match` with the candidates `select`
    /// returns for the token's facts, in one instance. `Err` is an evaluator
    /// failure.
    fn exchange(
        &mut self,
        token: &str,
        config: &str,
        now: u64,
        select: &mut dyn FnMut(&TokenFacts) -> Vec<Candidate>,
    ) -> Result<(Validation, Option<MatchResult>), String>;
}

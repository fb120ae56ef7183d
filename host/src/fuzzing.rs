//! Entry points for the `cargo fuzz` targets in `tests/fuzz` (feature
//! `fuzzing`): the host's own parsers of what clients send, and its checks on
//! what a guest returns across the WIT boundary. Each is the code the server
//! runs, reached without a socket or a sandbox so a fuzzer can call it
//! millions of times.

use trustpub_guest::types::{Candidate, CheckedCriteria, MatchResult, Validation};

use crate::operator::PolicyRequest;
use crate::runtime::{Contract, EvalError, results};

/// `POST /api/v2/token`'s body: the username it names, or the 400 message.
pub fn exchange_body(body: &[u8]) -> Result<Option<String>, String> {
    crate::server::token::parse_body(body)
        .map(|(username, _)| username)
        .map_err(|e| e.message)
}

/// `POST /admin/policies`'s body as the admin API parses it, then the
/// checks the operator service makes before the evaluator sees the criteria.
pub fn policy_body(body: &[u8]) -> Result<PolicyRequest, String> {
    let request: PolicyRequest = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    crate::names::check_name("owner", &request.owner)?;
    for scope in &request.scopes {
        crate::names::check_scope(&scope.packages, &scope.actions)?;
    }
    Ok(request)
}

fn contract(v0_1: bool) -> Contract {
    if v0_1 { Contract::V0_1 } else { Contract::V0_2 }
}

/// What the host makes of a guest's `validate` result.
pub fn validation(
    v0_1: bool,
    result: Validation,
    now: u64,
    max: usize,
) -> Result<Validation, EvalError> {
    results::validation(contract(v0_1), result, now, max)
}

/// What the host makes of a guest's `match-candidates` result.
pub fn match_result(
    result: MatchResult,
    candidates: &[Candidate],
    max: usize,
) -> Result<MatchResult, EvalError> {
    results::match_result(result, candidates, max)
}

/// What the host makes of a guest's `check-criteria` result.
pub fn checked_criteria(
    v0_1: bool,
    result: Result<CheckedCriteria, String>,
    max: usize,
) -> Result<Result<CheckedCriteria, String>, EvalError> {
    results::checked_criteria(contract(v0_1), result, max)
}

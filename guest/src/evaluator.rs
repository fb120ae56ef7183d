//! The contract `trustpub:evaluator@0.2.0` as a Rust trait.
//!
//! This is the low level: four functions mirroring the WIT exports, with the
//! state `validate` keeps for `match` made explicit as [`Evaluator::Token`].
//! Identity-provider evaluators implement [`crate::Provider`] instead, which
//! implements this trait with the whole validation pipeline; implementing it
//! directly is for evaluators that need another pipeline, and for the hostile
//! test guests.

use crate::types::{Candidate, CheckedCriteria, MatchResult, ProviderInfo, Rejection, TokenFacts};
use crate::verify::SignatureVerifier;

pub trait Evaluator {
    /// What a valid validation keeps for `match`: the verified token.
    type Token: 'static;

    /// What this evaluator handles; must not depend on any input.
    fn info() -> ProviderInfo;

    /// Validates a policy's criteria (a JSON object) under the provider's
    /// `config` (JSON): normalized criteria and index keys (at least one), or
    /// what is wrong with them.
    fn check_criteria(criteria: &str, config: &str) -> Result<CheckedCriteria, String>;

    /// Validates the token with the provider's `config` (JSON) at `now`,
    /// before any policy is known: its facts and what `match` needs, or why
    /// it is not a valid token of this provider.
    fn validate(
        token: &str,
        config: &str,
        now: u64,
        verifier: &dyn SignatureVerifier,
    ) -> Result<(TokenFacts, Self::Token), Rejection>;

    /// Which candidate (oldest first) trusts the validated token.
    fn match_candidates(token: &Self::Token, candidates: &[Candidate]) -> MatchResult;
}

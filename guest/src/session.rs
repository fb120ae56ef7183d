//! One exchange's instance state: the token of the last validation, for the
//! `match` calls that follow it.
//!
//! The component keeps one `Session` per instance (the host makes a fresh
//! instance per exchange); native callers (tests, case tables, the host's
//! benchmarks) use it directly, so both run the same rule for `match`
//! without a valid validation.

use crate::evaluator::Evaluator;
use crate::types::{Candidate, MatchResult, Validation};
use crate::verify::SignatureVerifier;

pub struct Session<E: Evaluator> {
    token: Option<E::Token>,
}

impl<E: Evaluator> Default for Session<E> {
    fn default() -> Self {
        Self { token: None }
    }
}

impl<E: Evaluator> Session<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates `token`, keeping it for [`Self::match_candidates`] when it
    /// is valid. Every validation first forgets the previous token, so a
    /// `match` after a bad token can never match an earlier one.
    pub fn validate(
        &mut self,
        token: &str,
        config: &str,
        now: u64,
        verifier: &dyn SignatureVerifier,
    ) -> Validation {
        self.token = None;
        match E::validate(token, config, now, verifier) {
            Ok((facts, token)) => {
                self.token = Some(token);
                Validation::Valid(facts)
            }
            Err(rejection) => Validation::BadToken(rejection),
        }
    }

    /// Matches the validated token against `candidates`; without a valid
    /// validation, `unauthorized` with no near misses (as the WIT requires).
    pub fn match_candidates(&self, candidates: &[Candidate]) -> MatchResult {
        match &self.token {
            Some(token) => E::match_candidates(token, candidates),
            None => MatchResult::Unauthorized(Vec::new()),
        }
    }
}

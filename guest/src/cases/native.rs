//! Running case tables natively against an evaluator crate: tokens with the
//! fake signature of [`crate::testing`], the SDK's session directly. This is
//! what an evaluator's `cargo test` runs over its `cases/` directory.

use std::marker::PhantomData;
use std::path::Path;

use super::backend::CaseBackend;
use super::file::load_dir;
use super::run::{CaseReport, run};
use crate::evaluator::Evaluator;
use crate::session::Session;
use crate::testing::{BAD_SIGNATURE, FAKE_SIGNATURE, FakeVerifier, token};
use crate::types::{Candidate, CheckedCriteria, MatchResult, TokenFacts, Validation};

/// Runs evaluator `E` in-process.
pub struct NativeBackend<E> {
    evaluator: PhantomData<E>,
}

impl<E> Default for NativeBackend<E> {
    fn default() -> Self {
        Self {
            evaluator: PhantomData,
        }
    }
}

impl<E: Evaluator> NativeBackend<E> {
    pub fn new() -> Self {
        Self::default()
    }
}

impl<E: Evaluator> CaseBackend for NativeBackend<E> {
    fn token(
        &mut self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
        valid_signature: bool,
    ) -> String {
        let signed = token(header, claims);
        if valid_signature {
            signed
        } else {
            let unsigned = signed.strip_suffix(FAKE_SIGNATURE).unwrap_or(&signed);
            format!("{unsigned}{BAD_SIGNATURE}")
        }
    }

    fn check_criteria(
        &mut self,
        criteria: &str,
        config: &str,
    ) -> Result<Result<CheckedCriteria, String>, String> {
        Ok(E::check_criteria(criteria, config))
    }

    fn exchange(
        &mut self,
        token: &str,
        config: &str,
        now: u64,
        select: &mut dyn FnMut(&TokenFacts) -> Vec<Candidate>,
    ) -> Result<(Validation, Option<MatchResult>), String> {
        let mut session = Session::<E>::new();
        let validation = session.validate(token, config, now, &FakeVerifier::new());
        let result = match &validation {
            Validation::Valid(facts) => Some(session.match_candidates(&select(facts))),
            Validation::BadToken(_) => None,
        };
        Ok((validation, result))
    }
}

/// Every case file in `dir` run natively against `E`, reports summed.
pub fn run_native_dir<E: Evaluator>(dir: &Path) -> Result<CaseReport, String> {
    let mut total = CaseReport::default();
    for file in load_dir(dir)? {
        let report = run(&file, &mut NativeBackend::<E>::new());
        total.passed += report.passed;
        total.failures.extend(report.failures);
    }
    Ok(total)
}

/// [`run_native_dir`] as an evaluator crate's test asserts it: the files
/// load, no case fails and at least `min` pass.
#[track_caller]
pub fn assert_native_dir<E: Evaluator>(dir: &Path, min: usize) {
    let report = run_native_dir::<E>(dir).unwrap_or_else(|e| panic!("case files: {e}"));
    let failures = report.failures.join("\n");
    assert!(report.failures.is_empty(), "failures:\n{failures}");
    assert!(report.passed >= min, "only {} cases passed", report.passed);
}

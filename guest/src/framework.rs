//! Every [`Provider`] is an [`Evaluator`]: the SDK's pipeline, criteria
//! handling and candidate loop around the provider's rules. This is what
//! `export_evaluator!(MyProvider)` exports.

use crate::candidates;
use crate::criteria;
use crate::evaluator::Evaluator;
use crate::pins;
use crate::pipeline;
use crate::provider::Provider;
use crate::types::{Candidate, CheckedCriteria, MatchResult, ProviderInfo, Rejection, TokenFacts};
use crate::verified::Verified;
use crate::verify::SignatureVerifier;

impl<P: Provider> Evaluator for P {
    type Token = Verified<P::Claims>;

    fn info() -> ProviderInfo {
        ProviderInfo {
            name: P::NAME.into(),
            version: P::VERSION.into(),
            issuers: P::ISSUERS.iter().map(|i| i.to_string()).collect(),
            criteria_schema: P::CRITERIA_SCHEMA.into(),
            pins: pins::names(P::PINS),
            index_key: P::INDEX_KEY.into(),
        }
    }

    fn check_criteria(criteria: &str, config: &str) -> Result<CheckedCriteria, String> {
        criteria::check::<P>(criteria, config)
    }

    fn validate(
        token: &str,
        config: &str,
        now: u64,
        verifier: &dyn SignatureVerifier,
    ) -> Result<(TokenFacts, Self::Token), Rejection> {
        pipeline::validate::<P>(token, config, now, verifier)
    }

    fn match_candidates(token: &Self::Token, candidates: &[Candidate]) -> MatchResult {
        candidates::match_candidates::<P>(token, candidates)
    }
}

//! The one gate every evaluator version passes before it serves: at
//! start-up, on `PUT /admin/evaluators/{provider}`, `trustpub evaluator
//! push` and a replaced component file alike. Check its signature when the
//! operator requires one (before anything parses it), compile and check the
//! contract and the world, read `info()` within the sandbox limits, check
//! that the component is this provider's evaluator, that no other provider
//! claims its issuers, and that it passes the provider's conformance cases.

use std::sync::Arc;

use super::Provider;
use super::conformance::ConformanceCases;
use super::signature::{SignatureError, TrustedKeys};
use crate::runtime::{EvaluatorRuntime, LimitOverrides, LoadError, LoadedEvaluator};

/// Why a component may not serve a provider.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the component is the '{actual}' evaluator, not '{expected}'")]
    NameMismatch { expected: String, actual: String },
    #[error("providers '{0}' and '{1}' both declare issuer pattern '{2}'")]
    AmbiguousIssuer(String, String, String),
    #[error("conformance cases: {0}")]
    Cases(String),
}

/// What a component is admitted for: a provider's name, limits, cases and
/// configuration.
pub struct AdmissionRules<'a> {
    pub provider: &'a str,
    pub limits: &'a LimitOverrides,
    pub cases: Option<&'a ConformanceCases>,
    pub config_json: &'a str,
    pub trusted_keys: &'a TrustedKeys,
}

impl<'a> AdmissionRules<'a> {
    /// What a new version of `provider`'s evaluator must pass.
    pub fn of(provider: &'a Provider) -> Self {
        Self {
            provider: &provider.name,
            limits: &provider.limits,
            cases: provider.cases.as_ref(),
            config_json: &provider.config_json,
            trusted_keys: &provider.trusted_keys,
        }
    }
}

/// Loads `bytes` (with its detached `signature`, base64, if any) and checks
/// it against `rules` and the `others` providers already serving; the
/// loaded evaluator carries the provider's limits. Blocking: compiling
/// takes CPU time.
pub fn admit(
    runtime: &EvaluatorRuntime,
    rules: &AdmissionRules<'_>,
    others: &[Arc<Provider>],
    bytes: &[u8],
    signature: Option<&[u8]>,
) -> Result<LoadedEvaluator, AdmissionError> {
    rules
        .trusted_keys
        .check(&crate::digest::sha256_hex(bytes), signature)?;
    let evaluator = runtime.load(bytes)?.with_limits(rules.limits);
    if evaluator.info().name != rules.provider {
        return Err(AdmissionError::NameMismatch {
            expected: rules.provider.into(),
            actual: evaluator.info().name.clone(),
        });
    }
    // Routing must not depend on configuration order.
    for other in others.iter().filter(|p| p.name != rules.provider) {
        let active = other.evaluator();
        if let Some(pattern) = evaluator
            .info()
            .issuers
            .iter()
            .find(|p| active.evaluator.info().issuers.contains(p))
        {
            return Err(AdmissionError::AmbiguousIssuer(
                rules.provider.into(),
                other.name.clone(),
                pattern.clone(),
            ));
        }
    }
    if let Some(cases) = rules.cases {
        cases
            .run(&evaluator, rules.config_json)
            .map_err(AdmissionError::Cases)?;
    }
    Ok(evaluator)
}

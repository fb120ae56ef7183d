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
use super::routing::IssuerRoutes;
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
    #[error(
        "providers '{}' and '{}' could both take tokens of one issuer: '{}' and '{}' overlap",
        .0.provider, .0.other, .0.route, .0.other_route
    )]
    AmbiguousIssuer(Box<IssuerConflict>),
    #[error("conformance cases: {0}")]
    Cases(String),
}

/// Two providers' routes that one issuer could match.
#[derive(Debug)]
pub struct IssuerConflict {
    pub provider: String,
    pub other: String,
    pub route: String,
    pub other_route: String,
}

/// What a component is admitted for: a provider's name, limits, cases and
/// configuration.
pub struct AdmissionRules<'a> {
    pub provider: &'a str,
    /// The name the evaluator must report.
    pub evaluator_name: &'a str,
    /// Whether the evaluator's patterns route to this provider.
    pub evaluator_issuers: bool,
    /// The exact issuers the operator added.
    pub exact_issuers: Vec<String>,
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
            evaluator_name: &provider.evaluator_name,
            evaluator_issuers: provider.jwks.is_some(),
            exact_issuers: provider
                .issuer_keys
                .iter()
                .map(|(i, _)| i.clone())
                .collect(),
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
    if evaluator.info().name != rules.evaluator_name {
        return Err(AdmissionError::NameMismatch {
            expected: rules.evaluator_name.into(),
            actual: evaluator.info().name.clone(),
        });
    }
    // Routing must not depend on configuration order: no issuer may be
    // routable to two providers, judged by what the patterns can match.
    let routes = IssuerRoutes {
        patterns: if rules.evaluator_issuers {
            evaluator.info().issuers.clone()
        } else {
            Vec::new()
        },
        exact: rules.exact_issuers.clone(),
    };
    for other in others.iter().filter(|p| p.name != rules.provider) {
        if let Some((mine, theirs)) = routes.overlap(&other.routes()) {
            return Err(AdmissionError::AmbiguousIssuer(Box::new(IssuerConflict {
                provider: rules.provider.into(),
                other: other.name.clone(),
                route: mine,
                other_route: theirs,
            })));
        }
    }
    if let Some(cases) = rules.cases {
        cases
            .run(&evaluator, rules.config_json)
            .map_err(AdmissionError::Cases)?;
    }
    Ok(evaluator)
}

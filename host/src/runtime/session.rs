//! One exchange's instance: `validate`, then `match` as often as the host
//! needs (e.g. once per user), in the same store and under one deadline.
//!
//! A 0.1 component has no such split. Its adapter validates by calling
//! `evaluate` with no policies (the 0.1 contract validates the token before
//! it reads any policy) and matches by calling `evaluate` again with the
//! candidates; the token's facts come with its `matched`.

use trustpub_guest::UnverifiedJwt;
use trustpub_guest::types::{
    Candidate, MatchResult, Matched, NearMiss, Rejection, TokenFacts, Validation,
};

use super::bindings::{v0_1, v0_2};
use super::contract::{Contract, Instance};
use super::evaluator::{LoadedEvaluator, Sandbox};
use super::outcome::{Evaluation, Match, Request, UNNAMED_CHECK};
use super::{EvalError, SharedVerifier, results};
use crate::jose::jws::{KeyResolver, KeyVerifier};
use std::sync::Arc;

impl LoadedEvaluator {
    /// A fresh instance for one exchange: `validate`, then `match` (see
    /// [`EvaluatorSession`]), with signatures checked against `keys`.
    pub fn session(&self, keys: Arc<dyn KeyResolver>) -> Result<EvaluatorSession<'_>, EvalError> {
        let verifier = Arc::new(KeyVerifier::new(keys, self.limits().max_token_bytes));
        self.session_with(verifier)
    }

    /// [`session`](Self::session) with any verifier behind the `verify-jws`
    /// import (the benchmark compares with and without crypto).
    pub fn session_with(
        &self,
        verifier: SharedVerifier,
    ) -> Result<EvaluatorSession<'_>, EvalError> {
        Ok(EvaluatorSession::new(self, self.instantiate(verifier)?))
    }

    /// Validates `request.token` and matches it against all of
    /// `request.policies` in one session: what `trustpub eval`, the
    /// conformance cases and the benchmarks run.
    pub fn evaluate(
        &self,
        request: &Request,
        keys: Arc<dyn KeyResolver>,
    ) -> Result<Evaluation, EvalError> {
        let verifier = Arc::new(KeyVerifier::new(keys, self.limits().max_token_bytes));
        self.evaluate_with(request, verifier)
    }

    /// [`evaluate`](Self::evaluate) with any verifier.
    pub fn evaluate_with(
        &self,
        request: &Request,
        verifier: SharedVerifier,
    ) -> Result<Evaluation, EvalError> {
        self.session_with(verifier)?.evaluate(request)
    }
}

/// What a valid validation left for `match`.
struct Validated {
    facts: TokenFacts,
    /// The `iss` the token names, which the evaluator's issuer must equal.
    named_issuer: Option<String>,
    /// The 0.1 adapter replays the request with candidates.
    token: String,
    config: String,
}

pub struct EvaluatorSession<'a> {
    evaluator: &'a LoadedEvaluator,
    sandbox: Sandbox,
    now: u64,
    validated: Option<Validated>,
}

impl<'a> EvaluatorSession<'a> {
    fn new(evaluator: &'a LoadedEvaluator, sandbox: Sandbox) -> Self {
        Self {
            evaluator,
            sandbox,
            now: 0,
            validated: None,
        }
    }

    fn contract(&self) -> Contract {
        self.evaluator.contract()
    }

    fn max_result(&self) -> usize {
        self.evaluator.max_result_bytes()
    }

    fn check_request_size(&self, size: usize) -> Result<(), EvalError> {
        let limit = self.evaluator.limits().max_request_bytes;
        if size > limit {
            return Err(EvalError::RequestTooLarge { size, limit });
        }
        Ok(())
    }

    /// Validates `token` with the provider's `config` at `now`. The verdict
    /// about the token is in the `Ok` value; `Err` means the evaluator
    /// misbehaved. For a 0.1 component the facts are placeholders until a
    /// match (its `TokenFacts` have no lookup keys).
    pub fn validate(
        &mut self,
        token: &str,
        config: &str,
        now: u64,
    ) -> Result<Validation, EvalError> {
        let named = UnverifiedJwt::parse(token)
            .ok()
            .and_then(|jwt| jwt.claims.string("iss").ok().map(str::to_string));
        self.validate_named(token, named, config, now)
    }

    /// [`validate`](Self::validate) for a token whose unverified `iss` the
    /// caller already read (the exchange routed by it): the token is not
    /// parsed again.
    pub fn validate_routed(
        &mut self,
        token: &str,
        issuer: &str,
        config: &str,
        now: u64,
    ) -> Result<Validation, EvalError> {
        self.validate_named(token, Some(issuer.to_string()), config, now)
    }

    fn validate_named(
        &mut self,
        token: &str,
        named_issuer: Option<String>,
        config: &str,
        now: u64,
    ) -> Result<Validation, EvalError> {
        self.check_request_size(token.len() + config.len())?;
        self.now = now;
        self.validated = None;
        let store = &mut self.sandbox.store;
        let raw = match &self.sandbox.instance {
            Instance::V0_2(i) => i
                .trustpub_evaluator0_2_0_evaluator()
                .call_validate(&mut *store, token, config, now)
                .map(validation_from_wit),
            Instance::V0_1(i) => {
                i.call_evaluate(&mut *store, &v0_1_request(token, config, now, &[]))
                    .map(|e| match e {
                        v0_1::wit::Evaluation::BadToken(message) => {
                            Ok(Validation::BadToken(Rejection::new(UNNAMED_CHECK, message)))
                        }
                        v0_1::wit::Evaluation::Unauthorized => Ok(Validation::Valid(TokenFacts {
                            issuer: String::new(),
                            token_id: String::new(),
                            subject: String::new(),
                            accepted_until: 0,
                            expires_at: 0,
                            lookup_keys: Vec::new(),
                        })),
                        v0_1::wit::Evaluation::Matched(m) => Err(EvalError::InvalidResult(
                            format!("it matched policy {} which it was not given", m.policy_id),
                        )),
                    })
            }
        }
        .map_err(|e| self.evaluator.call_error(e))??;
        let validation = results::validation(self.contract(), raw, now, self.max_result())?;
        if let Validation::Valid(facts) = &validation {
            if self.contract() == Contract::V0_2 {
                check_issuer(named_issuer.as_deref(), &facts.issuer)?;
            }
            self.validated = Some(Validated {
                facts: facts.clone(),
                named_issuer,
                token: token.to_string(),
                config: config.to_string(),
            });
        }
        Ok(validation)
    }

    /// Matches the validated token against `candidates` (oldest first).
    /// Without a valid validation nothing matches.
    pub fn match_candidates(&mut self, candidates: &[Candidate]) -> Result<Evaluation, EvalError> {
        let Some(validated) = &self.validated else {
            return Ok(Evaluation::Unauthorized(Vec::new()));
        };
        let size: usize = candidates
            .iter()
            .map(|c| {
                c.criteria.len() + c.pins.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() + 8
            })
            .sum();
        self.check_request_size(size)?;
        let store = &mut self.sandbox.store;
        let max = self.evaluator.max_result_bytes();
        let call_error = |e| self.evaluator.call_error(e);
        match &self.sandbox.instance {
            Instance::V0_2(i) => {
                let given: Vec<v0_2::wit::Candidate> = candidates
                    .iter()
                    .map(|c| v0_2::wit::Candidate {
                        id: c.id,
                        criteria: c.criteria.clone(),
                        pins: c.pins.clone(),
                    })
                    .collect();
                let raw = i
                    .trustpub_evaluator0_2_0_evaluator()
                    .call_match_candidates(&mut *store, &given)
                    .map_err(call_error)?;
                Ok(
                    match results::match_result(match_from_wit(raw), candidates, max)? {
                        MatchResult::Matched(m) => Evaluation::Matched(Match {
                            policy_id: m.policy_id,
                            pins: m.pins,
                            facts: validated.facts.clone(),
                        }),
                        MatchResult::Unauthorized(misses) => Evaluation::Unauthorized(misses),
                    },
                )
            }
            Instance::V0_1(i) => {
                let request =
                    v0_1_request(&validated.token, &validated.config, self.now, candidates);
                let raw = i.call_evaluate(&mut *store, &request).map_err(call_error)?;
                let m = match raw {
                    v0_1::wit::Evaluation::BadToken(message) if message.len() > max => {
                        return Err(EvalError::InvalidResult(format!(
                            "the bad-token message is {} bytes, over the {max}-byte limit",
                            message.len()
                        )));
                    }
                    v0_1::wit::Evaluation::BadToken(message) => {
                        return Ok(Evaluation::BadToken(Rejection::new(UNNAMED_CHECK, message)));
                    }
                    v0_1::wit::Evaluation::Unauthorized => {
                        return Ok(Evaluation::Unauthorized(Vec::new()));
                    }
                    v0_1::wit::Evaluation::Matched(m) => m,
                };
                let checked = results::match_result(
                    MatchResult::Matched(Matched {
                        policy_id: m.policy_id,
                        pins: m.pins,
                    }),
                    candidates,
                    max,
                )?;
                let MatchResult::Matched(matched) = checked else {
                    return Err(EvalError::InvalidResult("the match was lost".into()));
                };
                if !self.evaluator.handles_issuer(&m.issuer) {
                    return Err(EvalError::InvalidResult(format!(
                        "it matched for issuer '{}' which it does not declare",
                        m.issuer
                    )));
                }
                check_issuer(validated.named_issuer.as_deref(), &m.issuer)?;
                let facts = results::token_facts(
                    TokenFacts {
                        issuer: m.issuer,
                        token_id: m.token_id,
                        subject: m.subject,
                        accepted_until: m.expires_at,
                        expires_at: m.expires_at,
                        lookup_keys: Vec::new(),
                    },
                    self.now,
                    false,
                )?;
                Ok(Evaluation::Matched(Match {
                    policy_id: matched.policy_id,
                    pins: matched.pins,
                    facts,
                }))
            }
        }
    }

    /// Validates, then matches against every policy of the request.
    pub fn evaluate(mut self, request: &Request) -> Result<Evaluation, EvalError> {
        match self.validate(&request.token, &request.config, request.now)? {
            Validation::BadToken(r) => Ok(Evaluation::BadToken(r)),
            Validation::Valid(_) => self.match_candidates(&request.policies),
        }
    }
}

/// The verified issuer an evaluator reports must be the one the token names
/// (and the host routed by): otherwise replay protection would be keyed by
/// an issuer the token never had.
fn check_issuer(named: Option<&str>, issuer: &str) -> Result<(), EvalError> {
    if named != Some(issuer) {
        return Err(EvalError::InvalidResult(format!(
            "it reported issuer '{}' for a token of another issuer",
            crate::names::truncated(issuer, 128)
        )));
    }
    Ok(())
}

fn v0_1_request(token: &str, config: &str, now: u64, policies: &[Candidate]) -> v0_1::wit::Request {
    v0_1::wit::Request {
        token: token.to_string(),
        policies: policies
            .iter()
            .map(|p| v0_1::wit::Policy {
                id: p.id,
                criteria: p.criteria.clone(),
                pins: p.pins.clone(),
            })
            .collect(),
        config: config.to_string(),
        now,
    }
}

fn validation_from_wit(v: v0_2::wit::Validation) -> Result<Validation, EvalError> {
    Ok(match v {
        v0_2::wit::Validation::Valid(f) => Validation::Valid(TokenFacts {
            issuer: f.issuer,
            token_id: f.token_id,
            subject: f.subject,
            accepted_until: f.accepted_until,
            expires_at: f.expires_at,
            lookup_keys: f.lookup_keys,
        }),
        v0_2::wit::Validation::BadToken(r) => Validation::BadToken(Rejection {
            check: r.check,
            message: r.message,
        }),
    })
}

fn match_from_wit(m: v0_2::wit::MatchResult) -> MatchResult {
    match m {
        v0_2::wit::MatchResult::Matched(m) => MatchResult::Matched(Matched {
            policy_id: m.policy_id,
            pins: m.pins,
        }),
        v0_2::wit::MatchResult::Unauthorized(misses) => MatchResult::Unauthorized(
            misses
                .into_iter()
                .map(|n| NearMiss {
                    policy_id: n.policy_id,
                    reason: n.reason,
                })
                .collect(),
        ),
    }
}

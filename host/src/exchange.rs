//! One token exchange, top to bottom: route by issuer, evaluate in the
//! sandbox, then — only for a match — mint, and commit key, token id, pins
//! and audit record in one transaction.
//!
//! The token is validated before anything about the named user is used:
//! the user's policies are loaded either way (an unknown user simply has
//! none), and the evaluator validates the token before it looks at them, so
//! no answer depends on whether the user exists.

use std::sync::Arc;

use trustpub_guest::{Evaluation, Policy, Request, UnverifiedJwt};

use crate::api_key::{ApiKey, KeyError};
use crate::audit_log::AuditLog;
use crate::blocking::{BlockingTaskFailed, run_blocking};
use crate::clock::Clock;
use crate::evaluators::{ActiveEvaluator, EvaluatorRegistry, Provider};
use crate::store::{
    AuditEvent, AuditOutcome, ExchangeCommit, NewApiKey, Store, StoreError, StoredPolicy,
};

/// The one answer for a valid token that no policy trusts, whatever almost
/// matched and whether or not the user exists.
pub const UNAUTHORIZED_MESSAGE: &str =
    "no trusted publishing policy of this user trusts this token";
pub const REPLAY_MESSAGE: &str =
    "this token has already been used; request a new one for each exchange";

/// Kept beyond the last second a token can be accepted, for clocks that
/// disagree with ours.
const TOKEN_ID_MARGIN_SECONDS: u64 = 60;

/// Bytes of an error kept in an audit record: enough to debug, while a
/// client-controlled or evaluator-written message cannot grow the log.
const MAX_AUDIT_DETAIL: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Shown to the client: it says what is wrong with the token.
    #[error("{0}")]
    BadToken(String),
    #[error("{UNAUTHORIZED_MESSAGE}")]
    Unauthorized,
    #[error("{REPLAY_MESSAGE}")]
    Replay,
    /// Only a lapsed, never-used policy trusts the token.
    #[error(
        "policy {0} trusts this token but lapsed before its first use; its owner must renew it (POST /admin/policies/{0}/renew)"
    )]
    RenewalRequired(u64),
    /// The provider's evaluator misbehaved (trap, timeout, invalid result).
    #[error("the evaluator for this token's identity provider failed; try again later")]
    EvaluatorFailed,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ExchangeError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<BlockingTaskFailed> for ExchangeError {
    fn from(e: BlockingTaskFailed) -> Self {
        Self::Internal(e.to_string())
    }
}

pub struct ExchangeRequest {
    pub token: String,
    pub username: String,
    pub client_addr: Option<String>,
}

/// The minted key and what the client is told about it.
#[derive(Debug)]
pub struct Minted {
    pub key: ApiKey,
    pub expires_at: u64,
    pub policy_id: u64,
    pub provider: String,
}

pub struct TokenExchange {
    registry: Arc<EvaluatorRegistry>,
    store: Arc<dyn Store>,
    /// Where refused attempts are recorded (in batches).
    audit_log: AuditLog,
    clock: Arc<dyn Clock>,
    key_lifetime_seconds: u64,
    first_use_window_seconds: u64,
}

impl TokenExchange {
    pub fn new(
        registry: Arc<EvaluatorRegistry>,
        store: Arc<dyn Store>,
        audit_log: AuditLog,
        clock: Arc<dyn Clock>,
        key_lifetime_seconds: u64,
        first_use_window_seconds: u64,
    ) -> Self {
        Self {
            registry,
            store,
            audit_log,
            clock,
            key_lifetime_seconds,
            first_use_window_seconds,
        }
    }

    pub async fn exchange(&self, request: ExchangeRequest) -> Result<Minted, ExchangeError> {
        let now = self.clock.now();
        let mut audit = AuditEvent {
            at: now,
            provider: None,
            username: request.username.clone(),
            outcome: AuditOutcome::BadToken,
            detail: None,
            policy_id: None,
            evaluator_digest: None,
            subject: None,
            client_addr: request.client_addr.clone(),
        };
        let result = self.run(request, now, &mut audit).await;
        let provider = audit.provider.as_deref().unwrap_or("none");
        let outcome = match &result {
            Ok(_) => AuditOutcome::Minted,
            Err(ExchangeError::BadToken(_)) => AuditOutcome::BadToken,
            Err(ExchangeError::Unauthorized) => AuditOutcome::Unauthorized,
            Err(ExchangeError::Replay) => AuditOutcome::Replay,
            Err(ExchangeError::RenewalRequired(_)) => AuditOutcome::RenewalRequired,
            Err(ExchangeError::EvaluatorFailed | ExchangeError::Internal(_)) => {
                AuditOutcome::EvaluatorError
            }
        };
        self.registry.metrics().exchange(provider, outcome.as_str());
        if matches!(result, Err(ExchangeError::EvaluatorFailed)) {
            self.registry.metrics().evaluator_failure(provider);
        }
        if let Err(e) = &result {
            audit.outcome = outcome;
            audit
                .detail
                .get_or_insert_with(|| crate::names::truncated(&e.to_string(), MAX_AUDIT_DETAIL));
            self.audit_log.record(audit).await;
        }
        result
    }

    async fn run(
        &self,
        request: ExchangeRequest,
        now: u64,
        audit: &mut AuditEvent,
    ) -> Result<Minted, ExchangeError> {
        // Unverified, and used only to route: the evaluator decides validity.
        let unverified = UnverifiedJwt::parse(&request.token).map_err(ExchangeError::BadToken)?;
        let issuer = unverified
            .claims
            .string("iss")
            .map_err(ExchangeError::BadToken)?;
        let provider = self.registry.route(issuer).ok_or_else(|| {
            ExchangeError::BadToken(format!(
                "the token's issuer '{issuer}' is not trusted by this registry"
            ))
        })?;
        audit.provider = Some(provider.name.clone());
        if let Some(kid) = unverified.header.get("kid").and_then(|v| v.as_str()) {
            provider.jwks.ensure_kid(kid).await;
        }

        let store = self.store.clone();
        let (username, provider_name) = (request.username.clone(), provider.name.clone());
        let policies =
            run_blocking(move || store.policies_for(&username, &provider_name)).await??;

        let active = provider.evaluator();
        audit.evaluator_digest = Some(active.evaluator.digest().to_string());
        // A policy that still waits for its first use of a pinning provider
        // trusts whoever next registers the names in its criteria: it is
        // live only within its window, and otherwise only tells a token that
        // would match it that it needs renewing.
        let pinning = !active.evaluator.info().pins.is_empty();
        let (live, lapsed): (Vec<&StoredPolicy>, Vec<&StoredPolicy>) =
            policies.iter().partition(|p| {
                !pinning
                    || !p.pins.is_empty()
                    || p.renewed_at.saturating_add(self.first_use_window_seconds) >= now
            });
        let matched = match self
            .evaluate(&provider, &active, &request.token, &live, now, audit)
            .await?
        {
            Evaluation::BadToken(message) => return Err(ExchangeError::BadToken(message)),
            Evaluation::Matched(matched) => matched,
            Evaluation::Unauthorized if lapsed.is_empty() => {
                return Err(ExchangeError::Unauthorized);
            }
            Evaluation::Unauthorized => {
                match self
                    .evaluate(&provider, &active, &request.token, &lapsed, now, audit)
                    .await?
                {
                    Evaluation::Matched(m) => {
                        audit.policy_id = Some(m.policy_id);
                        return Err(ExchangeError::RenewalRequired(m.policy_id));
                    }
                    _ => return Err(ExchangeError::Unauthorized),
                }
            }
        };
        audit.policy_id = Some(matched.policy_id);
        audit.subject = Some(matched.subject.clone());
        let policy = policies
            .iter()
            .find(|p| p.id == matched.policy_id)
            .ok_or_else(|| ExchangeError::Internal("matched a policy that was not given".into()))?;

        let key =
            ApiKey::generate().map_err(|e: KeyError| ExchangeError::Internal(e.to_string()))?;
        let expires_at = now.saturating_add(self.key_lifetime_seconds);
        let commit = ExchangeCommit {
            issuer: matched.issuer,
            token_id: matched.token_id,
            // The evaluator may accept the token until exp + its skew: a
            // purge before then would let the token mint a second key.
            keep_token_id_until: matched
                .expires_at
                .saturating_add(provider.clock_skew_seconds)
                .saturating_add(TOKEN_ID_MARGIN_SECONDS),
            policy_id: policy.id,
            pins: matched.pins,
            key: NewApiKey {
                hash: key.hash(),
                username: policy.username.clone(),
                owner: policy.owner.clone(),
                scopes: policy.scopes.clone(),
                policy_id: policy.id,
                provider: provider.name.clone(),
                evaluator_digest: active.evaluator.digest().to_string(),
                created_at: now,
                expires_at,
            },
            audit: AuditEvent {
                outcome: AuditOutcome::Minted,
                ..audit.clone()
            },
        };
        let store = self.store.clone();
        match run_blocking(move || store.commit_exchange(&commit)).await? {
            Ok(()) => Ok(Minted {
                key,
                expires_at,
                policy_id: policy.id,
                provider: provider.name.clone(),
            }),
            Err(StoreError::Replay) => Err(ExchangeError::Replay),
            // Another exchange pinned other ids, or the policy was deleted,
            // while this one was evaluated: it no longer trusts this token.
            Err(StoreError::PinConflict | StoreError::NotFound(_)) => {
                Err(ExchangeError::Unauthorized)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl TokenExchange {
    /// One evaluation in a fresh sandbox (which waits for one of the
    /// runtime's slots).
    async fn evaluate(
        &self,
        provider: &Provider,
        active: &Arc<ActiveEvaluator>,
        token: &str,
        policies: &[&StoredPolicy],
        now: u64,
        audit: &mut AuditEvent,
    ) -> Result<Evaluation, ExchangeError> {
        let request = Request {
            token: token.to_string(),
            policies: policies.iter().map(|p| to_guest_policy(p)).collect(),
            config: provider.config_json.clone(),
            now,
        };
        let keys = provider.jwks.snapshot();
        let evaluator = active.clone();
        run_blocking(move || evaluator.evaluator.evaluate(&request, keys))
            .await?
        .map_err(|e| {
            tracing::warn!(provider = %provider.name, digest = %active.evaluator.digest(), error = %e, "evaluator failed");
            audit.detail = Some(crate::names::truncated(&e.to_string(), MAX_AUDIT_DETAIL));
            ExchangeError::EvaluatorFailed
        })
    }
}

fn to_guest_policy(p: &StoredPolicy) -> Policy {
    Policy {
        id: p.id,
        criteria: p.criteria.clone(),
        pins: p.pins.clone(),
    }
}

//! One token exchange, top to bottom: route by issuer; in one sandbox,
//! validate the token, find the candidate policies by its index key and
//! match them; then — only for a match — mint, and commit key, token id,
//! pins and audit record in one transaction.
//!
//! The token is validated before any policy is read, so no answer depends
//! on whether the named user exists. Without a username the candidates are
//! every user's policies under the token's index key; if policies of more
//! than one user trust the token the client must name the user, so nobody
//! gains by writing a policy that also matches someone else's tokens.

use std::sync::Arc;

use trustpub_guest::types::{Candidate, NearMiss, Rejection, Validation};

use crate::api_key::{ApiKey, KeyError};
use crate::audit_log::AuditLog;
use crate::blocking::{BlockingTaskFailed, run_blocking};
use crate::clock::Clock;
use crate::evaluators::{ActiveEvaluator, EvaluatorRegistry, Provider};
use crate::jose::key_set::KeySet;
use crate::jose::routing::RoutingFields;
use crate::runtime::{Contract, EvalError, Evaluation, EvaluatorSession, Match};
use crate::store::{
    AuditEvent, AuditNearMiss, AuditOutcome, ExchangeCommit, NewApiKey, Store, StoreError,
    StoredPolicy,
};

/// The one answer for a valid token that no policy trusts, whatever almost
/// matched and whether or not the user exists.
pub const UNAUTHORIZED_MESSAGE: &str =
    "no trusted publishing policy of this user trusts this token";
pub const REPLAY_MESSAGE: &str =
    "this token has already been used; request a new one for each exchange";
pub const AMBIGUOUS_MESSAGE: &str = "policies of more than one user trust this token: name the user to publish as (\"username\" in the request)";

/// Kept beyond the last second a token can be accepted, for clocks that
/// disagree with ours.
const TOKEN_ID_MARGIN_SECONDS: u64 = 60;

/// Bytes of an error kept in an audit record: enough to debug, while a
/// client-controlled or evaluator-written message cannot grow the log.
const MAX_AUDIT_DETAIL: usize = 512;

/// Near misses kept per audit record.
const MAX_AUDIT_NEAR_MISSES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Shown to the client: it says what is wrong with the token.
    #[error("{}", .0.message)]
    BadToken(Rejection),
    #[error("{UNAUTHORIZED_MESSAGE}")]
    Unauthorized,
    #[error("{AMBIGUOUS_MESSAGE}")]
    Ambiguous,
    /// The provider's evaluator implements contract 0.1, which needs the
    /// user's policies.
    #[error(
        "the {0} provider's evaluator (contract 0.1) cannot find policies by token: name the user (\"username\" in the request)"
    )]
    UsernameRequired(String),
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
    /// The database is down or timed out: nothing was committed.
    #[error("{STORE_UNAVAILABLE_MESSAGE}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a client is told while the database is unreachable.
pub const STORE_UNAVAILABLE_MESSAGE: &str =
    "the service's database is unavailable; try again later";

impl From<StoreError> for ExchangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<BlockingTaskFailed> for ExchangeError {
    fn from(e: BlockingTaskFailed) -> Self {
        Self::Internal(e.to_string())
    }
}

fn bad_token(check: &str, message: impl Into<String>) -> ExchangeError {
    ExchangeError::BadToken(Rejection::new(check, message))
}

pub struct ExchangeRequest {
    pub token: String,
    /// Who to publish as; `None`: whoever's policy trusts the token.
    pub username: Option<String>,
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

/// What the sandbox decided, and what the audit record should say of it.
struct Decision {
    result: Result<(Match, StoredPolicy), ExchangeError>,
    near_misses: Vec<NearMiss>,
    /// The evaluator's failure, for the audit record (never the client).
    failure: Option<String>,
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

    /// How long an unpinned policy of a pinning provider stays usable
    /// after creation or renewal.
    pub fn first_use_window_seconds(&self) -> u64 {
        self.first_use_window_seconds
    }

    pub async fn exchange(&self, request: ExchangeRequest) -> Result<Minted, ExchangeError> {
        let now = self.clock.now();
        let mut audit = AuditEvent {
            at: now,
            provider: None,
            username: request.username.clone().unwrap_or_default(),
            outcome: AuditOutcome::BadToken,
            detail: None,
            policy_id: None,
            evaluator_digest: None,
            subject: None,
            client_addr: request.client_addr.clone(),
            check: None,
            near_misses: Vec::new(),
        };
        let result = self.run(request, now, &mut audit).await;
        let provider = audit.provider.as_deref().unwrap_or("none");
        let outcome = match &result {
            Ok(_) => AuditOutcome::Minted,
            Err(ExchangeError::BadToken(_)) => AuditOutcome::BadToken,
            Err(
                ExchangeError::Unauthorized
                | ExchangeError::Ambiguous
                | ExchangeError::UsernameRequired(_),
            ) => AuditOutcome::Unauthorized,
            Err(ExchangeError::Replay) => AuditOutcome::Replay,
            Err(ExchangeError::RenewalRequired(_)) => AuditOutcome::RenewalRequired,
            Err(
                ExchangeError::EvaluatorFailed
                | ExchangeError::Internal(_)
                | ExchangeError::Unavailable(_),
            ) => AuditOutcome::EvaluatorError,
        };
        let metrics = self.registry.metrics();
        metrics.exchange(provider, outcome.as_str());
        match &result {
            Err(ExchangeError::EvaluatorFailed) => metrics.evaluator_failure(provider),
            Err(ExchangeError::BadToken(r)) => {
                metrics.rejection(provider, &r.check);
                audit.check = Some(r.check.clone());
            }
            _ => {}
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
        let routing = RoutingFields::read(&request.token).map_err(|m| bad_token("malformed", m))?;
        let issuer = routing.issuer.as_str();
        let provider = self.registry.route(issuer).ok_or_else(|| {
            bad_token(
                "issuer",
                format!("the token's issuer '{issuer}' is not trusted by this registry"),
            )
        })?;
        audit.provider = Some(provider.name.clone());
        let key_cache = provider
            .keys_for(issuer)
            .ok_or_else(|| ExchangeError::Internal("routed to a provider without keys".into()))?;
        if let Some(kid) = &routing.kid {
            key_cache.ensure_kid(kid).await;
        }
        // Only this issuer's keys: a token of one issuer never verifies with
        // another's, even within one provider.
        let keys = key_cache.snapshot();

        let active = provider.evaluator();
        audit.evaluator_digest = Some(active.evaluator.digest().to_string());
        let route = Route {
            provider,
            active,
            keys,
            issuer: issuer.to_string(),
        };
        let store = self.store.clone();
        let terms = Terms {
            now,
            first_use_window: self.first_use_window_seconds,
            key_lifetime: self.key_lifetime_seconds,
        };
        let mut record = audit.clone();
        // Decide and commit on one blocking thread: one hand-off there and
        // back per exchange.
        let (result, record) = run_blocking(move || {
            let result = settle(&route, store.as_ref(), &request, &terms, &mut record);
            (result, record)
        })
        .await?;
        *audit = record;
        result
    }
}

/// The numbers an exchange is decided and minted by.
struct Terms {
    now: u64,
    first_use_window: u64,
    key_lifetime: u64,
}

/// Decides, and for a match mints and commits; `audit` is filled in with
/// what was decided.
fn settle(
    route: &Route,
    store: &dyn Store,
    request: &ExchangeRequest,
    terms: &Terms,
    audit: &mut AuditEvent,
) -> Result<Minted, ExchangeError> {
    let decision = decide(route, store, request, terms.now, terms.first_use_window);
    audit.near_misses = decision
        .near_misses
        .into_iter()
        .take(MAX_AUDIT_NEAR_MISSES)
        .map(|n| AuditNearMiss {
            policy_id: n.policy_id,
            reason: n.reason,
        })
        .collect();
    if let Some(failure) = decision.failure {
        tracing::warn!(provider = %route.provider.name, digest = %route.active.evaluator.digest(), error = %failure, "evaluator failed");
        audit.detail = Some(crate::names::truncated(&failure, MAX_AUDIT_DETAIL));
    }
    let (matched, policy) = decision.result.inspect_err(|e| {
        if let ExchangeError::RenewalRequired(id) = e {
            audit.policy_id = Some(*id);
        }
    })?;
    audit.policy_id = Some(policy.id);
    audit.subject = Some(matched.facts.subject.clone());
    audit.username = policy.username.clone();
    commit(route, store, matched, policy, terms, audit)
}

/// Mints the key and commits it with the token id, pins and audit record.
fn commit(
    route: &Route,
    store: &dyn Store,
    matched: Match,
    policy: StoredPolicy,
    terms: &Terms,
    audit: &AuditEvent,
) -> Result<Minted, ExchangeError> {
    let (provider, active) = (&route.provider, &route.active);
    let key = ApiKey::generate().map_err(|e: KeyError| ExchangeError::Internal(e.to_string()))?;
    let expires_at = terms.now.saturating_add(terms.key_lifetime);
    let facts = matched.facts;
    // The evaluator says how long it accepts the token; whatever it says,
    // never less than `exp` plus the skew the operator configured.
    let keep_until = facts
        .accepted_until
        .max(facts.expires_at.saturating_add(provider.clock_skew_seconds))
        .saturating_add(TOKEN_ID_MARGIN_SECONDS);
    let commit = ExchangeCommit {
        issuer: facts.issuer,
        token_id: facts.token_id,
        keep_token_id_until: keep_until,
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
            created_at: terms.now,
            expires_at,
        },
        audit: AuditEvent {
            outcome: AuditOutcome::Minted,
            ..audit.clone()
        },
    };
    match store.commit_exchange(commit) {
        Ok(()) => Ok(Minted {
            key,
            expires_at,
            policy_id: policy.id,
            provider: provider.name.clone(),
        }),
        Err(StoreError::Replay) => Err(ExchangeError::Replay),
        // Another exchange pinned other ids, or the policy was deleted,
        // while this one was evaluated: it no longer trusts this token.
        Err(StoreError::PinConflict | StoreError::NotFound(_)) => Err(ExchangeError::Unauthorized),
        Err(e) => Err(e.into()),
    }
}

/// Validate, look up, match — in one sandbox.
/// Where the exchange routed the token: its provider, the evaluator version
/// it runs on, its issuer's keys, and that issuer (read once, to route).
struct Route {
    provider: Arc<Provider>,
    active: Arc<ActiveEvaluator>,
    keys: Arc<KeySet>,
    issuer: String,
}

fn decide(
    route: &Route,
    store: &dyn Store,
    request: &ExchangeRequest,
    now: u64,
    first_use_window: u64,
) -> Decision {
    let mut decision = Decision {
        result: Err(ExchangeError::Unauthorized),
        near_misses: Vec::new(),
        failure: None,
    };
    let failed = |decision: &mut Decision, e: EvalError| {
        decision.failure = Some(e.to_string());
        decision.result = Err(ExchangeError::EvaluatorFailed);
    };
    let (provider, active) = (&route.provider, &route.active);
    let mut session = match active.evaluator.session(route.keys.clone()) {
        Ok(session) => session,
        Err(e) => {
            failed(&mut decision, e);
            return decision;
        }
    };
    let facts =
        match session.validate_routed(&request.token, &route.issuer, &provider.config_json, now) {
            Ok(Validation::Valid(facts)) => facts,
            Ok(Validation::BadToken(r)) => {
                decision.result = Err(ExchangeError::BadToken(r));
                return decision;
            }
            Err(e) => {
                failed(&mut decision, e);
                return decision;
            }
        };
    let username = request.username.as_deref();
    let policies = match (active.evaluator.contract(), username) {
        (Contract::V0_2, _) => store.candidates(&provider.name, &facts.lookup_keys, username),
        (Contract::V0_1, Some(user)) => store.policies_for(user, &provider.name),
        (Contract::V0_1, None) => {
            decision.result = Err(ExchangeError::UsernameRequired(provider.name.clone()));
            return decision;
        }
    };
    let policies = match policies {
        Ok(policies) => policies,
        Err(e) => {
            decision.result = Err(e.into());
            return decision;
        }
    };
    // A policy that still waits for its first use of a pinning provider
    // trusts whoever next registers the names in its criteria: it is live
    // only within its window, and otherwise only tells a token that would
    // match it that it needs renewing.
    let pinning = !active.evaluator.info().pins.is_empty();
    let (live, lapsed): (Vec<&StoredPolicy>, Vec<&StoredPolicy>) = policies.iter().partition(|p| {
        !pinning || !p.pins.is_empty() || p.renewed_at.saturating_add(first_use_window) >= now
    });
    let result = decide_match(&mut session, &live, &lapsed, &mut decision.near_misses);
    decision.result = result.map_err(|e| match e {
        MatchError::Evaluator(e) => {
            decision.failure = Some(e.to_string());
            ExchangeError::EvaluatorFailed
        }
        MatchError::Exchange(e) => e,
    });
    decision
}

/// One user's live policy trusts the token: that match. Otherwise a lapsed
/// one, which only earns the renewal message; more than one user: ambiguous.
fn decide_match(
    session: &mut EvaluatorSession<'_>,
    live: &[&StoredPolicy],
    lapsed: &[&StoredPolicy],
    near_misses: &mut Vec<NearMiss>,
) -> Result<(Match, StoredPolicy), MatchError> {
    match match_per_user(session, live, near_misses)?.as_slice() {
        [(m, policy)] => Ok((m.clone(), (*policy).clone())),
        [] if lapsed.is_empty() => Err(ExchangeError::Unauthorized.into()),
        [] => match match_per_user(session, lapsed, &mut Vec::new())?.as_slice() {
            [] => Err(ExchangeError::Unauthorized.into()),
            [(_, policy)] => Err(ExchangeError::RenewalRequired(policy.id).into()),
            _ => Err(ExchangeError::Ambiguous.into()),
        },
        _ => Err(ExchangeError::Ambiguous.into()),
    }
}

enum MatchError {
    Evaluator(EvalError),
    Exchange(ExchangeError),
}

impl From<ExchangeError> for MatchError {
    fn from(e: ExchangeError) -> Self {
        Self::Exchange(e)
    }
}

/// Matches each user's policies separately (oldest user first): one match
/// per user that has a trusting policy.
fn match_per_user<'p>(
    session: &mut EvaluatorSession<'_>,
    policies: &[&'p StoredPolicy],
    near_misses: &mut Vec<NearMiss>,
) -> Result<Vec<(Match, &'p StoredPolicy)>, MatchError> {
    let mut users: Vec<&str> = Vec::new();
    for p in policies {
        if !users.iter().any(|u| u.eq_ignore_ascii_case(&p.username)) {
            users.push(&p.username);
        }
    }
    let mut matches = Vec::new();
    for user in users {
        let of_user: Vec<&StoredPolicy> = policies
            .iter()
            .copied()
            .filter(|p| p.username.eq_ignore_ascii_case(user))
            .collect();
        let candidates: Vec<Candidate> = of_user
            .iter()
            .map(|p| Candidate {
                id: p.id,
                criteria: p.criteria.clone(),
                pins: p.pins.clone(),
            })
            .collect();
        match session
            .match_candidates(&candidates)
            .map_err(MatchError::Evaluator)?
        {
            Evaluation::Matched(m) => {
                let policy = of_user
                    .iter()
                    .find(|p| p.id == m.policy_id)
                    .copied()
                    .ok_or_else(|| {
                        ExchangeError::Internal("matched a policy that was not given".into())
                    })?;
                matches.push((m, policy));
            }
            Evaluation::Unauthorized(misses) => near_misses.extend(misses),
            Evaluation::BadToken(r) => return Err(ExchangeError::BadToken(r).into()),
        }
    }
    Ok(matches)
}

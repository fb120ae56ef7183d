//! The operator service: users, policies, evaluator versions and the audit
//! log, as typed calls. The HTTP API (`/admin/*`), the CLI's direct mode
//! (`--config`) and any later front end are thin callers of
//! [`OperatorService`]; names, scopes and criteria are validated here, and
//! every change is audited with the [`Actor`] that asked for it.

mod actor;
mod cluster;
mod error;
mod insight;
pub mod views;

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use actor::Actor;
pub use error::OperatorError;
pub use insight::{AdmissionCheck, JwksFreshness, ProviderForm};

use crate::audit_log::AuditLog;
use crate::blocking::run_blocking;
use crate::clock::Clock;
use crate::evaluators::EvaluatorRegistry;
use crate::evaluators::deploy::{DeployError, DeployOrigin, Deployed};
use crate::store::{
    ApiKeyRecord, AuditEvent, AuditKind, AuditOutcome, NewPolicy, Scope, Store, StoreError,
    StoredPolicy, User,
};

/// A policy as the operator asks for it; the criteria are checked and
/// normalized by the provider's evaluator before they are stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    pub username: String,
    pub provider: String,
    pub owner: String,
    pub criteria: Value,
    #[serde(default)]
    pub scopes: Vec<Scope>,
}

/// Which audit records to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub username: Option<String>,
    pub kind: AuditKind,
    pub limit: u32,
}

/// The most audit records one query returns.
pub const MAX_AUDIT_LIMIT: u32 = 1000;

/// A provider's active evaluator, as the operator sees it.
#[derive(Debug, Clone)]
pub struct EvaluatorStatus {
    pub provider: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    /// The evaluator's issuer patterns this provider routes.
    pub issuers: Vec<String>,
    /// Exact issuers the operator added.
    pub exact_issuers: Vec<String>,
    /// The evaluator's contract version (`0.1` or `0.2`).
    pub contract: &'static str,
    pub active_since: SystemTime,
    pub previous_digest: Option<String>,
    pub jwks_fetches: u64,
}

pub struct OperatorService {
    store: Arc<dyn Store>,
    registry: Arc<EvaluatorRegistry>,
    /// Flushed before an audit query, so it sees every earlier attempt.
    audit_log: AuditLog,
    clock: Arc<dyn Clock>,
    /// Cluster versions this host's admission refused, by provider: not
    /// compiled again at every compare, only when the cluster moves on.
    refused_cluster_versions: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl OperatorService {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<EvaluatorRegistry>,
        audit_log: AuditLog,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            registry,
            audit_log,
            clock,
            refused_cluster_versions: std::sync::Mutex::default(),
        }
    }

    pub async fn create_user(&self, username: String) -> Result<User, OperatorError> {
        crate::names::check_name("username", &username).map_err(OperatorError::Invalid)?;
        let now = self.clock.now();
        let user = self
            .store_call(move |s| s.create_user(&username, now))
            .await?;
        tracing::info!(username = %user.username, "user created");
        Ok(user)
    }

    pub async fn list_users(&self) -> Result<Vec<User>, OperatorError> {
        self.store_call(|s| s.list_users()).await
    }

    pub async fn create_policy(
        &self,
        request: PolicyRequest,
        actor: &Actor,
    ) -> Result<StoredPolicy, OperatorError> {
        crate::names::check_name("owner", &request.owner).map_err(OperatorError::Invalid)?;
        for scope in &request.scopes {
            crate::names::check_scope(&scope.packages, &scope.actions)
                .map_err(OperatorError::Invalid)?;
        }
        let provider = self.registry.get(&request.provider).ok_or_else(|| {
            OperatorError::Invalid(format!("unknown provider '{}'", request.provider))
        })?;
        let active = provider.evaluator();
        let raw = request.criteria.to_string();
        let config = provider.config_json.clone();
        let verdict = run_blocking(move || active.evaluator.check_criteria(&raw, &config))
            .await?
            .map_err(|e| {
                OperatorError::EvaluatorFailed(format!(
                    "the {} evaluator failed: {e}",
                    provider.name
                ))
            })?;
        let checked = verdict
            .map_err(|message| OperatorError::Invalid(format!("invalid criteria: {message}")))?;
        let new = NewPolicy {
            username: request.username,
            provider: request.provider,
            owner: request.owner,
            criteria: checked.criteria,
            scopes: request.scopes,
            index_keys: checked.index_keys,
        };
        let now = self.clock.now();
        let policy = self.store_call(move |s| s.create_policy(&new, now)).await?;
        tracing::info!(policy_id = policy.id, username = %policy.username, provider = %policy.provider, "policy created");
        let mut event = actor.event(AuditOutcome::PolicyCreated, &policy.username, now);
        event.provider = Some(policy.provider.clone());
        event.policy_id = Some(policy.id);
        self.record_action(event).await;
        Ok(policy)
    }

    pub async fn list_policies(
        &self,
        username: Option<String>,
    ) -> Result<Vec<StoredPolicy>, OperatorError> {
        self.store_call(move |s| s.list_policies(username.as_deref()))
            .await
    }

    pub async fn get_policy(&self, id: u64) -> Result<StoredPolicy, OperatorError> {
        self.store_call(move |s| s.get_policy(id))
            .await?
            .ok_or_else(|| OperatorError::NotFound(format!("policy {id} not found")))
    }

    /// Deletes a policy and revokes the keys minted through it; returns how
    /// many live keys were revoked.
    pub async fn delete_policy(&self, id: u64, actor: &Actor) -> Result<u64, OperatorError> {
        let policy = self.store_call(move |s| s.get_policy(id)).await?;
        let now = self.clock.now();
        let revoked = self.store_call(move |s| s.delete_policy(id, now)).await?;
        tracing::info!(policy_id = id, keys_revoked = revoked, "policy deleted");
        let mut event = actor.event(
            AuditOutcome::PolicyDeleted,
            policy.as_ref().map_or("", |p| p.username.as_str()),
            now,
        );
        event.provider = policy.map(|p| p.provider);
        event.policy_id = Some(id);
        event.detail = Some(format!("{revoked} live keys revoked"));
        self.record_action(event).await;
        Ok(revoked)
    }

    /// Restarts the first-use window of a policy.
    pub async fn renew_policy(
        &self,
        id: u64,
        actor: &Actor,
    ) -> Result<StoredPolicy, OperatorError> {
        let now = self.clock.now();
        let policy = self.store_call(move |s| s.renew_policy(id, now)).await?;
        let mut event = actor.event(AuditOutcome::PolicyRenewed, &policy.username, now);
        event.provider = Some(policy.provider.clone());
        event.policy_id = Some(id);
        self.record_action(event).await;
        Ok(policy)
    }

    pub fn evaluators(&self) -> Vec<EvaluatorStatus> {
        self.registry
            .providers()
            .iter()
            .map(|p| {
                let active = p.evaluator();
                let info = active.evaluator.info();
                EvaluatorStatus {
                    provider: p.name.clone(),
                    name: info.name.clone(),
                    version: info.version.clone(),
                    digest: active.evaluator.digest().to_string(),
                    issuers: p.routes().patterns,
                    exact_issuers: p.routes().exact,
                    contract: active.evaluator.contract().as_str(),
                    active_since: active.active_since,
                    previous_digest: p.previous_digest(),
                    jwks_fetches: p.key_caches().map(|k| k.fetch_count()).sum(),
                }
            })
            .collect()
    }

    /// Admits `component` (with its detached `signature`, base64, if any)
    /// as the provider's next evaluator version and activates it (see
    /// `evaluators::deploy`). A refused version is audited too.
    pub async fn deploy_evaluator(
        &self,
        provider: String,
        component: Vec<u8>,
        signature: Option<Vec<u8>>,
        actor: &Actor,
    ) -> Result<Deployed, OperatorError> {
        let registry = self.registry.clone();
        let digest = crate::digest::sha256_hex(&component);
        let name = provider.clone();
        let result =
            run_blocking(move || registry.deploy(&name, component, signature, DeployOrigin::Api))
                .await?;
        self.audit_deploy(actor, &provider, &digest, result).await
    }

    /// Deploys what the provider's evaluator file holds now (the file
    /// watcher's path), audited like any deploy.
    pub async fn deploy_evaluator_file(
        &self,
        provider: String,
        actor: &Actor,
    ) -> Result<Deployed, OperatorError> {
        let registry = self.registry.clone();
        let name = provider.clone();
        let result = run_blocking(move || registry.deploy_file(&name)).await?;
        self.audit_deploy(actor, &provider, "", result).await
    }

    async fn audit_deploy(
        &self,
        actor: &Actor,
        provider: &str,
        digest: &str,
        result: Result<Deployed, DeployError>,
    ) -> Result<Deployed, OperatorError> {
        match result {
            Ok(deployed) if deployed.unchanged && actor.name == Actor::FILE_WATCHER => {
                // The watcher sees its own deploys' writes: nothing happened.
                Ok(deployed)
            }
            Ok(deployed) => {
                self.index_policies(&deployed.provider).await;
                if !deployed.unchanged {
                    self.publish(&deployed).await?;
                }
                self.record_action(self.evaluator_event(
                    actor,
                    AuditOutcome::EvaluatorDeployed,
                    &deployed,
                ))
                .await;
                Ok(deployed)
            }
            Err(e @ (DeployError::Rejected(_) | DeployError::Unreadable(_))) => {
                let mut event = actor.event(AuditOutcome::EvaluatorRejected, "", self.clock.now());
                event.provider = Some(provider.to_string());
                event.evaluator_digest = (!digest.is_empty()).then(|| digest.to_string());
                event.detail = Some(crate::names::truncated(&e.to_string(), 512));
                self.record_action(event).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn rollback_evaluator(
        &self,
        provider: String,
        actor: &Actor,
    ) -> Result<Deployed, OperatorError> {
        let registry = self.registry.clone();
        let deployed = run_blocking(move || registry.rollback(&provider)).await??;
        self.index_policies(&deployed.provider).await;
        self.publish(&deployed).await?;
        self.record_action(self.evaluator_event(
            actor,
            AuditOutcome::EvaluatorRolledBack,
            &deployed,
        ))
        .await;
        Ok(deployed)
    }

    /// Brings every provider's policy index up to its active evaluator (at
    /// start-up). A failure is logged and retried at the next deploy or start.
    pub async fn index_all_policies(&self) {
        for provider in self.registry.providers() {
            self.index_policies(&provider.name).await;
        }
    }

    async fn index_policies(&self, name: &str) {
        let Some(provider) = self.registry.get(name) else {
            return;
        };
        let store = self.store.clone();
        let result = run_blocking(move || {
            crate::evaluators::indexing::reindex_if_needed(&provider, store.as_ref())
        })
        .await;
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(provider = %name, error = %e, "cannot index the provider's policies; tokens may miss them until the next deploy or restart")
            }
            Err(e) => tracing::error!(provider = %name, error = %e, "policy indexing task failed"),
        }
    }

    pub async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, OperatorError> {
        self.audit_log.flush().await;
        self.store_call(move |s| {
            s.list_audit_of(
                query.username.as_deref(),
                query.kind,
                query.limit.min(MAX_AUDIT_LIMIT),
            )
        })
        .await
    }

    /// The key with this hash, if it is live (neither revoked nor expired).
    pub async fn live_key(&self, hash: String) -> Result<Option<ApiKeyRecord>, OperatorError> {
        let now = self.clock.now();
        let record = self.store_call(move |s| s.find_key(&hash)).await?;
        Ok(record.filter(|k| k.revoked_at.is_none() && k.expires_at > now))
    }

    /// Revokes the key with this hash; audited when a live key was revoked.
    /// Unknown keys are not an error: the answer must not tell them apart.
    pub async fn revoke_key(&self, hash: String, actor: &Actor) -> Result<(), OperatorError> {
        let lookup = hash.clone();
        let key = self.store_call(move |s| s.find_key(&lookup)).await?;
        let now = self.clock.now();
        let revoked = self.store_call(move |s| s.revoke_key(&hash, now)).await?;
        if let (true, Some(key)) = (revoked, key) {
            tracing::info!(actor = actor.name, "api key revoked");
            let mut event = actor.event(AuditOutcome::KeyRevoked, &key.username, now);
            event.provider = Some(key.provider);
            event.policy_id = Some(key.policy_id);
            self.record_action(event).await;
        }
        Ok(())
    }

    /// Evaluator changes belong to no user: the record names the provider.
    fn evaluator_event(
        &self,
        actor: &Actor,
        outcome: AuditOutcome,
        deployed: &Deployed,
    ) -> AuditEvent {
        let mut event = actor.event(outcome, "", self.clock.now());
        event.provider = Some(deployed.provider.clone());
        event.evaluator_digest = Some(deployed.digest.clone());
        let note = if deployed.unchanged {
            " (already active)"
        } else {
            ""
        };
        event.detail = Some(format!("version {}{note}", deployed.version));
        event
    }

    /// Records an operator action after it succeeded. The action stands even
    /// if its record cannot be written; that failure is logged loudly.
    async fn record_action(&self, event: AuditEvent) {
        if let Err(e) = self.store_call(move |s| s.record_audit(&event)).await {
            tracing::error!(error = %e, "cannot record the audit event of an operator action");
        }
    }

    async fn store_call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, OperatorError> {
        let store = self.store.clone();
        Ok(run_blocking(move || f(store.as_ref())).await??)
    }
}

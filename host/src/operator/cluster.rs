//! Evaluators shared by a cluster of hosts on one PostgreSQL database.
//!
//! A version activated here (PUT, CLI push, file, rollback) is published to
//! the store after it passed admission and swapped in; every other host
//! hears of it (LISTEN/NOTIFY), fetches it by digest and deploys it through
//! the same admission, so `GET /admin/evaluators` shows one digest on every
//! host. The hosts also compare every [`RECONCILE_EVERY`], so a missed
//! notification (a listener reconnecting) heals by itself. On SQLite nothing
//! of this runs: each host's files are its truth.

use std::time::Duration;

use super::{OperatorError, OperatorService};
use crate::blocking::run_blocking;
use crate::evaluators::deploy::{DeployOrigin, Deployed};
use crate::store::StoredEvaluator;

/// The longest a missed notification goes unnoticed. Short, so a host's
/// shutdown never waits long for the blocking listener, and the compare it
/// costs is one small query.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(1);

impl OperatorService {
    /// Makes `deployed`'s version the cluster's (no-op on SQLite). If that
    /// fails the version is active here only, until the next compare puts
    /// this host back on the cluster's version; the caller is told.
    pub(super) async fn publish(&self, deployed: &Deployed) -> Result<(), OperatorError> {
        if !self.store.shares_evaluators() {
            return Ok(());
        }
        let Some(provider) = self.registry.get(&deployed.provider) else {
            return Ok(());
        };
        let active = provider.evaluator();
        let version = StoredEvaluator {
            digest: active.evaluator.digest().to_string(),
            component: active.bytes.as_ref().clone(),
            signature: active.signature.as_ref().map(|s| s.as_ref().clone()),
        };
        let name = deployed.provider.clone();
        let now = self.clock.now();
        self.store_call(move |s| s.publish_evaluator(&name, &version, now))
            .await
    }

    /// Runs for the life of the host: waits for a change (or the reconcile
    /// period), then adopts every provider's cluster version that differs
    /// from the local one.
    pub async fn follow_cluster_evaluators(&self) {
        loop {
            let store = self.store.clone();
            let waited =
                run_blocking(move || store.wait_for_evaluator_change(RECONCILE_EVERY)).await;
            match waited {
                Ok(Ok(_)) => self.adopt_cluster_evaluators().await,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot listen for evaluator changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    self.adopt_cluster_evaluators().await;
                }
                Err(e) => tracing::error!(error = %e, "evaluator listener task failed"),
            }
        }
    }

    /// One compare: the store's active digests against this host's.
    pub async fn adopt_cluster_evaluators(&self) {
        let active = match self.store_call(|s| s.active_evaluators()).await {
            Ok(active) => active,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the cluster's evaluators");
                return;
            }
        };
        for (name, digest) in active {
            let Some(provider) = self.registry.get(&name) else {
                continue;
            };
            if provider.evaluator().evaluator.digest() == digest || self.refused(&name, &digest) {
                continue;
            }
            match self.adopt(&name, &digest).await {
                Ok(()) => {}
                Err(e @ OperatorError::Invalid(_)) => {
                    tracing::error!(provider = %name, %digest, error = %e,
                        "this host's admission refuses the cluster's evaluator; it keeps its version (check its evaluator_trusted_keys and configuration)");
                    if let Ok(mut refused) = self.refused_cluster_versions.lock() {
                        refused.insert(name.clone(), digest.clone());
                    }
                }
                Err(e) => tracing::warn!(provider = %name, %digest, error = %e,
                    "cannot adopt the cluster's evaluator yet; retrying"),
            }
        }
    }

    fn refused(&self, provider: &str, digest: &str) -> bool {
        self.refused_cluster_versions
            .lock()
            .is_ok_and(|r| r.get(provider).is_some_and(|d| d == digest))
    }

    async fn adopt(&self, name: &str, digest: &str) -> Result<(), OperatorError> {
        let (provider, wanted) = (name.to_string(), digest.to_string());
        let version = self
            .store_call(move |s| s.evaluator_version(&provider, &wanted))
            .await?
            .ok_or_else(|| OperatorError::NotFound(format!("evaluator {digest} of {name}")))?;
        let registry = self.registry.clone();
        let provider = name.to_string();
        let deployed = run_blocking(move || {
            registry.deploy(
                &provider,
                version.component,
                version.signature,
                DeployOrigin::Cluster,
            )
        })
        .await??;
        self.index_policies(name).await;
        tracing::info!(provider = %name, digest = %deployed.digest, "adopted the cluster's evaluator");
        Ok(())
    }
}

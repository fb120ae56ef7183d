//! Deploying a new evaluator version, and rolling back, without a restart.
//!
//! Every path — `PUT /admin/evaluators/{provider}`, a replaced component
//! file, `trustpub evaluator push` — goes through [`EvaluatorRegistry::deploy`],
//! which admits the component exactly as start-up does (see `admission`)
//! before it swaps. A rejected component leaves the active one serving.

use std::sync::Arc;
use std::time::SystemTime;

use super::admission::{AdmissionError, AdmissionRules, admit};
use super::signature::signature_path;
use super::{ActiveEvaluator, EvaluatorRegistry, Provider};
use crate::runtime::component_digest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployOrigin {
    /// `PUT /admin/evaluators/{provider}` (also `trustpub evaluator push`).
    Api,
    /// The provider's component file was replaced.
    File,
    /// Another host of the cluster activated it (PostgreSQL).
    Cluster,
}

impl DeployOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::File => "file",
            Self::Cluster => "cluster",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("unknown provider '{0}'")]
    UnknownProvider(String),
    /// The component is not acceptable; the active version keeps serving.
    #[error("rejected: {0}")]
    Rejected(#[from] AdmissionError),
    /// The provider's file could not be read (a file deploy).
    #[error("rejected: {0}")]
    Unreadable(String),
    #[error("provider '{0}' has no previous version to roll back to")]
    NoPrevious(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a deploy or rollback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub provider: String,
    pub digest: String,
    pub version: String,
    pub previous_digest: Option<String>,
    /// The component was already the active one: nothing changed.
    pub unchanged: bool,
}

impl EvaluatorRegistry {
    /// Admits `bytes` (with its detached `signature`, base64, if any) as the
    /// next version of `provider`'s evaluator and activates it. Blocking:
    /// compiling takes CPU time.
    pub fn deploy(
        &self,
        provider: &str,
        bytes: Vec<u8>,
        signature: Option<Vec<u8>>,
        origin: DeployOrigin,
    ) -> Result<Deployed, DeployError> {
        self.locked(provider, origin, |p| {
            self.deploy_locked(p, bytes, signature, origin)
        })
    }

    /// Deploys what the provider's file (and its `.sig` beside it) holds
    /// now. The files are read under the deploy lock, so a deploy that has
    /// just written them cannot be undone by a stale read.
    pub fn deploy_file(&self, provider: &str) -> Result<Deployed, DeployError> {
        self.locked(provider, DeployOrigin::File, |p| {
            let bytes = std::fs::read(&p.evaluator_path).map_err(|e| {
                DeployError::Unreadable(format!("cannot read {}: {e}", p.evaluator_path.display()))
            })?;
            let signature = std::fs::read(signature_path(&p.evaluator_path)).ok();
            self.deploy_locked(p, bytes, signature, DeployOrigin::File)
        })
    }

    /// Runs `f` holding the provider's deploy lock, and counts the outcome.
    fn locked(
        &self,
        provider: &str,
        origin: DeployOrigin,
        f: impl FnOnce(&Provider) -> Result<Deployed, DeployError>,
    ) -> Result<Deployed, DeployError> {
        let result = self
            .get(provider)
            .ok_or_else(|| DeployError::UnknownProvider(provider.into()))
            .and_then(|p| {
                let _one_at_a_time = p
                    .deploying
                    .lock()
                    .map_err(|e| DeployError::Internal(e.to_string()))?;
                f(&p)
            });
        self.record(provider, origin, &result);
        result
    }

    fn record(&self, provider: &str, origin: DeployOrigin, result: &Result<Deployed, DeployError>) {
        let outcome = match result {
            Ok(d) if d.unchanged => "unchanged",
            Ok(_) => "activated",
            Err(DeployError::Rejected(_) | DeployError::Unreadable(_)) => "rejected",
            Err(_) => "failed",
        };
        self.metrics().deploy(provider, origin.as_str(), outcome);
    }

    fn deploy_locked(
        &self,
        p: &Provider,
        bytes: Vec<u8>,
        signature: Option<Vec<u8>>,
        origin: DeployOrigin,
    ) -> Result<Deployed, DeployError> {
        let current = p.evaluator();
        let digest = component_digest(&bytes);
        if digest == current.evaluator.digest() {
            // Admission is skipped for the active version, but not its
            // signature: a bad one beside the active component would
            // otherwise wait silently to fail the next start.
            p.trusted_keys
                .check(&digest, signature.as_deref())
                .map_err(AdmissionError::from)?;
            return Ok(deployed(p, &current, None, true));
        }
        let evaluator = admit(
            self.runtime(),
            &AdmissionRules::of(p),
            self.providers(),
            &bytes,
            signature.as_deref(),
        )?;
        let next = Arc::new(ActiveEvaluator {
            evaluator: Arc::new(evaluator),
            active_since: SystemTime::now(),
            bytes: Arc::new(bytes),
            signature: signature.map(Arc::new),
        });
        Ok(activate(
            p,
            next,
            origin != DeployOrigin::File,
            origin.as_str(),
        ))
    }

    /// Re-activates the previous version (which was validated when it was
    /// deployed); a second rollback undoes the first.
    pub fn rollback(&self, provider: &str) -> Result<Deployed, DeployError> {
        let p = self
            .get(provider)
            .ok_or_else(|| DeployError::UnknownProvider(provider.into()))?;
        let _one_at_a_time = p
            .deploying
            .lock()
            .map_err(|e| DeployError::Internal(e.to_string()))?;
        let previous = p
            .previous
            .lock()
            .map_err(|e| DeployError::Internal(e.to_string()))?
            .take()
            .ok_or_else(|| DeployError::NoPrevious(provider.into()))?;
        let restored = Arc::new(ActiveEvaluator {
            evaluator: previous.evaluator.clone(),
            active_since: SystemTime::now(),
            bytes: previous.bytes.clone(),
            signature: previous.signature.clone(),
        });
        self.metrics().deploy(provider, "rollback", "activated");
        Ok(activate(&p, restored, true, "rollback"))
    }
}

/// Swaps the new version in; requests in flight keep the one they took.
fn activate(p: &Provider, next: Arc<ActiveEvaluator>, persist: bool, origin: &str) -> Deployed {
    let old = p.active.swap(next.clone());
    if let Ok(mut previous) = p.previous.lock() {
        *previous = Some(old.clone());
    }
    if persist {
        // The file is the provider's source of truth at start-up: write the
        // new version there so it survives a restart (the watcher then sees
        // the same digest and does nothing). Its signature first, so a
        // restart between the two writes finds the old component with a
        // signature that fails loudly rather than a new one unsigned.
        if let Err(e) = persist_version(p, &next) {
            tracing::warn!(provider = %p.name, path = %p.evaluator_path.display(), error = %e,
                "the new evaluator is active but could not be written to its file: a restart will load the old one");
        }
    }
    tracing::info!(provider = %p.name, digest = %next.evaluator.digest(), version = %next.evaluator.info().version,
        previous = %old.evaluator.digest(), origin, "evaluator activated");
    deployed(p, &next, Some(old.evaluator.digest().to_string()), false)
}

fn persist_version(p: &Provider, version: &ActiveEvaluator) -> std::io::Result<()> {
    let sig_path = signature_path(&p.evaluator_path);
    match &version.signature {
        Some(signature) => crate::durable_file::write_bytes_durably(&sig_path, signature)?,
        // A stale signature of an older version must not stay beside it.
        None => match std::fs::remove_file(&sig_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
    }
    crate::durable_file::write_bytes_durably(&p.evaluator_path, &version.bytes)
}

fn deployed(
    p: &Provider,
    active: &ActiveEvaluator,
    previous_digest: Option<String>,
    unchanged: bool,
) -> Deployed {
    Deployed {
        provider: p.name.clone(),
        digest: active.evaluator.digest().to_string(),
        version: active.evaluator.info().version.clone(),
        previous_digest,
        unchanged,
    }
}

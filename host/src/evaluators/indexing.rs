//! Keeps a provider's stored index keys in line with its active evaluator.
//!
//! The keys a policy is stored under come from the evaluator's
//! `check-criteria`. When another version becomes active (a deploy, a
//! rollback, a restart with a new file), every policy of the provider is
//! checked again by that version and its keys replaced in one transaction.
//! The store records which evaluator digest computed the keys, so a restart
//! with the same version does no work. Until the new keys are written, a
//! token can only miss policies (fail closed), never meet a wrong one: the
//! evaluator still matches every candidate against its criteria.

use crate::evaluators::Provider;
use crate::runtime::EvalError;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the {provider} evaluator failed while indexing policy {policy_id}: {source}")]
    Evaluator {
        provider: String,
        policy_id: u64,
        #[source]
        source: EvalError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Re-indexes the provider's policies unless its active evaluator already
/// did; returns how many policies were indexed.
pub fn reindex_if_needed(provider: &Provider, store: &dyn Store) -> Result<usize, IndexError> {
    let active = provider.evaluator();
    let digest = active.evaluator.digest();
    if store.index_digest(&provider.name)?.as_deref() == Some(digest) {
        return Ok(0);
    }
    let policies = store.provider_criteria(&provider.name)?;
    let mut keys = Vec::with_capacity(policies.len());
    for (policy_id, criteria) in policies {
        let checked = active
            .evaluator
            .check_criteria(&criteria, &provider.config_json)
            .map_err(|source| IndexError::Evaluator {
                provider: provider.name.clone(),
                policy_id,
                source,
            })?;
        match checked {
            Ok(checked) => keys.push((policy_id, checked.index_keys)),
            Err(message) => {
                // Stored criteria this version refuses: the policy can no
                // longer match anything until its owner replaces it.
                tracing::warn!(provider = %provider.name, policy_id, %message, "the active evaluator refuses a stored policy's criteria; it will not match");
                keys.push((policy_id, Vec::new()));
            }
        }
    }
    store.reindex(&provider.name, digest, &keys)?;
    tracing::info!(provider = %provider.name, %digest, policies = keys.len(), "policies indexed");
    Ok(keys.len())
}

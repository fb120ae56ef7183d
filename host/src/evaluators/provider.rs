//! One identity provider as the server holds it: the evaluator version that
//! serves now, the one a rollback restores, its signing keys and settings.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::conformance::ConformanceCases;
use super::routing::IssuerRoutes;
use super::signature::TrustedKeys;
use crate::jose::key_cache::JwksCache;
use crate::runtime::{LimitOverrides, LoadedEvaluator};

/// One identity provider: its active evaluator, keys and configuration.
pub struct Provider {
    pub name: String,
    /// The name its evaluator reports (by default `name`).
    pub evaluator_name: String,
    pub(crate) active: ArcSwap<ActiveEvaluator>,
    /// The version a rollback restores.
    pub(crate) previous: Mutex<Option<Arc<ActiveEvaluator>>>,
    /// Serializes deploys and rollbacks of this provider.
    pub(crate) deploying: Mutex<()>,
    /// Keys of the evaluator's own issuers; `None` when the operator turned
    /// those off (`evaluator_issuers = false`).
    pub jwks: Option<JwksCache>,
    /// Exact issuers the operator added, each with its own keys.
    pub issuer_keys: Vec<(String, JwksCache)>,
    /// The operator's configuration, as the evaluator receives it.
    pub config_json: String,
    /// Where the component lives: loaded at start, watched, written on deploy.
    pub evaluator_path: PathBuf,
    pub(crate) cases: Option<ConformanceCases>,
    /// The provider's own limits, applied to every version deployed.
    pub(crate) limits: LimitOverrides,
    /// Keys one of which must have signed every version (none: unsigned is fine).
    pub(crate) trusted_keys: Arc<TrustedKeys>,
    /// How long past a token's `exp` this provider's evaluator may accept
    /// it (its config's `clock_skew_seconds`): its used ids are kept that
    /// much longer.
    pub clock_skew_seconds: u64,
}

/// An evaluator version and when it became active.
pub struct ActiveEvaluator {
    pub evaluator: Arc<LoadedEvaluator>,
    pub active_since: SystemTime,
    /// The component itself, to write back on rollback.
    pub(crate) bytes: Arc<Vec<u8>>,
    /// Its detached signature (base64), written back with it.
    pub(crate) signature: Option<Arc<Vec<u8>>>,
}

impl Provider {
    /// The keys for tokens of `iss`, if this provider takes them: an exact
    /// issuer the operator added, or one of the evaluator's patterns.
    pub fn keys_for(&self, iss: &str) -> Option<&JwksCache> {
        if let Some((_, keys)) = self.issuer_keys.iter().find(|(issuer, _)| issuer == iss) {
            return Some(keys);
        }
        self.jwks
            .as_ref()
            .filter(|_| self.evaluator().evaluator.handles_issuer(iss))
    }

    /// Every key source of this provider.
    pub fn key_caches(&self) -> impl Iterator<Item = &JwksCache> {
        self.jwks
            .iter()
            .chain(self.issuer_keys.iter().map(|(_, keys)| keys))
    }

    /// The issuers this provider routes now, with `patterns` standing for
    /// its evaluator's (the active one's, or a candidate version's).
    pub fn routes_with(&self, patterns: &[String]) -> IssuerRoutes {
        IssuerRoutes {
            patterns: if self.jwks.is_some() {
                patterns.to_vec()
            } else {
                Vec::new()
            },
            exact: self.issuer_keys.iter().map(|(i, _)| i.clone()).collect(),
        }
    }

    /// The issuers this provider routes now.
    pub fn routes(&self) -> IssuerRoutes {
        self.routes_with(&self.evaluator().evaluator.info().issuers)
    }

    /// The evaluator a request should use from start to finish.
    pub fn evaluator(&self) -> Arc<ActiveEvaluator> {
        self.active.load_full()
    }

    /// The digest a rollback would restore, if any.
    pub fn previous_digest(&self) -> Option<String> {
        self.previous
            .lock()
            .ok()?
            .as_ref()
            .map(|p| p.evaluator.digest().to_string())
    }
}

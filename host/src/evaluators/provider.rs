//! One identity provider as the server holds it: the evaluator version that
//! serves now, the one a rollback restores, its signing keys and settings.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::conformance::ConformanceCases;
use super::signature::TrustedKeys;
use crate::jose::key_cache::JwksCache;
use crate::runtime::{LimitOverrides, LoadedEvaluator};

/// One identity provider: its active evaluator, keys and configuration.
pub struct Provider {
    pub name: String,
    pub(crate) active: ArcSwap<ActiveEvaluator>,
    /// The version a rollback restores.
    pub(crate) previous: Mutex<Option<Arc<ActiveEvaluator>>>,
    /// Serializes deploys and rollbacks of this provider.
    pub(crate) deploying: Mutex<()>,
    pub jwks: JwksCache,
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

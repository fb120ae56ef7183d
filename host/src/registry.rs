//! The evaluators the server runs, one per identity provider, and routing of
//! tokens to them by issuer. Each provider's active evaluator sits behind an
//! `ArcSwap`: a request takes one `Arc` at its start and finishes on that
//! version whatever is deployed meanwhile (see `deploy.rs`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::config::{ProviderSettings, Settings};
use crate::jwks_cache::{JwksCache, KeySource};
use crate::runtime::{EvaluatorRuntime, LoadError, LoadedEvaluator};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("provider '{provider}': cannot read the evaluator {path}: {source}")]
    Read {
        provider: String,
        path: String,
        source: std::io::Error,
    },
    #[error("provider '{provider}': {source}")]
    Load { provider: String, source: LoadError },
    #[error("provider '{provider}': the component is the '{actual}' evaluator")]
    NameMismatch { provider: String, actual: String },
    #[error("providers '{0}' and '{1}' both declare issuer pattern '{2}'")]
    AmbiguousIssuer(String, String, String),
    #[error("provider '{provider}': conformance cases {path}: {message}")]
    Cases {
        provider: String,
        path: String,
        message: String,
    },
}

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
    pub(crate) cases: Option<crate::conformance::ConformanceCases>,
    /// The provider's own limits, applied to every version deployed.
    pub(crate) limits: crate::runtime::LimitOverrides,
}

/// An evaluator version and when it became active.
pub struct ActiveEvaluator {
    pub evaluator: Arc<LoadedEvaluator>,
    pub active_since: SystemTime,
    /// The component itself, to write back on rollback.
    pub(crate) bytes: Arc<Vec<u8>>,
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

pub struct EvaluatorRegistry {
    runtime: EvaluatorRuntime,
    providers: Vec<Arc<Provider>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl EvaluatorRegistry {
    /// Loads every configured provider's evaluator; any failure stops start-up.
    pub fn load(
        settings: &Settings,
        runtime: EvaluatorRuntime,
        client: reqwest::Client,
    ) -> Result<Self, RegistryError> {
        let min_refresh = Duration::from_secs(settings.jwks_min_refresh_seconds);
        let max_age = (settings.jwks_max_age_seconds > 0)
            .then(|| Duration::from_secs(settings.jwks_max_age_seconds));
        let providers = settings
            .providers
            .iter()
            .map(|p| {
                load_provider(
                    p,
                    &runtime,
                    settings.clock_skew_seconds,
                    min_refresh,
                    max_age,
                    client.clone(),
                )
                .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let registry = Self {
            runtime,
            providers,
            metrics: Arc::default(),
        };
        for provider in &registry.providers {
            registry.check_unambiguous(&provider.name, &provider.evaluator().evaluator)?;
        }
        Ok(registry)
    }

    pub fn runtime(&self) -> &EvaluatorRuntime {
        &self.runtime
    }

    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    pub fn get(&self, name: &str) -> Option<Arc<Provider>> {
        self.providers.iter().find(|p| p.name == name).cloned()
    }

    /// The provider whose evaluator declares an issuer pattern matching `iss`.
    pub fn route(&self, iss: &str) -> Option<Arc<Provider>> {
        self.providers
            .iter()
            .find(|p| p.evaluator().evaluator.handles_issuer(iss))
            .cloned()
    }

    /// No two providers may claim the same issuer pattern, or routing would
    /// depend on configuration order.
    pub(crate) fn check_unambiguous(
        &self,
        provider: &str,
        candidate: &LoadedEvaluator,
    ) -> Result<(), RegistryError> {
        for other in self.providers.iter().filter(|p| p.name != provider) {
            let active = other.evaluator();
            if let Some(pattern) = candidate
                .info()
                .issuers
                .iter()
                .find(|p| active.evaluator.info().issuers.contains(p))
            {
                return Err(RegistryError::AmbiguousIssuer(
                    provider.into(),
                    other.name.clone(),
                    pattern.clone(),
                ));
            }
        }
        Ok(())
    }
}

fn load_provider(
    settings: &ProviderSettings,
    runtime: &EvaluatorRuntime,
    clock_skew_seconds: u64,
    min_refresh: Duration,
    max_age: Option<Duration>,
    client: reqwest::Client,
) -> Result<Provider, RegistryError> {
    let provider = settings.name.clone();
    let bytes = std::fs::read(&settings.evaluator).map_err(|source| RegistryError::Read {
        provider: provider.clone(),
        path: settings.evaluator.display().to_string(),
        source,
    })?;
    let evaluator = runtime
        .load(&bytes)
        .map_err(|source| RegistryError::Load {
            provider: provider.clone(),
            source,
        })?
        .with_limits(&settings.limit_overrides());
    if evaluator.info().name != provider {
        return Err(RegistryError::NameMismatch {
            provider,
            actual: evaluator.info().name.clone(),
        });
    }
    let cases = match &settings.cases {
        Some(path) => Some(crate::conformance::ConformanceCases::load(path).map_err(
            |message| RegistryError::Cases {
                provider: provider.clone(),
                path: path.display().to_string(),
                message,
            },
        )?),
        None => None,
    };
    let config_json = settings.config_json(clock_skew_seconds);
    if let Some(cases) = &cases {
        cases
            .run(&evaluator, &config_json)
            .map_err(|message| RegistryError::Cases {
                provider: provider.clone(),
                path: settings
                    .cases
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                message,
            })?;
    }
    let source = match (&settings.jwks_url, &settings.discovery_url) {
        (Some(url), _) => KeySource::Jwks(url.clone()),
        (None, Some(url)) => KeySource::Discovery(url.clone()),
        // Settings validation guarantees one of them.
        (None, None) => KeySource::Jwks(String::new()),
    };
    Ok(Provider {
        jwks: JwksCache::new(&provider, source, min_refresh, client).with_max_age(max_age),
        config_json,
        active: ArcSwap::from_pointee(ActiveEvaluator {
            evaluator: Arc::new(evaluator),
            active_since: SystemTime::now(),
            bytes: Arc::new(bytes),
        }),
        previous: Mutex::new(None),
        deploying: Mutex::new(()),
        evaluator_path: settings.evaluator.clone(),
        cases,
        limits: settings.limit_overrides(),
        name: provider,
    })
}

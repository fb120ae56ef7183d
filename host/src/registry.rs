//! The evaluators the server runs, one per identity provider, and routing of
//! tokens to them by issuer.

use std::sync::Arc;
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
}

/// One identity provider: its active evaluator, keys and configuration.
pub struct Provider {
    pub name: String,
    evaluator: ArcSwap<ActiveEvaluator>,
    pub jwks: JwksCache,
    /// The operator's configuration, as the evaluator receives it.
    pub config_json: String,
}

/// An evaluator and when it became active.
pub struct ActiveEvaluator {
    pub evaluator: LoadedEvaluator,
    pub active_since: SystemTime,
}

impl Provider {
    /// The evaluator a request should use from start to finish.
    pub fn evaluator(&self) -> Arc<ActiveEvaluator> {
        self.evaluator.load_full()
    }
}

pub struct EvaluatorRegistry {
    runtime: EvaluatorRuntime,
    providers: Vec<Arc<Provider>>,
}

impl EvaluatorRegistry {
    /// Loads every configured provider's evaluator; any failure stops start-up.
    pub fn load(
        settings: &Settings,
        runtime: EvaluatorRuntime,
        client: reqwest::Client,
    ) -> Result<Self, RegistryError> {
        let min_refresh = Duration::from_secs(settings.jwks_min_refresh_seconds);
        let providers = settings
            .providers
            .iter()
            .map(|p| {
                load_provider(
                    p,
                    &runtime,
                    settings.clock_skew_seconds,
                    min_refresh,
                    client.clone(),
                )
                .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_unambiguous(&providers)?;
        Ok(Self { runtime, providers })
    }

    pub fn runtime(&self) -> &EvaluatorRuntime {
        &self.runtime
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
}

fn load_provider(
    settings: &ProviderSettings,
    runtime: &EvaluatorRuntime,
    clock_skew_seconds: u64,
    min_refresh: Duration,
    client: reqwest::Client,
) -> Result<Provider, RegistryError> {
    let provider = settings.name.clone();
    let bytes = std::fs::read(&settings.evaluator).map_err(|source| RegistryError::Read {
        provider: provider.clone(),
        path: settings.evaluator.display().to_string(),
        source,
    })?;
    let evaluator = runtime.load(&bytes).map_err(|source| RegistryError::Load {
        provider: provider.clone(),
        source,
    })?;
    if evaluator.info().name != provider {
        return Err(RegistryError::NameMismatch {
            provider,
            actual: evaluator.info().name.clone(),
        });
    }
    let source = match (&settings.jwks_url, &settings.discovery_url) {
        (Some(url), _) => KeySource::Jwks(url.clone()),
        (None, Some(url)) => KeySource::Discovery(url.clone()),
        // Settings validation guarantees one of them.
        (None, None) => KeySource::Jwks(String::new()),
    };
    Ok(Provider {
        jwks: JwksCache::new(&provider, source, min_refresh, client),
        config_json: settings.config_json(clock_skew_seconds),
        evaluator: ArcSwap::from_pointee(ActiveEvaluator {
            evaluator,
            active_since: SystemTime::now(),
        }),
        name: provider,
    })
}

fn check_unambiguous(providers: &[Arc<Provider>]) -> Result<(), RegistryError> {
    for (i, a) in providers.iter().enumerate() {
        for b in &providers[i + 1..] {
            let a_eval = a.evaluator();
            let b_eval = b.evaluator();
            if let Some(pattern) = a_eval
                .evaluator
                .info()
                .issuers
                .iter()
                .find(|p| b_eval.evaluator.info().issuers.contains(p))
            {
                return Err(RegistryError::AmbiguousIssuer(
                    a.name.clone(),
                    b.name.clone(),
                    pattern.clone(),
                ));
            }
        }
    }
    Ok(())
}

//! The providers the server runs, loaded at start-up through the same
//! admission as every later deploy, and routing of tokens by issuer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::admission::{AdmissionError, AdmissionRules, admit};
use super::conformance::ConformanceCases;
use super::{ActiveEvaluator, Provider};
use crate::config::{ProviderSettings, Settings};
use crate::jose::key_cache::{JwksCache, KeySource};
use crate::runtime::EvaluatorRuntime;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("provider '{provider}': cannot read the evaluator {path}: {source}")]
    Read {
        provider: String,
        path: String,
        source: std::io::Error,
    },
    #[error("provider '{provider}': {source}")]
    Admission {
        provider: String,
        source: AdmissionError,
    },
    #[error("provider '{provider}': conformance cases {path}: {message}")]
    Cases {
        provider: String,
        path: String,
        message: String,
    },
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
        // Each provider is admitted against those loaded before it, which
        // checks every pair once.
        let mut providers: Vec<Arc<Provider>> = Vec::with_capacity(settings.providers.len());
        for p in &settings.providers {
            let provider = load_provider(
                p,
                &runtime,
                &providers,
                settings.clock_skew_seconds,
                min_refresh,
                max_age,
                client.clone(),
            )?;
            providers.push(Arc::new(provider));
        }
        Ok(Self {
            runtime,
            providers,
            metrics: Arc::default(),
        })
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
}

fn load_provider(
    settings: &ProviderSettings,
    runtime: &EvaluatorRuntime,
    loaded: &[Arc<Provider>],
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
    let cases = match &settings.cases {
        Some(path) => {
            Some(
                ConformanceCases::load(path).map_err(|message| RegistryError::Cases {
                    provider: provider.clone(),
                    path: path.display().to_string(),
                    message,
                })?,
            )
        }
        None => None,
    };
    let config_json = settings.config_json(clock_skew_seconds);
    let limits = settings.limit_overrides();
    let rules = AdmissionRules {
        provider: &provider,
        limits: &limits,
        cases: cases.as_ref(),
        config_json: &config_json,
    };
    let evaluator =
        admit(runtime, &rules, loaded, &bytes).map_err(|source| RegistryError::Admission {
            provider: provider.clone(),
            source,
        })?;
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
        limits,
        name: provider,
    })
}

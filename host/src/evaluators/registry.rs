//! The providers the server runs, loaded at start-up through the same
//! admission as every later deploy, and routing of tokens by issuer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::admission::{AdmissionError, AdmissionRules, admit};
use super::conformance::ConformanceCases;
use super::signature::{SignatureError, TrustedKeys, signature_path};
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
    #[error("evaluator_trusted_keys: {0}")]
    TrustedKeys(SignatureError),
    #[error(
        "provider '{0}' takes tokens from no issuer: its evaluator declares no issuer pattern, so add [[providers.issuers]]"
    )]
    NoIssuers(String),
}

/// What every provider is loaded with.
struct Shared<'a> {
    runtime: &'a EvaluatorRuntime,
    clock_skew_seconds: u64,
    min_refresh: Duration,
    max_age: Option<Duration>,
    client: reqwest::Client,
    trusted_keys: Arc<TrustedKeys>,
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
        let shared = Shared {
            runtime: &runtime,
            clock_skew_seconds: settings.clock_skew_seconds,
            min_refresh: Duration::from_secs(settings.jwks_min_refresh_seconds),
            max_age: (settings.jwks_max_age_seconds > 0)
                .then(|| Duration::from_secs(settings.jwks_max_age_seconds)),
            client,
            // Validated with the settings; an error here is one more guard.
            trusted_keys: Arc::new(
                TrustedKeys::parse(&settings.evaluator_trusted_keys)
                    .map_err(RegistryError::TrustedKeys)?,
            ),
        };
        // Each provider is admitted against those loaded before it, which
        // checks every pair once.
        let mut providers: Vec<Arc<Provider>> = Vec::with_capacity(settings.providers.len());
        for p in &settings.providers {
            providers.push(Arc::new(load_provider(p, &shared, &providers)?));
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

    /// The provider that takes tokens of `iss` (admission makes it at most one).
    pub fn route(&self, iss: &str) -> Option<Arc<Provider>> {
        self.providers
            .iter()
            .find(|p| p.keys_for(iss).is_some())
            .cloned()
    }
}

fn load_provider(
    settings: &ProviderSettings,
    shared: &Shared<'_>,
    loaded: &[Arc<Provider>],
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
    let config_json = settings.config_json(shared.clock_skew_seconds);
    // A missing signature file is a missing signature: admission decides
    // whether that matters.
    let signature = std::fs::read(signature_path(&settings.evaluator)).ok();
    let limits = settings.limit_overrides();
    let rules = AdmissionRules {
        provider: &provider,
        evaluator_name: settings.evaluator_name(),
        evaluator_issuers: settings.evaluator_issuers,
        exact_issuers: settings.exact_issuers(),
        limits: &limits,
        cases: cases.as_ref(),
        config_json: &config_json,
        trusted_keys: &shared.trusted_keys,
    };
    let evaluator =
        admit(shared.runtime, &rules, loaded, &bytes, signature.as_deref()).map_err(|source| {
            RegistryError::Admission {
                provider: provider.clone(),
                source,
            }
        })?;
    let routes = settings.routes(&evaluator.info().issuers);
    if routes.patterns.is_empty() && routes.exact.is_empty() {
        return Err(RegistryError::NoIssuers(provider));
    }
    let cache = |source| {
        JwksCache::new(&provider, source, shared.min_refresh, shared.client.clone())
            .with_max_age(shared.max_age)
    };
    let jwks = settings
        .evaluator_issuers
        .then(|| key_source(&settings.jwks_url, &settings.discovery_url))
        .flatten()
        .map(cache);
    let issuer_keys = settings
        .issuers
        .iter()
        .filter_map(|i| {
            key_source(&i.jwks_url, &i.discovery_url).map(|s| (i.issuer.clone(), cache(s)))
        })
        .collect();
    let clock_skew_seconds = accepted_skew(&config_json, shared.clock_skew_seconds);
    Ok(Provider {
        jwks,
        issuer_keys,
        evaluator_name: settings.evaluator_name().to_string(),
        config_json,
        active: ArcSwap::from_pointee(ActiveEvaluator {
            evaluator: Arc::new(evaluator),
            active_since: SystemTime::now(),
            bytes: Arc::new(bytes),
            signature: signature.map(Arc::new),
        }),
        previous: Mutex::new(None),
        deploying: Mutex::new(()),
        evaluator_path: settings.evaluator.clone(),
        cases,
        limits,
        trusted_keys: shared.trusted_keys.clone(),
        clock_skew_seconds,
        name: provider,
    })
}

/// Settings validation guarantees exactly one where one is needed.
fn key_source(jwks_url: &Option<String>, discovery_url: &Option<String>) -> Option<KeySource> {
    match (jwks_url, discovery_url) {
        (Some(url), _) => Some(KeySource::Jwks(url.clone())),
        (None, Some(url)) => Some(KeySource::Discovery(url.clone())),
        (None, None) => None,
    }
}

/// The skew the evaluator is handed (a provider's own, or the global one):
/// the longest it may accept a token past its `exp`.
fn accepted_skew(config_json: &str, global: u64) -> u64 {
    serde_json::from_str::<serde_json::Value>(config_json)
        .ok()
        .and_then(|config| config.get("clock_skew_seconds")?.as_u64())
        .map_or(global, |own| own.max(global))
}

#[cfg(test)]
mod tests {
    use super::accepted_skew;

    #[test]
    fn a_providers_own_larger_skew_counts() {
        assert_eq!(accepted_skew(r#"{"clock_skew_seconds": 3600}"#, 300), 3600);
        assert_eq!(accepted_skew(r#"{"clock_skew_seconds": 10}"#, 300), 300);
        assert_eq!(accepted_skew(r#"{"audience": "x"}"#, 300), 300);
        assert_eq!(accepted_skew(r#"{"clock_skew_seconds": "lots"}"#, 300), 300);
    }
}

//! One `[[providers]]` entry: the evaluator it runs, where its signing keys
//! are, the issuers it takes tokens from, its configuration and limits.

use std::path::PathBuf;

use serde::Deserialize;

use crate::evaluators::routing::IssuerRoutes;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub name: String,
    /// Path of the evaluator component.
    pub evaluator: PathBuf,
    pub jwks_url: Option<String>,
    pub discovery_url: Option<String>,
    /// Handed to the evaluator as a JSON object.
    #[serde(default)]
    pub config: toml::Table,
    /// Tighter sandbox limits for this provider's evaluator.
    #[serde(default)]
    pub limits: ProviderLimits,
    /// Conformance cases every new version of the evaluator must pass
    /// before it is activated (see `trustpub eval --cases`).
    #[serde(default)]
    pub cases: Option<PathBuf>,
    /// The name the evaluator reports in `info()`; by default the
    /// provider's own. Lets one evaluator serve several providers, e.g.
    /// `gitlab-com` and `gitlab-internal`.
    #[serde(default)]
    pub evaluator_name: Option<String>,
    /// Whether the evaluator's own issuer patterns route tokens here (with
    /// the keys at `jwks_url`/`discovery_url`). Off for a provider that only
    /// serves the exact `issuers` below.
    #[serde(default = "default_true")]
    pub evaluator_issuers: bool,
    /// Exact issuers this provider also takes tokens from, each with its own
    /// signing keys; the evaluator receives them as `issuers` in its config.
    #[serde(default)]
    pub issuers: Vec<IssuerSettings>,
}

fn default_true() -> bool {
    true
}

/// One issuer the operator adds to a provider: a self-managed GitLab,
/// GitHub Enterprise Server or Forgejo instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The exact `iss` of its tokens, e.g. `https://gitlab.example.com`.
    pub issuer: String,
    pub jwks_url: Option<String>,
    pub discovery_url: Option<String>,
}

/// Per-provider sandbox limits; unset values take the global ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderLimits {
    pub timeout_ms: Option<u64>,
    /// At most the global `evaluator_memory_mib`.
    pub memory_mib: Option<usize>,
    /// Largest request (token, policies, config) handed to the guest.
    pub max_request_bytes: Option<usize>,
    /// Largest string the guest may return.
    pub max_result_bytes: Option<usize>,
}

impl ProviderSettings {
    /// A provider with keys at `jwks_url` and no cases or own limits.
    pub fn new(
        name: &str,
        evaluator: impl Into<PathBuf>,
        jwks_url: &str,
        config: toml::Table,
    ) -> Self {
        Self {
            name: name.into(),
            evaluator: evaluator.into(),
            jwks_url: Some(jwks_url.into()),
            discovery_url: None,
            config,
            limits: ProviderLimits::default(),
            cases: None,
            evaluator_name: None,
            evaluator_issuers: true,
            issuers: Vec::new(),
        }
    }

    /// The name the evaluator must report.
    pub fn evaluator_name(&self) -> &str {
        self.evaluator_name.as_deref().unwrap_or(&self.name)
    }

    /// The exact issuers the operator added.
    pub fn exact_issuers(&self) -> Vec<String> {
        self.issuers.iter().map(|i| i.issuer.clone()).collect()
    }

    /// The issuers this provider routes, given its evaluator's patterns.
    pub fn routes(&self, evaluator_patterns: &[String]) -> IssuerRoutes {
        IssuerRoutes {
            patterns: if self.evaluator_issuers {
                evaluator_patterns.to_vec()
            } else {
                Vec::new()
            },
            exact: self.exact_issuers(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        let has_source = self.jwks_url.is_some() || self.discovery_url.is_some();
        if self.jwks_url.is_some() && self.discovery_url.is_some() {
            return Err(format!(
                "provider '{name}' needs exactly one of jwks_url and discovery_url"
            ));
        }
        if self.evaluator_issuers && !has_source {
            return Err(format!(
                "provider '{name}' needs exactly one of jwks_url and discovery_url (the keys of its evaluator's issuers)"
            ));
        }
        if !self.evaluator_issuers && self.issuers.is_empty() {
            return Err(format!(
                "provider '{name}' routes no issuer: evaluator_issuers is false and no [[providers.issuers]] are given"
            ));
        }
        if !self.evaluator_issuers && has_source {
            return Err(format!(
                "provider '{name}': jwks_url/discovery_url are the keys of the evaluator's issuers, which evaluator_issuers = false turns off; give each issuer its own"
            ));
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            let url = &issuer.issuer;
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.contains(['{', '}', ' '])
            {
                return Err(format!(
                    "provider '{name}': issuer '{url}' must be an exact http(s) URL"
                ));
            }
            if issuer.jwks_url.is_some() == issuer.discovery_url.is_some() {
                return Err(format!(
                    "provider '{name}': issuer '{url}' needs exactly one of jwks_url and discovery_url"
                ));
            }
            if self.issuers[..i].iter().any(|o| o.issuer == *url) {
                return Err(format!("provider '{name}': issuer '{url}' is listed twice"));
            }
        }
        Ok(())
    }

    /// This provider's evaluator limits, over the global ones.
    pub fn limit_overrides(&self) -> crate::runtime::LimitOverrides {
        crate::runtime::LimitOverrides {
            timeout: self.limits.timeout_ms.map(std::time::Duration::from_millis),
            memory_bytes: self.limits.memory_mib.map(|m| m << 20),
            max_request_bytes: self.limits.max_request_bytes,
            max_result_bytes: self.limits.max_result_bytes,
        }
    }

    /// The evaluator's configuration as JSON, with the global clock skew
    /// filled in when the provider does not set its own, and the exact
    /// issuers the operator added (as `issuers`), which the evaluator must
    /// accept besides its own patterns.
    pub fn config_json(&self, clock_skew_seconds: u64) -> String {
        let mut config = self.config.clone();
        config.entry("clock_skew_seconds").or_insert_with(|| {
            toml::Value::Integer(clock_skew_seconds.min(i64::MAX as u64) as i64)
        });
        if !self.issuers.is_empty() {
            config.insert(
                "issuers".into(),
                toml::Value::Array(
                    self.exact_issuers()
                        .into_iter()
                        .map(toml::Value::String)
                        .collect(),
                ),
            );
        }
        serde_json::to_string(&config).unwrap_or_else(|_| "{}".into())
    }
}

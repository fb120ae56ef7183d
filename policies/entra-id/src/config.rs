//! The operator's provider configuration (`[providers.config]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The one audience tokens must carry, e.g. `api://AzureADTokenExchange`.
    pub audience: String,
    /// When set, only these tenants (GUIDs) are accepted.
    #[serde(default)]
    pub allowed_tenants: Option<Vec<String>>,
    #[serde(default = "trustpub_guest::lifetime::default_clock_skew")]
    pub clock_skew_seconds: u64,
}

impl Config {
    pub fn parse(json: &str) -> Result<Self, String> {
        let mut config: Config = serde_json::from_str(json)
            .map_err(|e| format!("the entra-id provider configuration is invalid: {e}"))?;
        if config.audience.is_empty() {
            return Err("the entra-id provider configuration has an empty audience".into());
        }
        if let Some(tenants) = &mut config.allowed_tenants {
            for t in tenants.iter_mut() {
                *t = trustpub_guest::guid::normalize(t).ok_or_else(|| {
                    format!("the entra-id provider configuration lists '{t}' in allowed_tenants, which is not a GUID")
                })?;
            }
        }
        Ok(config)
    }
}

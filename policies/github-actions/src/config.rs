//! The operator's provider configuration (`[providers.config]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The one audience tokens must carry: what the workflow passes to
    /// `core.getIDToken(audience)`, e.g. the registry's URL.
    pub audience: String,
    /// GitHub Enterprise Cloud slugs whose issuers
    /// (`https://token.actions.githubusercontent.com/<slug>`) are accepted.
    /// Empty: only the public issuer.
    #[serde(default)]
    pub enterprise_slugs: Vec<String>,
    #[serde(default = "trustpub_guest::lifetime::default_clock_skew")]
    pub clock_skew_seconds: u64,
}

impl Config {
    pub fn parse(json: &str) -> Result<Self, String> {
        let config: Config = serde_json::from_str(json)
            .map_err(|e| format!("the github-actions provider configuration is invalid: {e}"))?;
        if config.audience.is_empty() {
            return Err("the github-actions provider configuration has an empty audience".into());
        }
        // A slug is one path segment of the issuer URL; anything else could
        // never equal an issuer's slug and is surely a typo.
        if let Some(bad) = config
            .enterprise_slugs
            .iter()
            .find(|s| s.is_empty() || s.contains(['/', '?', '#']))
        {
            return Err(format!(
                "the github-actions provider configuration lists '{bad}' in enterprise_slugs, which is not a single issuer path segment"
            ));
        }
        Ok(config)
    }

    /// Whether tokens of the enterprise issuer with this slug are accepted.
    pub fn accepts_enterprise(&self, slug: &str) -> bool {
        self.enterprise_slugs.iter().any(|s| s == slug)
    }
}

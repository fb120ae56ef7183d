//! The provider configuration: the SDK's standard block plus the
//! evaluator's own settings, one flat JSON object.
//!
//! ```json
//! {"audience": "api://AzureADTokenExchange", "clock_skew_seconds": 300,
//!  "issuers": ["https://login.microsoftonline.us/<tenant>/v2.0"],
//!  "allowed_tenants": ["72f988bf-86f1-41af-91ab-2d7cd011db47"]}
//! ```
//!
//! The evaluator's settings type is flattened into [`Config`] rather than the
//! other way round because serde refuses unknown fields only on the outer
//! struct of a flatten: this way a misspelt key of either part is an error,
//! not a silently ignored setting.

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

use crate::lifetime::DEFAULT_CLOCK_SKEW_SECONDS;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config<C> {
    /// The audiences a token may carry: one string or a list.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Seconds of clock difference tolerated each way (the host sets it).
    #[serde(default = "default_clock_skew")]
    pub clock_skew_seconds: u64,
    /// Exact issuers the operator accepts besides the evaluator's patterns.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// The evaluator's own settings (its `Provider::Config`).
    #[serde(flatten)]
    pub provider: C,
}

/// For evaluators without settings of their own.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NoSettings {}

fn default_clock_skew() -> u64 {
    DEFAULT_CLOCK_SKEW_SECONDS
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let items = match Value::deserialize(deserializer)? {
        Value::String(one) => vec![Value::String(one)],
        Value::Array(many) => many,
        _ => {
            return Err(D::Error::custom(
                "audience must be a string or a list of strings",
            ));
        }
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(s),
            _ => Err(D::Error::custom(
                "audience must be a string or a list of strings",
            )),
        })
        .collect()
}

impl<C: DeserializeOwned> Config<C> {
    /// Parses and checks the standard block; `name` is the evaluator's, for
    /// messages. The evaluator's own checks follow (`Provider::check_config`).
    pub fn parse(json: &str, name: &str) -> Result<Self, String> {
        let config: Self = serde_json::from_str(json)
            .map_err(|e| format!("the {name} provider configuration is invalid: {e}"))?;
        if config.audience.is_empty() || config.audience.iter().any(String::is_empty) {
            return Err(format!(
                "the {name} provider configuration has an empty audience"
            ));
        }
        if config.issuers.iter().any(String::is_empty) {
            return Err(format!(
                "the {name} provider configuration lists an empty issuer"
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Own {
        #[serde(default)]
        slugs: Vec<String>,
    }

    #[test]
    fn standard_block_with_defaults_and_own_settings() {
        let c = Config::<Own>::parse(r#"{"audience": "a", "slugs": ["x"]}"#, "p").expect("valid");
        assert_eq!(c.audience, vec!["a"]);
        assert_eq!(c.clock_skew_seconds, 300);
        assert!(c.issuers.is_empty());
        assert_eq!(c.provider.slugs, vec!["x"]);
        let c = Config::<NoSettings>::parse(
            r#"{"audience": ["a", "b"], "clock_skew_seconds": 0, "issuers": ["https://i"]}"#,
            "p",
        )
        .expect("valid");
        assert_eq!(c.audience, vec!["a", "b"]);
        assert_eq!(c.clock_skew_seconds, 0);
        assert_eq!(c.issuers, vec!["https://i"]);
    }

    #[test]
    fn unknown_keys_of_either_part_and_bad_audiences_are_refused() {
        for (json, needle) in [
            (r#"{}"#, "is invalid: missing field `audience`"),
            (r#"{"audience": "a", "slug": []}"#, "unknown field `slug`"),
            (
                r#"{"audience": "a", "clock_skew": 1}"#,
                "unknown field `clock_skew`",
            ),
            (r#"{"audience": ""}"#, "empty audience"),
            (r#"{"audience": []}"#, "empty audience"),
            (r#"{"audience": [1]}"#, "a string or a list of strings"),
            (r#"{"audience": "a", "issuers": [""]}"#, "empty issuer"),
        ] {
            let err = Config::<Own>::parse(json, "p").expect_err(json);
            assert!(err.contains(needle), "{json}: {err}");
            assert!(err.starts_with("the p provider configuration"), "{err}");
        }
    }
}

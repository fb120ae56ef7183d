//! `trustpub.toml`, `TRUSTPUB_*` environment variables and flags, merged in
//! that order into one validated [`Settings`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod provider;

pub use provider::{IssuerSettings, ProviderLimits, ProviderSettings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Every setting; all but `providers` have defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub listen: SocketAddr,
    /// `sqlite://PATH` (default `sqlite://trustpub.db`) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB` for a cluster of hosts.
    pub database: String,
    /// PostgreSQL: the longest wait for a connection or a statement before
    /// a request fails with 503 (and the connect timeout).
    pub database_timeout_ms: u64,
    /// PostgreSQL: connections this host keeps at most.
    pub database_pool_size: u32,
    /// Bearer token of the operator API; without it `/admin` is disabled.
    pub admin_token: Option<String>,
    pub key_lifetime_seconds: u64,
    /// How long a policy of a pinning provider (github-actions) stays live
    /// before its first use, counted from creation or renewal.
    pub first_use_window_seconds: u64,
    /// Handed to evaluators as `clock_skew_seconds` unless a provider sets its own.
    pub clock_skew_seconds: u64,
    pub max_token_bytes: usize,
    pub max_body_bytes: usize,
    /// Largest component `PUT /admin/evaluators/{provider}` accepts.
    pub max_component_bytes: usize,
    /// Deploy a provider's evaluator when its file is replaced.
    pub watch_evaluators: bool,
    /// Minimum time between two JWKS fetches of one provider on unknown `kid`s.
    pub jwks_min_refresh_seconds: u64,
    /// Every provider's keys are refetched this often, so a key the IdP
    /// withdrew stops being trusted (0: only on unknown `kid`s).
    pub jwks_refresh_seconds: u64,
    /// Keys that could not be refreshed for this long verify nothing (0: never).
    pub jwks_max_age_seconds: u64,
    pub evaluation_timeout_ms: u64,
    pub evaluator_memory_mib: usize,
    pub max_concurrent_evaluations: u32,
    /// Token exchanges one client address may start per minute (0: no limit).
    pub rate_limit_per_address_per_minute: u32,
    /// Token exchanges for one username per minute (0: no limit).
    pub rate_limit_per_username_per_minute: u32,
    /// Audit events older than this many days are deleted (0: kept forever).
    pub audit_retention_days: u64,
    /// Token exchanges in flight at once; more get a 503 at once.
    pub max_concurrent_exchanges: u32,
    /// A client must send a request's line and headers within this time
    /// (counted from the connection, or the end of its previous request).
    pub header_timeout_seconds: u64,
    /// ...and its body within this time after the headers; else 408.
    pub body_timeout_seconds: u64,
    /// Behind a reverse proxy: the header whose last address is the client's
    /// (e.g. `X-Forwarded-For`). Unset: the connection's address.
    pub client_ip_header: Option<String>,
    pub log_format: LogFormat,
    /// Keep compiled evaluators on disk so a restart does not recompile.
    pub compiled_cache: bool,
    /// Default: `trustpub-compiled/` next to the SQLite database.
    pub compiled_cache_dir: Option<PathBuf>,
    /// Ed25519 public keys (base64); when any is set, every evaluator
    /// version must be signed by one of them.
    pub evaluator_trusted_keys: Vec<String>,
    pub providers: Vec<ProviderSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: "sqlite://trustpub.db".into(),
            database_timeout_ms: 5_000,
            database_pool_size: 16,
            admin_token: None,
            key_lifetime_seconds: 3600,
            first_use_window_seconds: 7 * 24 * 3600,
            clock_skew_seconds: 300,
            max_token_bytes: 16 * 1024,
            max_body_bytes: 16 * 1024,
            max_component_bytes: 32 << 20,
            watch_evaluators: true,
            jwks_min_refresh_seconds: 30,
            jwks_refresh_seconds: 3600,
            jwks_max_age_seconds: 86_400,
            evaluation_timeout_ms: 500,
            evaluator_memory_mib: 64,
            max_concurrent_evaluations: 64,
            rate_limit_per_address_per_minute: 600,
            rate_limit_per_username_per_minute: 120,
            max_concurrent_exchanges: 256,
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            audit_retention_days: 90,
            client_ip_header: None,
            log_format: LogFormat::Human,
            compiled_cache: true,
            compiled_cache_dir: None,
            evaluator_trusted_keys: Vec::new(),
            providers: Vec::new(),
        }
    }
}

/// The shortest admin token accepted: it guards every policy.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

impl Settings {
    /// Reads `file` (if given), then applies `TRUSTPUB_<KEY>` variables from
    /// `env`, then `overrides` (flags), then validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[(&str, toml::Value)],
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        let scalar_keys: HashSet<&str> = SCALAR_KEYS.iter().copied().collect();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("TRUSTPUB_").map(str::to_ascii_lowercase) else {
                continue;
            };
            if scalar_keys.contains(key.as_str()) {
                let value = env_value(&key, &value);
                table.insert(key, value);
            }
        }
        for (key, value) in overrides {
            table.insert((*key).to_string(), value.clone());
        }
        // Checked before deserializing: serde's type error would quote the value.
        if table
            .get("admin_token")
            .is_some_and(|t| !matches!(t, toml::Value::String(_)))
        {
            return Err(ConfigError::Invalid(
                "admin_token must be a string (in the file, put it in quotes)".into(),
            ));
        }
        let settings: Settings = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.providers.is_empty() {
            return invalid("no [[providers]] are configured".into());
        }
        if self.database_timeout_ms == 0 || self.database_pool_size == 0 {
            return invalid("database_timeout_ms and database_pool_size must be at least 1".into());
        }
        let mut names = HashSet::new();
        for p in &self.providers {
            if !names.insert(p.name.as_str()) {
                return invalid(format!("provider '{}' is configured twice", p.name));
            }
            if p.limits
                .memory_mib
                .is_some_and(|m| m > self.evaluator_memory_mib)
            {
                return invalid(format!(
                    "provider '{}': limits.memory_mib exceeds evaluator_memory_mib ({})",
                    p.name, self.evaluator_memory_mib
                ));
            }
            p.validate().map_err(ConfigError::Invalid)?;
        }
        // Routing must not depend on configuration order; evaluators' own
        // patterns are checked when they are loaded.
        for (i, a) in self.providers.iter().enumerate() {
            for b in &self.providers[i + 1..] {
                let exact_only = |p: &ProviderSettings| crate::evaluators::routing::IssuerRoutes {
                    patterns: Vec::new(),
                    exact: p.exact_issuers(),
                };
                if let Some((x, _)) = exact_only(a).overlap(&exact_only(b)) {
                    return invalid(format!(
                        "providers '{}' and '{}' both take tokens from issuer '{x}'",
                        a.name, b.name
                    ));
                }
            }
        }
        if let Some(token) = &self.admin_token
            && token.len() < MIN_ADMIN_TOKEN_LEN
        {
            return invalid(format!(
                "admin_token must be at least {MIN_ADMIN_TOKEN_LEN} characters"
            ));
        }
        if self.key_lifetime_seconds == 0 || self.max_token_bytes == 0 || self.max_body_bytes == 0 {
            return invalid(
                "key_lifetime_seconds, max_token_bytes and max_body_bytes must be positive".into(),
            );
        }
        if self.jwks_max_age_seconds > 0
            && (self.jwks_refresh_seconds == 0
                || self.jwks_max_age_seconds <= self.jwks_refresh_seconds)
        {
            return invalid(
                "jwks_max_age_seconds must be longer than jwks_refresh_seconds (or 0 to never expire keys): otherwise keys go stale between refreshes".into(),
            );
        }
        if let Err(e) =
            crate::evaluators::signature::TrustedKeys::parse(&self.evaluator_trusted_keys)
        {
            return invalid(format!("evaluator_trusted_keys: {e}"));
        }
        if self.header_timeout_seconds == 0 || self.body_timeout_seconds == 0 {
            return invalid(
                "header_timeout_seconds and body_timeout_seconds must be positive".into(),
            );
        }
        if self.max_concurrent_evaluations == 0 {
            // Every instantiation waits for one of these slots: none would
            // make every exchange wait forever.
            return invalid("max_concurrent_evaluations must be at least 1".into());
        }
        if self.key_lifetime_seconds > MAX_KEY_LIFETIME_SECONDS {
            return invalid(format!(
                "key_lifetime_seconds must be at most {MAX_KEY_LIFETIME_SECONDS} (one day): trusted-publishing keys are short-lived"
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// Where compiled evaluators are cached, if anywhere.
    pub fn compiled_cache_path(&self) -> Option<PathBuf> {
        if !self.compiled_cache {
            return None;
        }
        if let Some(dir) = &self.compiled_cache_dir {
            return Some(dir.clone());
        }
        if crate::store::is_postgres_url(&self.database) {
            return Some(PathBuf::from("trustpub-compiled"));
        }
        let db = self
            .database
            .strip_prefix("sqlite://")
            .unwrap_or(&self.database);
        let parent = Path::new(db)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Some(parent.join("trustpub-compiled"))
    }
}

/// The longest a minted key may live. nuget.org's keys live one hour (our
/// default); a day still bounds what a leaked key can do.
pub const MAX_KEY_LIFETIME_SECONDS: u64 = 86_400;

/// Top-level settings that `TRUSTPUB_<KEY>` may set.
const SCALAR_KEYS: [&str; 28] = [
    "database_timeout_ms",
    "database_pool_size",
    "header_timeout_seconds",
    "body_timeout_seconds",
    "jwks_refresh_seconds",
    "jwks_max_age_seconds",
    "audit_retention_days",
    "rate_limit_per_address_per_minute",
    "rate_limit_per_username_per_minute",
    "max_concurrent_exchanges",
    "client_ip_header",
    "compiled_cache",
    "compiled_cache_dir",
    "max_component_bytes",
    "watch_evaluators",
    "listen",
    "database",
    "admin_token",
    "key_lifetime_seconds",
    "first_use_window_seconds",
    "clock_skew_seconds",
    "max_token_bytes",
    "max_body_bytes",
    "jwks_min_refresh_seconds",
    "evaluation_timeout_ms",
    "evaluator_memory_mib",
    "max_concurrent_evaluations",
    "log_format",
];

/// Settings that are text whatever they look like: an all-digit admin token
/// or database path is still a string.
const STRING_KEYS: [&str; 6] = [
    "client_ip_header",
    "listen",
    "database",
    "admin_token",
    "compiled_cache_dir",
    "log_format",
];

/// Numbers and booleans as such, except for [`STRING_KEYS`]; everything else
/// as a string.
fn env_value(key: &str, raw: &str) -> toml::Value {
    if STRING_KEYS.contains(&key) {
        return toml::Value::String(raw.to_string());
    }
    if let Ok(n) = raw.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    toml::Value::String(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[providers]]
name = "entra-id"
evaluator = "target/components/entra-id.wasm"
jwks_url = "http://127.0.0.1:8081/keys"
[providers.config]
audience = "api://AzureADTokenExchange"
"#;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("trustpub.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn the_documented_minimal_file_works_with_defaults() {
        let (_dir, path) = write(MINIMAL);
        let s = Settings::load(Some(&path), [], &[]).expect("valid");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database, "sqlite://trustpub.db");
        assert_eq!(s.key_lifetime_seconds, 3600);
        assert_eq!(s.clock_skew_seconds, 300);
        assert_eq!(s.max_token_bytes, 16384);
        let config: serde_json::Value =
            serde_json::from_str(&s.providers[0].config_json(300)).expect("json");
        assert_eq!(
            config,
            serde_json::json!({"audience": "api://AzureADTokenExchange", "clock_skew_seconds": 300})
        );
    }

    #[test]
    fn environment_then_flags_override_the_file() {
        let (_dir, path) = write(&format!("key_lifetime_seconds = 60\n{MINIMAL}"));
        let env = [
            (
                "TRUSTPUB_KEY_LIFETIME_SECONDS".to_string(),
                "120".to_string(),
            ),
            (
                "TRUSTPUB_DATABASE".to_string(),
                "sqlite:///tmp/x.db".to_string(),
            ),
            ("TRUSTPUB_LOG".to_string(), "debug".to_string()),
            ("OTHER".to_string(), "1".to_string()),
        ];
        let flags = [("database", toml::Value::String("sqlite://flag.db".into()))];
        let s = Settings::load(Some(&path), env, &flags).expect("valid");
        assert_eq!(s.key_lifetime_seconds, 120);
        assert_eq!(s.database, "sqlite://flag.db");
    }

    #[test]
    fn an_all_digit_admin_token_is_a_string_and_never_quoted_in_errors() {
        let (_dir, path) = write(MINIMAL);
        let digits = "12345678901234567890";
        let env = [("TRUSTPUB_ADMIN_TOKEN".to_string(), digits.to_string())];
        let s = Settings::load(Some(&path), env, &[]).expect("valid");
        assert_eq!(s.admin_token.as_deref(), Some(digits));

        let (_dir, path) = write(&format!("admin_token = 1234567890123456789\n{MINIMAL}"));
        let err = Settings::load(Some(&path), [], &[])
            .expect_err("not a string")
            .to_string();
        assert!(err.contains("must be a string"), "{err}");
        assert!(!err.contains("1234567890123456789"), "{err}");
    }

    #[test]
    fn invalid_settings_are_refused_with_a_reason() {
        for (text, needle) in [
            ("", "no [[providers]]"),
            ("bogus = 1\n", "unknown field"),
            (
                &format!("admin_token = \"short\"\n{MINIMAL}"),
                "at least 16",
            ),
            (
                "[[providers]]\nname = \"x\"\nevaluator = \"x.wasm\"\n",
                "exactly one of jwks_url",
            ),
            (
                &format!("key_lifetime_seconds = 86401\n{MINIMAL}"),
                "at most 86400",
            ),
            (
                &format!("jwks_refresh_seconds = 600\njwks_max_age_seconds = 600\n{MINIMAL}"),
                "jwks_max_age_seconds must be longer",
            ),
            (
                &format!("max_concurrent_evaluations = 0\n{MINIMAL}"),
                "max_concurrent_evaluations must be at least 1",
            ),
            (
                &format!("evaluator_trusted_keys = [\"c2hvcnQ=\"]\n{MINIMAL}"),
                "evaluator_trusted_keys: trusted key 1",
            ),
        ] {
            let (_dir, path) = write(text);
            let err = Settings::load(Some(&path), [], &[])
                .expect_err(text)
                .to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn the_example_file_is_valid() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../trustpub.example.toml"
        ));
        let s = Settings::load(Some(path), [], &[]).expect("trustpub.example.toml is valid");
        assert_eq!(s.providers[0].name, "entra-id");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err = Settings::load(Some(Path::new("/nonexistent/trustpub.toml")), [], &[])
            .expect_err("missing");
        assert!(matches!(err, ConfigError::Read { .. }));
    }
}

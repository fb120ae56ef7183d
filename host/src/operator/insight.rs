//! What the operator console shows besides the records themselves: exchange
//! counts over a window, live keys, each provider's criteria schema and
//! admission checks, and how fresh each provider's signing keys are.

use std::time::SystemTime;

use super::{OperatorError, OperatorService};
use crate::store::{ApiKeyRecord, AuditCount};

/// One provider's criteria form: the schema its evaluator publishes.
#[derive(Debug, Clone)]
pub struct ProviderForm {
    pub provider: String,
    /// A JSON Schema of the criteria object (the evaluator's own text).
    pub criteria_schema: String,
    /// Identifiers pinned on first use; none: policies never lapse.
    pub pins: Vec<String>,
    pub index_key: String,
}

/// One key set a provider verifies tokens with.
#[derive(Debug, Clone)]
pub struct JwksFreshness {
    pub provider: String,
    /// The evaluator's issuers, or the exact issuer these keys are for.
    pub issuer: String,
    pub keys: usize,
    pub last_success: Option<SystemTime>,
    pub fetches: u64,
}

/// One check a new evaluator version must pass before it serves, in the
/// order they run.
#[derive(Debug, Clone)]
pub struct AdmissionCheck {
    pub name: &'static str,
    pub detail: String,
    /// Whether this provider's configuration makes the check run at all.
    pub runs: bool,
}

impl OperatorService {
    /// The time now (unix seconds), on the service's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Exchange attempts of the last `seconds`, per provider, outcome and
    /// failed check.
    pub async fn exchange_counts(&self, seconds: u64) -> Result<Vec<AuditCount>, OperatorError> {
        self.audit_log.flush().await;
        let since = self.clock.now().saturating_sub(seconds);
        self.store_call(move |s| s.audit_counts(since)).await
    }

    /// Keys neither revoked nor expired, newest first.
    pub async fn live_keys(&self) -> Result<Vec<ApiKeyRecord>, OperatorError> {
        let now = self.clock.now();
        self.store_call(move |s| s.live_keys(now)).await
    }

    pub fn provider_forms(&self) -> Vec<ProviderForm> {
        self.registry
            .providers()
            .iter()
            .map(|p| {
                let active = p.evaluator();
                let info = active.evaluator.info();
                ProviderForm {
                    provider: p.name.clone(),
                    criteria_schema: info.criteria_schema.clone(),
                    pins: info.pins.clone(),
                    index_key: info.index_key.clone(),
                }
            })
            .collect()
    }

    pub fn jwks_freshness(&self) -> Vec<JwksFreshness> {
        let mut out = Vec::new();
        for p in self.registry.providers() {
            let own = p.jwks.iter().map(|k| (p.routes().patterns.join(", "), k));
            let exact = p.issuer_keys.iter().map(|(i, k)| (i.clone(), k));
            for (issuer, keys) in own.chain(exact) {
                out.push(JwksFreshness {
                    provider: p.name.clone(),
                    issuer,
                    keys: keys.snapshot().len(),
                    last_success: keys.last_success(),
                    fetches: keys.fetch_count(),
                });
            }
        }
        out
    }

    /// The checks a new version of `provider`'s evaluator goes through
    /// (see `evaluators::admission`), as this provider is configured.
    pub fn admission_checks(&self, provider: &str) -> Result<Vec<AdmissionCheck>, OperatorError> {
        let p = self
            .registry
            .get(provider)
            .ok_or_else(|| OperatorError::NotFound(format!("unknown provider '{provider}'")))?;
        let signed = p.trusted_keys.required();
        let signature = if signed {
            "signed by one of the provider's trusted keys".to_string()
        } else {
            "not required: the provider trusts no signing key".to_string()
        };
        let cases = match &p.cases {
            Some(cases) => format!("{} of the provider's cases decide as expected", cases.len()),
            None => "none configured for this provider".to_string(),
        };
        Ok(vec![
            AdmissionCheck {
                name: "signature",
                detail: signature,
                runs: signed,
            },
            AdmissionCheck {
                name: "component",
                detail: "a WebAssembly component of a known evaluator contract, within the sandbox's limits".into(),
                runs: true,
            },
            AdmissionCheck {
                name: "name",
                detail: format!("the evaluator calls itself '{}'", p.evaluator_name),
                runs: true,
            },
            AdmissionCheck {
                name: "issuers",
                detail: "no issuer it claims is routed to another provider".into(),
                runs: true,
            },
            AdmissionCheck {
                name: "conformance cases",
                runs: p.cases.is_some(),
                detail: cases,
            },
        ])
    }
}

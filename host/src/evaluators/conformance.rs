//! Conformance cases: tokens with the verdicts an evaluator must give. The
//! operator may require every new version of a provider's evaluator to pass
//! them before it is activated; `trustpub eval --cases` runs them offline.
//!
//! ```json
//! {"jwks": {"keys": [...]}, "config": {"audience": "..."},
//!  "cases": [{"name": "valid", "token": "eyJ...", "now": 1800000000,
//!             "policies": [{"id": 7, "criteria": {...}, "pins": {...}}],
//!             "expect": {"result": "matched", "policy_id": 7}}]}
//! ```
//! `expect` is compared with the JSON `trustpub eval` prints: every key it
//! names must be there with that value. `jwks` and `config` are optional.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::Policy;
use crate::jose::jws::{KeyResolver, NoKeys};
use crate::jose::key_set::KeySet;
use crate::runtime::{LoadedEvaluator, Request};
use crate::verdict::evaluation_json;

/// A policy as files write it: criteria as a JSON object, pins as a map.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub id: u64,
    pub criteria: Value,
    #[serde(default)]
    pub pins: BTreeMap<String, String>,
}

/// Turns policies from a file into what the evaluator receives, with
/// criteria normalized by the evaluator itself, as the server stores them.
pub fn normalize_policies(
    evaluator: &LoadedEvaluator,
    files: &[PolicyFile],
    config: &str,
) -> Result<Vec<Policy>, String> {
    files
        .iter()
        .map(|file| {
            let criteria = evaluator
                .check_criteria(&file.criteria.to_string(), config)
                .map_err(|e| e.to_string())?
                .map_err(|message| format!("policy {}: invalid criteria: {message}", file.id))?;
            Ok(Policy {
                id: file.id,
                criteria: criteria.criteria,
                pins: file.pins.clone().into_iter().collect(),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default)]
    config: Option<Value>,
    cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    token: String,
    #[serde(default)]
    policies: Vec<PolicyFile>,
    now: u64,
    expect: serde_json::Map<String, Value>,
}

/// A parsed cases file.
#[derive(Debug, Clone)]
pub struct ConformanceCases {
    keys: Option<Arc<KeySet>>,
    config: Option<String>,
    cases: Vec<Case>,
}

impl ConformanceCases {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Document = serde_json::from_str(text)
            .map_err(|e| format!("not a conformance cases document: {e}"))?;
        if doc.cases.is_empty() {
            return Err("it holds no cases".into());
        }
        let keys = match doc.jwks {
            Some(jwks) => Some(Arc::new(
                KeySet::from_json(&jwks.to_string()).map_err(|e| e.to_string())?,
            )),
            None => None,
        };
        Ok(Self {
            keys,
            config: doc.config.map(|c| c.to_string()),
            cases: doc.cases,
        })
    }

    pub fn len(&self) -> usize {
        self.cases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// Runs every case; `Err` names each case that failed and why.
    pub fn run(&self, evaluator: &LoadedEvaluator, provider_config: &str) -> Result<(), String> {
        let failures: Vec<String> = self
            .cases
            .iter()
            .filter_map(|case| {
                self.run_case(evaluator, provider_config, case)
                    .err()
                    .map(|e| format!("'{}': {e}", case.name))
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} of {} cases failed: {}",
                failures.len(),
                self.cases.len(),
                failures.join("; ")
            ))
        }
    }

    fn run_case(
        &self,
        evaluator: &LoadedEvaluator,
        provider_config: &str,
        case: &Case,
    ) -> Result<(), String> {
        let config = self
            .config
            .clone()
            .unwrap_or_else(|| provider_config.to_string());
        let policies = normalize_policies(evaluator, &case.policies, &config)?;
        let request = Request {
            token: case.token.clone(),
            policies,
            config,
            now: case.now,
        };
        let keys: Arc<dyn KeyResolver> = match &self.keys {
            Some(keys) => keys.clone(),
            None => Arc::new(NoKeys),
        };
        let verdict = evaluation_json(
            &evaluator
                .evaluate(&request, keys)
                .map_err(|e| e.to_string())?,
        );
        for (key, expected) in &case.expect {
            if verdict.get(key) != Some(expected) {
                return Err(format!("expected {key} = {expected}, got {verdict}"));
            }
        }
        Ok(())
    }
}

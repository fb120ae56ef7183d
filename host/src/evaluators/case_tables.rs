//! An evaluator's case tables (`policies/<idp>/cases/*.toml`, format in
//! `trustpub_guest::cases`) run through the component, as the server runs
//! it: tokens really signed by a test key and verified by the host against
//! that key's JWKS, criteria normalized by the component, `validate` and
//! `match` in one sandbox. The same tables run natively in the evaluator's
//! own `cargo test`; `trustpub eval --cases DIR` runs them here.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use trustpub_guest::cases::{self, CaseBackend, CaseReport};
use trustpub_guest::types::{
    Candidate, CheckedCriteria, MatchResult, Matched, TokenFacts, Validation,
};

use crate::idp::{SigningAlg, SigningKey};
use crate::jose::key_set::KeySet;
use crate::runtime::{Evaluation, LoadedEvaluator};

/// Runs every case table in `dir` through `evaluator`.
pub fn run_dir(evaluator: &LoadedEvaluator, dir: &Path) -> Result<CaseReport, String> {
    let files = cases::load_dir(dir)?;
    if files.is_empty() {
        return Err(format!("{} holds no case tables (*.toml)", dir.display()));
    }
    let mut backend = ComponentBackend::new(evaluator);
    let mut report = CaseReport::default();
    for file in &files {
        let one = cases::run(file, &mut backend);
        report.passed += one.passed;
        report.failures.extend(one.failures);
    }
    Ok(report)
}

/// Signs with RS256 keys made on demand per `kid` (published in the JWKS
/// the host verifies with), and with a second, unpublished key of the same
/// `kid` for cases whose signature must not verify.
struct ComponentBackend<'a> {
    evaluator: &'a LoadedEvaluator,
    keys: HashMap<String, (SigningKey, SigningKey)>,
}

impl<'a> ComponentBackend<'a> {
    fn new(evaluator: &'a LoadedEvaluator) -> Self {
        Self {
            evaluator,
            keys: HashMap::new(),
        }
    }

    fn key_pair(&mut self, kid: &str) -> Result<&(SigningKey, SigningKey), String> {
        if !self.keys.contains_key(kid) {
            let make = || SigningKey::generate(SigningAlg::Rs256, kid).map_err(|e| e.to_string());
            let pair = (make()?, make()?);
            self.keys.insert(kid.to_string(), pair);
        }
        self.keys
            .get(kid)
            .ok_or_else(|| "the key just made is gone".to_string())
    }

    fn key_set(&self) -> Result<Arc<KeySet>, String> {
        let jwks = serde_json::json!({
            "keys": self.keys.values().map(|(published, _)| published.public_jwk()).collect::<Vec<_>>()
        });
        KeySet::from_json(&jwks.to_string())
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }
}

impl CaseBackend for ComponentBackend<'_> {
    fn token(&mut self, header: &Value, claims: &Value, valid_signature: bool) -> String {
        // The signer writes the header itself: `alg` RS256, `typ` JWT and the
        // case's `kid`. A case needing another header cannot be reproduced
        // with real signatures; it gets a token that fails to parse.
        let kid = header.get("kid").and_then(Value::as_str).unwrap_or("test");
        let reproducible = header.as_object().is_some_and(|h| {
            h.iter().all(|(name, value)| match name.as_str() {
                "alg" => value == "RS256",
                "typ" => value == "JWT",
                "kid" => true,
                _ => false,
            })
        });
        if !reproducible {
            return format!("header {header} cannot be signed by the component backend");
        }
        match self.key_pair(kid) {
            Ok((published, unpublished)) => {
                let key = if valid_signature {
                    published
                } else {
                    unpublished
                };
                key.sign(claims)
                    .unwrap_or_else(|e| format!("cannot sign: {e}"))
            }
            Err(e) => format!("cannot make a key: {e}"),
        }
    }

    fn check_criteria(
        &mut self,
        criteria: &str,
        config: &str,
    ) -> Result<Result<CheckedCriteria, String>, String> {
        self.evaluator
            .check_criteria(criteria, config)
            .map_err(|e| e.to_string())
    }

    fn exchange(
        &mut self,
        token: &str,
        config: &str,
        now: u64,
        select: &mut dyn FnMut(&TokenFacts) -> Vec<Candidate>,
    ) -> Result<(Validation, Option<MatchResult>), String> {
        let mut session = self
            .evaluator
            .session(self.key_set()?)
            .map_err(|e| e.to_string())?;
        let validation = session
            .validate(token, config, now)
            .map_err(|e| e.to_string())?;
        let Validation::Valid(facts) = &validation else {
            return Ok((validation, None));
        };
        let candidates = select(facts);
        let matched = match session
            .match_candidates(&candidates)
            .map_err(|e| e.to_string())?
        {
            Evaluation::Matched(m) => MatchResult::Matched(Matched {
                policy_id: m.policy_id,
                pins: m.pins,
            }),
            Evaluation::Unauthorized(misses) => MatchResult::Unauthorized(misses),
            Evaluation::BadToken(r) => {
                return Err(format!("bad token only at match (a 0.1 evaluator?): {r}"));
            }
        };
        Ok((validation, Some(matched)))
    }
}

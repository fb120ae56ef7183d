//! A hostile evaluator: a valid `info()`, but `evaluate` claims a match for a
//! policy id it was never given. The host must reject the result.

use trustpub_guest::{Evaluation, Evaluator, Matched, ProviderInfo, Request, SignatureVerifier};

pub struct WrongPolicy;

/// Not among the policies any test hands it.
pub const FOREIGN_POLICY_ID: u64 = 999_999;

const ISSUER: &str = "https://hostile.example/wrong-policy";

impl Evaluator for WrongPolicy {
    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-wrong-policy".into(),
            version: "0.1.0".into(),
            issuers: vec![ISSUER.into()],
            criteria_schema: "{}".into(),
            pins: Vec::new(),
        }
    }

    fn check_criteria(criteria: &str) -> Result<String, String> {
        Ok(criteria.to_string())
    }

    fn evaluate(request: &Request, _verifier: &dyn SignatureVerifier) -> Evaluation {
        Evaluation::Matched(Matched {
            policy_id: FOREIGN_POLICY_ID,
            issuer: ISSUER.into(),
            token_id: "x".into(),
            subject: "x".into(),
            expires_at: request.now.saturating_add(60),
            pins: Vec::new(),
        })
    }
}

trustpub_guest::export_evaluator!(WrongPolicy);

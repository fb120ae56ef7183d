//! A hostile evaluator: a valid `info()`, but `evaluate` panics. The wasm
//! profile aborts on panic, so the component traps (`unreachable`).

use trustpub_guest::{Evaluation, Evaluator, ProviderInfo, Request, SignatureVerifier};

pub struct Trap;

impl Evaluator for Trap {
    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-trap".into(),
            version: "0.1.0".into(),
            issuers: vec!["https://hostile.example/trap".into()],
            criteria_schema: "{}".into(),
            pins: Vec::new(),
        }
    }

    fn check_criteria(criteria: &str) -> Result<String, String> {
        Ok(criteria.to_string())
    }

    fn evaluate(request: &Request, _verifier: &dyn SignatureVerifier) -> Evaluation {
        panic!(
            "hostile-trap panics on purpose (token of {} bytes)",
            request.token.len()
        )
    }
}

trustpub_guest::export_evaluator!(Trap);

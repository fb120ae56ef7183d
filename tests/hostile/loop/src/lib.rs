//! A hostile evaluator: a valid `info()`, but `evaluate` never returns. The
//! host must interrupt it at its deadline and stay usable afterwards.

use trustpub_guest::{Evaluation, Evaluator, ProviderInfo, Request, SignatureVerifier};

pub struct Loop;

impl Evaluator for Loop {
    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-loop".into(),
            version: "0.1.0".into(),
            issuers: vec!["https://hostile.example/loop".into()],
            criteria_schema: "{}".into(),
            pins: Vec::new(),
        }
    }

    fn check_criteria(criteria: &str) -> Result<String, String> {
        Ok(criteria.to_string())
    }

    fn evaluate(_request: &Request, _verifier: &dyn SignatureVerifier) -> Evaluation {
        let mut counter = 0u64;
        // black_box keeps the optimizer from proving the loop side-effect free.
        loop {
            std::hint::black_box(&mut counter);
            counter = counter.wrapping_add(1);
        }
    }
}

trustpub_guest::export_evaluator!(Loop);

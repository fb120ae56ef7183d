//! A hostile evaluator: a valid `info()`, but `evaluate` allocates 1 MiB
//! after 1 MiB forever. The host's memory cap must trap it.

use trustpub_guest::{Evaluation, Evaluator, ProviderInfo, Request, SignatureVerifier};

pub struct Memory;

const CHUNK: usize = 1 << 20;

impl Evaluator for Memory {
    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-memory".into(),
            version: "0.1.0".into(),
            issuers: vec!["https://hostile.example/memory".into()],
            criteria_schema: "{}".into(),
            pins: Vec::new(),
        }
    }

    fn check_criteria(criteria: &str) -> Result<String, String> {
        Ok(criteria.to_string())
    }

    fn evaluate(_request: &Request, _verifier: &dyn SignatureVerifier) -> Evaluation {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        // black_box keeps every chunk observably alive, so no allocation is elided.
        loop {
            let mut chunk = vec![0xA5u8; CHUNK];
            std::hint::black_box(&mut chunk);
            hoard.push(chunk);
            std::hint::black_box(&mut hoard);
        }
    }
}

trustpub_guest::export_evaluator!(Memory);

//! A hostile evaluator: a valid `info()`, but `validate` allocates 1 MiB
//! after 1 MiB forever. The host's memory cap must trap it.
//!
//! With a config of `{"stop_after_mib": N}` it stops after N MiB and rejects
//! the token saying how much it held: an evaluator may use more memory than
//! its module starts with (the SDK's heap grows it).
//!
//! With `{"churn_mib": N}` it runs [`churn`] instead and rejects the token
//! with its report: the heap's own test, through a real component.

mod churn;

use trustpub_guest::{
    Candidate, CheckedCriteria, Evaluator, MatchResult, ProviderInfo, Rejection, SignatureVerifier,
    TokenFacts,
};

pub struct Memory;

const CHUNK: usize = 1 << 20;

impl Evaluator for Memory {
    type Token = ();

    fn info() -> ProviderInfo {
        ProviderInfo {
            name: "hostile-memory".into(),
            version: "0.1.0".into(),
            issuers: vec!["https://hostile.example/memory".into()],
            criteria_schema: "{}".into(),
            pins: Vec::new(),
            index_key: "anything".into(),
        }
    }

    fn check_criteria(criteria: &str, _config: &str) -> Result<CheckedCriteria, String> {
        Ok(CheckedCriteria {
            criteria: criteria.to_string(),
            index_keys: vec!["hostile".into()],
        })
    }

    fn validate(
        _token: &str,
        config: &str,
        _now: u64,
        _verifier: &dyn SignatureVerifier,
    ) -> Result<(TokenFacts, ()), Rejection> {
        if let Some(mib) = setting(config, "churn_mib") {
            let report = churn::run(mib).unwrap_or_else(|broken| format!("broken: {broken}"));
            return Err(Rejection::new("memory", report));
        }
        let stop_after = setting(config, "stop_after_mib");
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        // black_box keeps every chunk observably alive, so no allocation is elided.
        loop {
            if stop_after == Some(hoard.len()) {
                let sum: usize = hoard
                    .iter()
                    .map(|c| c.iter().map(|&b| usize::from(b)).sum::<usize>())
                    .sum();
                return Err(Rejection::new(
                    "memory",
                    format!("held {} MiB, byte sum {sum}", hoard.len()),
                ));
            }
            let mut chunk = vec![0xA5u8; CHUNK];
            std::hint::black_box(&mut chunk);
            hoard.push(chunk);
            std::hint::black_box(&mut hoard);
        }
    }

    fn match_candidates(_token: &(), _candidates: &[Candidate]) -> MatchResult {
        MatchResult::Unauthorized(Vec::new())
    }
}

/// A number in the config (`{"name": N}`): a hostile guest has no use for a
/// JSON parser.
fn setting(config: &str, name: &str) -> Option<usize> {
    config
        .split_once(&format!("\"{name}\":"))
        .and_then(|(_, rest)| rest.trim_end_matches('}').trim().parse::<usize>().ok())
}

trustpub_guest::export_evaluator!(Memory);

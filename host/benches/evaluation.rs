//! One evaluation of the entra-id rules: through the component (fresh
//! instance + `evaluate`) versus the same crate compiled natively, each with
//! and without RS256 signature verification. All four are measured in one run
//! and reported as ratios, because the machines are shared and noisy.
//!
//! `cargo xtask components && cargo bench -p trustpub --bench evaluation`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use trustpub::idp::{TestIdp, entra_app_token_claims};
use trustpub::jose::jws::{DEFAULT_MAX_TOKEN_BYTES, KeyVerifier};
use trustpub::jose::key_set::KeySet;
use trustpub::runtime::{EvaluatorRuntime, SandboxLimits, SharedVerifier};
use trustpub::{Evaluation, Policy, Request};
use trustpub_entra_id::EntraId;
use trustpub_guest::{Evaluator, SignatureVerifier};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
const AUD: &str = "api://AzureADTokenExchange";

/// Returns the payload without checking the signature: isolates the cost
/// of the rules (and of crossing into the sandbox) from the crypto.
struct PayloadOnly;

impl SignatureVerifier for PayloadOnly {
    fn verify_jws(&self, token: &str, _issuer: &str) -> Result<String, String> {
        let payload = token.split('.').nth(1).ok_or("not a JWS")?;
        let map = trustpub_guest::jwt::decode_object(payload, "payload")?;
        Ok(serde_json::Value::Object(map).to_string())
    }
}

fn main() {
    let component = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/components/entra-id.wasm"
    ))
    .expect("target/components/entra-id.wasm: run `cargo xtask components` first");
    let runtime = EvaluatorRuntime::new(SandboxLimits::default()).expect("runtime");
    let evaluator = runtime.load(&component).expect("load");
    let idp = TestIdp::rs256("bench").expect("key");
    let keys = Arc::new(KeySet::from_json(&idp.jwks().to_string()).expect("jwks"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let token = idp
        .mint(&entra_app_token_claims(TID, OID, AUD, now, "bench-uti"))
        .expect("mint");
    let policies: Vec<Policy> = (0..10)
        .map(|i| Policy {
            id: i,
            criteria: json!({"tid": TID, "oid": format!("{:08x}-7e21-4c8e-9f6d-1b2a3c4d5e6f", i)})
                .to_string(),
            pins: vec![],
        })
        .chain([Policy {
            id: 99,
            criteria: json!({"tid": TID, "oid": OID}).to_string(),
            pins: vec![],
        }])
        .collect();
    let request = Request {
        token,
        policies,
        config: json!({"audience": AUD}).to_string(),
        now,
    };

    let real: SharedVerifier = Arc::new(KeyVerifier::new(keys, DEFAULT_MAX_TOKEN_BYTES));
    let payload_only: SharedVerifier = Arc::new(PayloadOnly);
    let check = |e: Evaluation| {
        assert!(
            matches!(e, Evaluation::Matched(ref m) if m.policy_id == 99),
            "{e:?}"
        )
    };

    let iterations = 2_000;
    let results = [
        (
            "native, no signature check",
            time(iterations, || {
                check(EntraId::evaluate(&request, payload_only.as_ref()))
            }),
        ),
        (
            "native, RS256 verified",
            time(iterations, || {
                check(EntraId::evaluate(&request, real.as_ref()))
            }),
        ),
        (
            "component, no signature check",
            time(iterations, || {
                check(
                    evaluator
                        .evaluate_with(&request, payload_only.clone())
                        .expect("eval"),
                )
            }),
        ),
        (
            "component, RS256 verified",
            time(iterations, || {
                check(
                    evaluator
                        .evaluate_with(&request, real.clone())
                        .expect("eval"),
                )
            }),
        ),
    ];
    let base = results[0].1;
    println!(
        "{:<32} {:>12} {:>10}",
        "evaluation (11 policies)", "median", "ratio"
    );
    for (name, median) in results {
        println!(
            "{name:<32} {:>9.1} µs {:>9.1}x",
            median.as_secs_f64() * 1e6,
            median.as_secs_f64() / base.as_secs_f64()
        );
    }
    println!(
        "component overhead with RS256: {:.2}x native",
        results[3].1.as_secs_f64() / results[1].1.as_secs_f64()
    );
}

/// Median of `n` timed calls after a warm-up.
fn time(n: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        f();
    }
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[n / 2]
}

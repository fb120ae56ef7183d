//! Hostile evaluator components (tests/hostile/) against the real sandbox:
//! each misbehaviour is stopped with the right error, and the runtime that
//! saw it still runs the real entra-id evaluator normally afterwards.
//! Build the components first: `cargo xtask components`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::json;
use trustpub::idp::{TestIdp, entra_app_token_claims};
use trustpub::jose::key_set::KeySet;
use trustpub::runtime::{EvalError, EvaluatorRuntime, LoadError, LoadedEvaluator, SandboxLimits};
use trustpub::{Evaluation, Policy, Request};

use trustpub_tests::server::{AUDIENCE as AUD, OID, TID};

const NOW: u64 = 1_800_000_000;

/// One signing key for all tests (RSA key generation is slow).
struct Idp {
    idp: TestIdp,
    keys: Arc<KeySet>,
}

fn idp() -> &'static Idp {
    static IDP: OnceLock<Idp> = OnceLock::new();
    IDP.get_or_init(|| {
        let idp = TestIdp::rs256("hostile-test-key").expect("key");
        let keys = Arc::new(KeySet::from_json(&idp.jwks().to_string()).expect("jwks"));
        Idp { idp, keys }
    })
}

fn component(name: &str) -> Vec<u8> {
    std::fs::read(trustpub_tests::component(name)).expect("read component")
}

fn hostile(name: &str) -> Vec<u8> {
    component(&format!("hostile/{name}"))
}

/// Short enough to keep the looping guest quick, ample for entra-id.
fn limits() -> SandboxLimits {
    SandboxLimits {
        timeout: Duration::from_millis(100),
        memory_bytes: 16 << 20,
        ..SandboxLimits::default()
    }
}

fn runtime() -> EvaluatorRuntime {
    EvaluatorRuntime::new(limits()).expect("runtime")
}

fn load_hostile(runtime: &EvaluatorRuntime, name: &str) -> LoadedEvaluator {
    let evaluator = runtime
        .load(&hostile(name))
        .unwrap_or_else(|e| panic!("hostile-{name} loads: {e}"));
    assert_eq!(evaluator.info().name, format!("hostile-{name}"));
    evaluator
}

/// A request the hostile guests never get far enough to look at; its
/// token names wrong-policy's issuer, so that guest's claimed facts pass and
/// its match is what the host must refuse.
fn hostile_request() -> Request {
    let claims =
        json!({"iss": "https://hostile.example/wrong-policy", "jti": "x", "exp": NOW + 60});
    Request {
        token: idp().idp.mint(&claims).expect("mint"),
        policies: vec![
            Policy {
                id: 1,
                criteria: "{}".into(),
                pins: vec![],
            },
            Policy {
                id: 2,
                criteria: "{}".into(),
                pins: vec![],
            },
        ],
        config: "{}".into(),
        now: NOW,
    }
}

fn evaluate_hostile(evaluator: &LoadedEvaluator) -> Result<Evaluation, EvalError> {
    evaluator.evaluate(&hostile_request(), idp().keys.clone())
}

/// The real entra-id component, loaded into `runtime`, matches a valid token.
#[track_caller]
fn assert_entra_id_still_works(runtime: &EvaluatorRuntime) {
    let evaluator = runtime
        .load(&component("entra-id"))
        .expect("entra-id loads");
    let criteria = evaluator
        .check_criteria(
            &json!({"tid": TID, "oid": OID}).to_string(),
            &json!({"audience": AUD}).to_string(),
        )
        .expect("no trap")
        .expect("valid criteria");
    let mut claims = entra_app_token_claims(TID, OID, AUD, NOW - 60, "uti-hostile");
    claims["exp"] = json!(NOW + 3540);
    let request = Request {
        token: idp().idp.mint(&claims).expect("mint"),
        policies: vec![Policy {
            id: 7,
            criteria: criteria.criteria,
            pins: vec![],
        }],
        config: json!({"audience": AUD}).to_string(),
        now: NOW,
    };
    match evaluator.evaluate(&request, idp().keys.clone()) {
        Ok(Evaluation::Matched(m)) => {
            assert_eq!(m.policy_id, 7);
            assert_eq!(m.facts.token_id, "uti-hostile");
        }
        other => panic!("entra-id after a hostile guest: expected matched, got {other:?}"),
    }
}

#[test]
fn endless_loop_times_out() {
    let runtime = runtime();
    let evaluator = load_hostile(&runtime, "loop");
    match evaluate_hostile(&evaluator) {
        Err(EvalError::Timeout(ms)) => assert_eq!(ms, 100),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Every call gets a fresh instance with a fresh deadline.
    assert_eq!(
        evaluator
            .check_criteria("{}", "{}")
            .expect("no trap")
            .map(|c| c.criteria),
        Ok("{}".to_string())
    );
    assert!(matches!(
        evaluate_hostile(&evaluator),
        Err(EvalError::Timeout(_))
    ));
    assert_entra_id_still_works(&runtime);
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let runtime = runtime();
    let evaluator = load_hostile(&runtime, "memory");
    match evaluate_hostile(&evaluator) {
        Err(EvalError::Trap(_)) => {}
        other => panic!("expected a trap at the memory cap, got {other:?}"),
    }
    assert_entra_id_still_works(&runtime);
}

/// The SDK's heap starts in the module's initial memory and grows it when
/// that is used up: 8 MiB, four times what the components start with.
#[test]
fn an_evaluator_may_grow_its_memory_below_the_cap() {
    let runtime = runtime();
    let evaluator = load_hostile(&runtime, "memory");
    let request = Request {
        config: r#"{"stop_after_mib": 8}"#.into(),
        ..hostile_request()
    };
    match evaluator.evaluate(&request, idp().keys.clone()) {
        Ok(Evaluation::BadToken(r)) => {
            // Every byte was written (0xA5) and read back.
            let sum = 8 * (1 << 20) * 0xA5;
            assert_eq!(r.message, format!("held 8 MiB, byte sum {sum}"));
        }
        other => panic!("expected the guest to hold 8 MiB and answer, got {other:?}"),
    }
}

/// The SDK's heap under churn, in a real component: blocks allocated, freed,
/// grown in place and moved, zeroed over reused memory, past the initial
/// memory into dlmalloc's grown pages — every block's bytes checked.
#[test]
fn the_heap_keeps_every_block_intact_through_the_arena_and_beyond() {
    let runtime = runtime();
    let evaluator = load_hostile(&runtime, "memory");
    let request = Request {
        config: r#"{"churn_mib": 6}"#.into(),
        ..hostile_request()
    };
    let report = match evaluator.evaluate(&request, idp().keys.clone()) {
        Ok(Evaluation::BadToken(r)) => r.message,
        other => panic!("expected the churn's report, got {other:?}"),
    };
    assert!(report.starts_with("intact after "), "{report}");
    // Components start with 32 pages (2 MiB): the churn went past them, so
    // the fallback allocator was used too.
    let pages: usize = report
        .rsplit_once("memory ")
        .and_then(|(_, rest)| rest.trim_end_matches(" pages").parse().ok())
        .unwrap_or_else(|| panic!("no page count in {report:?}"));
    assert!(pages > 32, "{report}");
}

#[test]
fn panic_is_a_trap() {
    let runtime = runtime();
    let evaluator = load_hostile(&runtime, "trap");
    match evaluate_hostile(&evaluator) {
        Err(EvalError::Trap(_)) => {}
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_entra_id_still_works(&runtime);
}

#[test]
fn matching_a_policy_it_was_not_given_is_rejected() {
    let runtime = runtime();
    let evaluator = load_hostile(&runtime, "wrong-policy");
    match evaluate_hostile(&evaluator) {
        Err(EvalError::InvalidResult(message)) => {
            assert!(
                message.contains("policy") && message.contains("999999"),
                "{message:?} should name the foreign policy"
            );
        }
        other => panic!("expected an invalid result, got {other:?}"),
    }
    assert_entra_id_still_works(&runtime);
}

#[test]
fn wasi_import_is_refused_at_load() {
    let runtime = runtime();
    match runtime.load(&hostile("wasi")) {
        Err(LoadError::World(message)) => assert!(
            message.contains("wasi:random"),
            "{message:?} should name the missing import"
        ),
        other => panic!("expected a world mismatch, got {other:?}"),
    }
    assert_entra_id_still_works(&runtime);
}

#[test]
fn incompatible_contract_is_refused_at_load() {
    let runtime = runtime();
    match runtime.load(&hostile("old-wit")) {
        Err(LoadError::World(message)) => {
            assert!(
                message.contains("trustpub:evaluator@9.0.0") && message.contains("0.1.x"),
                "{message}"
            )
        }
        other => panic!("expected a contract version mismatch, got {other:?}"),
    }
    assert_entra_id_still_works(&runtime);
}

/// All of them in turn on one runtime, each followed by a normal evaluation.
#[test]
fn one_runtime_survives_every_hostile_guest() {
    let runtime = runtime();
    for name in ["loop", "memory", "trap", "wrong-policy"] {
        let evaluator = load_hostile(&runtime, name);
        let result = evaluate_hostile(&evaluator);
        assert!(
            result.is_err(),
            "hostile-{name}: expected an error, got {result:?}"
        );
        assert_entra_id_still_works(&runtime);
    }
    for name in ["wasi", "old-wit"] {
        let result = runtime.load(&hostile(name));
        assert!(
            matches!(result, Err(LoadError::World(_))),
            "hostile-{name}: expected a world mismatch, got {result:?}"
        );
        assert_entra_id_still_works(&runtime);
    }
}

/// A hostile guest nobody tests proves nothing: every crate under
/// `tests/hostile/` must be loaded by name in this file.
#[test]
fn every_hostile_guest_is_claimed_by_a_test() {
    let this_file = include_str!("hostile_components.rs");
    let dir = trustpub_tests::root().join("tests/hostile");
    let mut guests: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/hostile exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Cargo.toml").exists())
        .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
        .collect();
    guests.sort();
    assert!(guests.len() >= 6, "found {guests:?}");
    for name in guests {
        assert!(
            this_file.contains(&format!("hostile(&runtime, \"{name}\")"))
                || this_file.contains(&format!("hostile(\"{name}\")")),
            "tests/hostile/{name} is built but no test here loads it"
        );
    }
}

//! The entra-id evaluator through the real component and wasmtime, with real
//! RS256 signatures: the same checks as its native unit tests, end to end.
//! Build the component first: `cargo xtask components`.

use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};
use trustpub::idp::{SigningAlg, SigningKey, TestIdp, entra_app_token_claims};
use trustpub::jose::key_set::KeySet;
use trustpub::runtime::{EvaluatorRuntime, LoadedEvaluator, SandboxLimits};
use trustpub::{Evaluation, Policy, Request};

use trustpub_tests::server::{AUDIENCE as AUD, OID, TID};

const NOW: u64 = 1_800_000_000;

struct Fixture {
    idp: TestIdp,
    keys: Arc<KeySet>,
    evaluator: LoadedEvaluator,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let bytes = std::fs::read(trustpub_tests::component("entra-id")).expect("read component");
        let runtime = EvaluatorRuntime::new(SandboxLimits::default()).expect("runtime");
        let evaluator = runtime.load(&bytes).expect("entra-id component loads");
        let idp = TestIdp::rs256("entra-test-key").expect("key");
        let keys = Arc::new(KeySet::from_json(&idp.jwks().to_string()).expect("jwks"));
        Fixture {
            idp,
            keys,
            evaluator,
        }
    })
}

fn claims() -> Value {
    let mut c = entra_app_token_claims(TID, OID, AUD, NOW - 60, "uti-1");
    c["exp"] = json!(NOW + 3540);
    c
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    change(c.as_object_mut().expect("object"));
    fixture().idp.mint(&c).expect("mint")
}

fn policy(id: u64, tid: &str, oid: &str) -> Policy {
    let criteria = fixture()
        .evaluator
        .check_criteria(
            &json!({"tid": tid, "oid": oid}).to_string(),
            &json!({"audience": AUD}).to_string(),
        )
        .expect("no trap")
        .expect("valid criteria");
    assert_eq!(
        criteria.index_keys,
        vec![format!("{}/{}", tid.to_lowercase(), oid.to_lowercase())],
        "policies are stored under tenant/object"
    );
    Policy {
        id,
        criteria: criteria.criteria,
        pins: vec![],
    }
}

fn evaluate_with(token: String, policies: Vec<Policy>, config: Value) -> Evaluation {
    let f = fixture();
    let request = Request {
        token,
        policies,
        config: config.to_string(),
        now: NOW,
    };
    f.evaluator
        .evaluate(&request, f.keys.clone())
        .expect("the evaluator does not misbehave")
}

fn evaluate(token: String) -> Evaluation {
    evaluate_with(token, vec![policy(1, TID, OID)], json!({"audience": AUD}))
}

#[track_caller]
fn assert_bad(result: Evaluation, needle: &str) {
    match result {
        Evaluation::BadToken(r) => assert!(
            r.message.contains(needle),
            "{r:?} should mention {needle:?}"
        ),
        other => panic!("expected bad-token mentioning {needle:?}, got {other:?}"),
    }
}

#[test]
fn info_describes_entra_id() {
    let info = fixture().evaluator.info();
    assert_eq!(info.name, "entra-id");
    assert_eq!(
        info.issuers,
        vec!["https://login.microsoftonline.com/{tid}/v2.0".to_string()]
    );
    assert!(
        fixture()
            .evaluator
            .handles_issuer(&format!("https://login.microsoftonline.com/{TID}/v2.0"))
    );
    assert!(
        !fixture()
            .evaluator
            .handles_issuer("https://token.actions.githubusercontent.com")
    );
    assert_eq!(fixture().evaluator.digest().len(), 64);
}

#[test]
fn valid_token_matches_the_right_policy() {
    let policies = vec![
        policy(3, TID, "99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f"),
        policy(5, &TID.to_uppercase(), &OID.to_uppercase()),
        policy(8, TID, OID),
    ];
    match evaluate_with(with(|_| {}), policies, json!({"audience": AUD})) {
        Evaluation::Matched(m) => {
            assert_eq!(m.policy_id, 5);
            assert_eq!(m.facts.token_id, "uti-1");
            assert_eq!(m.facts.subject, OID);
            assert_eq!(m.facts.expires_at, NOW + 3540);
            // The default skew of 300 s: the token id is kept that long.
            assert_eq!(m.facts.accepted_until, NOW + 3540 + 300);
            assert_eq!(m.facts.lookup_keys, vec![format!("{TID}/{OID}")]);
        }
        other => panic!("expected matched, got {other:?}"),
    }
}

#[test]
fn unauthorized_is_the_same_for_zero_one_or_many_policies() {
    let token = with(|_| {});
    let other = |id| policy(id, TID, "99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f");
    let config = json!({"audience": AUD});
    let results = [
        evaluate_with(token.clone(), vec![], config.clone()),
        evaluate_with(token.clone(), vec![other(1)], config.clone()),
        evaluate_with(token, (1..=50).map(other).collect(), config),
    ];
    for r in results {
        assert!(matches!(r, Evaluation::Unauthorized(_)), "{r:?}");
    }
}

#[test]
fn check_criteria_rejects_invalid_criteria() {
    let err = fixture()
        .evaluator
        .check_criteria(r#"{"tid": "x"}"#, &json!({"audience": AUD}).to_string())
        .expect("no trap")
        .expect_err("invalid");
    assert!(err.contains("oid"), "{err}");
}

#[test]
fn matrix_of_failed_checks() {
    let other_tenant = "aaaaaaaa-86f1-41af-91ab-2d7cd011db47";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong issuer pattern",
            with(|c| c["iss"] = json!(format!("https://sts.windows.net/{TID}/"))),
            "is not",
        ),
        (
            "tid differs from issuer",
            with(|c| {
                c["iss"] = json!(format!(
                    "https://login.microsoftonline.com/{other_tenant}/v2.0"
                ))
            }),
            "does not match the issuer's tenant",
        ),
        (
            "wrong audience",
            with(|c| c["aud"] = json!("api://other")),
            "is not the configured audience",
        ),
        (
            "ver 1.0",
            with(|c| c["ver"] = json!("1.0")),
            "the ver claim '1.0' is not 2.0",
        ),
        (
            "user token (scp)",
            with(|c| {
                c.insert("scp".into(), json!("user_impersonation"));
            }),
            "scp claim",
        ),
        (
            "user token (idtyp)",
            with(|c| c["idtyp"] = json!("user")),
            "idtyp claim 'user'",
        ),
        (
            "sub is not oid",
            with(|c| c["sub"] = json!("aaaaaaaa-7e21-4c8e-9f6d-1b2a3c4d5e6f")),
            "differs from the oid claim",
        ),
        (
            "client secret",
            with(|c| c["azpacr"] = json!("1")),
            "azpacr claim '1'",
        ),
        (
            "expired",
            with(|c| c["exp"] = json!(NOW - 301)),
            "the token expired",
        ),
        (
            "not yet valid",
            with(|c| c["nbf"] = json!(NOW + 301)),
            "not valid yet",
        ),
        (
            "issued in the future",
            with(|c| c["iat"] = json!(NOW + 301)),
            "issued in the future",
        ),
        (
            "missing uti and jti",
            with(|c| {
                c.remove("uti");
            }),
            "neither a uti nor a jti",
        ),
        ("malformed segments", "a.b".to_string(), "not a JWT"),
        (
            "payload not JSON",
            format!(
                "{}.{}.c2ln",
                trustpub::jwt_segment(&json!({"alg": "RS256"})),
                "aGVsbG8"
            ),
            "payload is not valid JSON",
        ),
    ];
    for (name, token, needle) in cases {
        match evaluate(token) {
            Evaluation::BadToken(r) => assert!(
                r.message.contains(needle),
                "{name}: {r:?} should mention {needle:?}"
            ),
            other => panic!("{name}: expected bad-token, got {other:?}"),
        }
    }
}

#[test]
fn bad_signature_tampered_claims() {
    let token = with(|_| {});
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims();
    forged["oid"] = json!("99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        trustpub::jwt_segment(&forged),
        parts[2]
    );
    assert_bad(evaluate(tampered), "signature does not verify");
}

#[test]
fn signed_by_an_unknown_key() {
    let stranger = SigningKey::generate(SigningAlg::Rs256, "stranger").expect("key");
    assert_bad(
        evaluate(stranger.sign(&claims()).expect("sign")),
        "no key with kid 'stranger'",
    );
}

#[test]
fn es256_tokens_verify_too() {
    let f = fixture();
    let ec = TestIdp::new(vec![
        SigningKey::generate(SigningAlg::Es256, "ec").expect("key"),
    ]);
    let keys = Arc::new(KeySet::from_json(&ec.jwks().to_string()).expect("jwks"));
    let request = Request {
        token: ec.mint(&claims()).expect("mint"),
        policies: vec![policy(1, TID, OID)],
        config: json!({"audience": AUD}).to_string(),
        now: NOW,
    };
    assert!(matches!(
        f.evaluator.evaluate(&request, keys),
        Ok(Evaluation::Matched(_))
    ));
}

/// The pool has as many instance slots as `max_concurrent`; every call waits
/// for one (`runtime/slots.rs`), so more callers than slots queue instead of
/// failing — an operator's criteria check under full load included.
#[test]
fn callers_beyond_the_pool_wait_for_a_slot_instead_of_failing() {
    let bytes = std::fs::read(trustpub_tests::component("entra-id")).expect("read component");
    let runtime = EvaluatorRuntime::new(SandboxLimits {
        max_concurrent: 2,
        ..SandboxLimits::default()
    })
    .expect("runtime");
    let evaluator = Arc::new(runtime.load(&bytes).expect("load"));
    let config = json!({"audience": AUD}).to_string();
    let criteria = json!({"tid": TID, "oid": OID}).to_string();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (evaluator, criteria, config) =
                (evaluator.clone(), criteria.clone(), config.clone());
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        evaluator
                            .check_criteria(&criteria, &config)
                            .map(|v| v.is_ok())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for caller in callers {
        for result in caller.join().expect("caller") {
            assert!(matches!(result, Ok(true)), "{result:?}");
        }
    }
}

//! One test per check: each token differs from a valid one in exactly one way.

use serde_json::{Value, json};
use trustpub_guest::testing::{FakeVerifier, token};
use trustpub_guest::{Evaluation, Evaluator, Policy, Request};

use crate::EntraId;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
const AUD: &str = "api://AzureADTokenExchange";
const NOW: u64 = 1_800_000_000;

fn claims() -> Value {
    json!({
        "iss": format!("https://login.microsoftonline.com/{TID}/v2.0"),
        "aud": AUD,
        "tid": TID,
        "oid": OID,
        "sub": OID,
        "azp": "11111111-2222-3333-4444-555555555555",
        "azpacr": "2",
        "idtyp": "app",
        "ver": "2.0",
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3540,
        "uti": "AbCdEfGhIjKlMnOpQrStUv",
    })
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    change(c.as_object_mut().expect("object"));
    token(&json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}), &c)
}

fn policy(id: u64, tid: &str, oid: &str) -> Policy {
    Policy {
        id,
        criteria: json!({"tid": tid, "oid": oid}).to_string(),
        pins: vec![],
    }
}

fn evaluate_with(token: String, policies: Vec<Policy>, config: Value) -> Evaluation {
    let request = Request {
        token,
        policies,
        config: config.to_string(),
        now: NOW,
    };
    EntraId::evaluate(&request, &FakeVerifier::new())
}

fn evaluate(token: String) -> Evaluation {
    evaluate_with(token, vec![policy(1, TID, OID)], json!({"audience": AUD}))
}

#[track_caller]
fn assert_bad(result: Evaluation, needle: &str) {
    match result {
        Evaluation::BadToken(message) => {
            assert!(
                message.contains(needle),
                "message {message:?} does not mention {needle:?}"
            )
        }
        other => panic!("expected bad-token mentioning {needle:?}, got {other:?}"),
    }
}

#[test]
fn valid_token_matches_the_right_policy_among_several() {
    let other_oid = "99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f";
    let policies = vec![
        policy(3, TID, other_oid),
        policy(
            5,
            &TID.to_uppercase(),
            &format!("{{{}}}", OID.to_uppercase()),
        ),
        policy(8, TID, OID),
    ];
    match evaluate_with(with(|_| {}), policies, json!({"audience": AUD})) {
        Evaluation::Matched(m) => {
            assert_eq!(
                m.policy_id, 5,
                "first match, GUIDs compared case-insensitively"
            );
            assert_eq!(m.token_id, "AbCdEfGhIjKlMnOpQrStUv");
            assert_eq!(m.subject, OID);
            assert_eq!(m.expires_at, NOW + 3540);
            assert_eq!(
                m.issuer,
                format!("https://login.microsoftonline.com/{TID}/v2.0")
            );
            assert!(m.pins.is_empty());
        }
        other => panic!("expected matched, got {other:?}"),
    }
}

#[test]
fn valid_token_without_matching_policy_is_unauthorized() {
    let policies = vec![policy(1, TID, "99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f")];
    assert_eq!(
        evaluate_with(with(|_| {}), policies, json!({"audience": AUD})),
        Evaluation::Unauthorized
    );
    assert_eq!(
        evaluate_with(with(|_| {}), vec![], json!({"audience": AUD})),
        Evaluation::Unauthorized
    );
}

#[test]
fn jti_is_the_token_id_when_uti_is_absent() {
    let t = with(|c| {
        c.remove("uti");
        c.insert("jti".into(), json!("jti-1"));
    });
    assert!(matches!(evaluate(t), Evaluation::Matched(m) if m.token_id == "jti-1"));
}

#[test]
fn token_is_validated_before_policies_even_with_none() {
    let bad = with(|c| c["aud"] = json!("api://other"));
    assert_bad(evaluate_with(bad, vec![], json!({"audience": AUD})), "aud");
}

#[test]
fn wrong_issuer_pattern() {
    let verifier = FakeVerifier::new();
    let request = Request {
        token: with(|c| c["iss"] = json!(format!("https://sts.windows.net/{TID}/"))),
        policies: vec![policy(1, TID, OID)],
        config: json!({"audience": AUD}).to_string(),
        now: NOW,
    };
    assert_bad(
        EntraId::evaluate(&request, &verifier),
        "is not an Entra ID v2.0 issuer",
    );
    assert!(
        verifier.calls().is_empty(),
        "no signature check for a foreign issuer"
    );
}

#[test]
fn tenant_differs_from_issuer() {
    let other = "aaaaaaaa-86f1-41af-91ab-2d7cd011db47";
    assert_bad(
        evaluate(with(|c| {
            c["iss"] = json!(format!("https://login.microsoftonline.com/{other}/v2.0"))
        })),
        "does not match the issuer's tenant",
    );
}

#[test]
fn tenant_not_a_guid() {
    assert_bad(
        evaluate(with(|c| c["tid"] = json!("contoso"))),
        "tid claim 'contoso' is not a GUID",
    );
}

#[test]
fn tenant_not_allowed() {
    let config =
        json!({"audience": AUD, "allowed_tenants": ["bbbbbbbb-86f1-41af-91ab-2d7cd011db47"]});
    assert_bad(
        evaluate_with(with(|_| {}), vec![policy(1, TID, OID)], config),
        "is not allowed",
    );
    let config = json!({"audience": AUD, "allowed_tenants": [TID.to_uppercase()]});
    assert!(matches!(
        evaluate_with(with(|_| {}), vec![policy(1, TID, OID)], config),
        Evaluation::Matched(_)
    ));
}

#[test]
fn wrong_audience() {
    assert_bad(
        evaluate(with(|c| c["aud"] = json!("api://other"))),
        "the aud claim 'api://other' is not the configured audience",
    );
}

#[test]
fn several_audiences() {
    assert_bad(
        evaluate(with(|c| c["aud"] = json!([AUD, "api://other"]))),
        "exactly one",
    );
}

#[test]
fn version_one_token() {
    assert_bad(
        evaluate(with(|c| c["ver"] = json!("1.0"))),
        "the ver claim '1.0' is not 2.0",
    );
}

#[test]
fn user_token_with_scopes() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("scp".into(), json!("user_impersonation"));
        })),
        "scp claim",
    );
}

#[test]
fn user_token_by_idtyp() {
    assert_bad(
        evaluate(with(|c| c["idtyp"] = json!("user"))),
        "idtyp claim 'user' is not app",
    );
}

#[test]
fn subject_is_not_the_object() {
    assert_bad(
        evaluate(with(|c| {
            c["sub"] = json!("aaaaaaaa-7e21-4c8e-9f6d-1b2a3c4d5e6f")
        })),
        "differs from the oid claim",
    );
}

#[test]
fn client_secret_authentication() {
    assert_bad(
        evaluate(with(|c| c["azpacr"] = json!("1"))),
        "the azpacr claim '1' is not 2",
    );
}

#[test]
fn expired() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("exp".into(), json!(NOW - 301));
        })),
        "the token expired",
    );
}

#[test]
fn expired_within_skew_is_accepted() {
    assert!(matches!(
        evaluate(with(|c| {
            c.insert("exp".into(), json!(NOW - 299));
        })),
        Evaluation::Matched(_)
    ));
}

#[test]
fn not_yet_valid() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("nbf".into(), json!(NOW + 301));
        })),
        "not valid yet",
    );
}

#[test]
fn issued_in_the_future_beyond_skew() {
    assert_bad(
        evaluate(with(|c| c["iat"] = json!(NOW + 301))),
        "issued in the future",
    );
}

#[test]
fn configured_skew_is_used() {
    let config = json!({"audience": AUD, "clock_skew_seconds": 0});
    assert_bad(
        evaluate_with(
            with(|c| {
                c.insert("exp".into(), json!(NOW));
            }),
            vec![policy(1, TID, OID)],
            config,
        ),
        "the token expired",
    );
}

#[test]
fn bad_signature() {
    let t = with(|_| {});
    let tampered = format!("{}xyz", &t[..t.rfind('.').expect("dot") + 1]);
    assert_bad(evaluate(tampered), "signature is not valid");
}

#[test]
fn missing_token_id() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("uti");
        })),
        "neither a uti nor a jti",
    );
}

#[test]
fn blank_token_id() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("uti".into(), json!("  "));
        })),
        "uti claim (the token id) is blank",
    );
}

#[test]
fn exp_past_year_9999() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("exp".into(), json!(1e19));
        })),
        "the exp claim 1e+19 is out of range",
    );
    assert_bad(
        evaluate(with(|c| {
            c.insert("exp".into(), json!(1u64 << 63));
        })),
        "out of range",
    );
}

#[test]
fn malformed_segments() {
    assert_bad(evaluate("only.two".into()), "not a JWT");
    assert_bad(
        evaluate("%%%.e30.c2ln".into()),
        "header is not valid base64url",
    );
}

#[test]
fn payload_not_json() {
    let t = format!(
        "{}.{}.sig",
        trustpub_guest::jwt::encode_segment(br#"{"alg":"RS256"}"#),
        trustpub_guest::jwt::encode_segment(b"hello")
    );
    assert_bad(evaluate(t), "payload is not valid JSON");
}

#[test]
fn missing_issuer() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("iss");
        })),
        "no iss claim",
    );
}

#[test]
fn invalid_provider_config_fails_closed() {
    assert_bad(
        evaluate_with(with(|_| {}), vec![policy(1, TID, OID)], json!({})),
        "configuration is invalid",
    );
}

#[test]
fn criteria_are_normalized() {
    let normalized = EntraId::check_criteria(
        &json!({"tid": TID.to_uppercase(), "oid": format!("{{{OID}}}")}).to_string(),
    )
    .expect("valid criteria");
    assert_eq!(normalized, json!({"tid": TID, "oid": OID}).to_string());
}

#[test]
fn criteria_reject_anything_else() {
    for (criteria, needle) in [
        (json!({"tid": TID}), "missing field `oid`"),
        (
            json!({"tid": TID, "oid": OID, "sub": OID}),
            "unknown field `sub`",
        ),
        (
            json!({"tid": "contoso", "oid": OID}),
            "tid 'contoso' is not a GUID",
        ),
        (json!({"tid": TID, "oid": 5}), "exactly \"tid\" and \"oid\""),
        (json!([TID, OID]), "exactly \"tid\" and \"oid\""),
    ] {
        let err = EntraId::check_criteria(&criteria.to_string()).expect_err("invalid criteria");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn info_declares_the_issuer_pattern() {
    let info = EntraId::info();
    assert_eq!(info.name, "entra-id");
    assert_eq!(info.issuers, vec![crate::ISSUER_PATTERN.to_string()]);
    serde_json::from_str::<Value>(&info.criteria_schema).expect("schema is JSON");
}

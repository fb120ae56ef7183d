//! One test per check: each token differs from a valid one in exactly one
//! way. Every exchange runs as the host runs it: validate, then match.

use serde_json::{Value, json};
use trustpub_guest::testing::{FakeVerifier, Outcome, candidate, exchange, token};
use trustpub_guest::{Candidate, Evaluator};

use crate::EntraId;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
const AUD: &str = "api://AzureADTokenExchange";
const NOW: u64 = 1_800_000_000;

/// `check-criteria` under the plain provider config of these tests.
fn check(criteria: &str) -> Result<trustpub_guest::CheckedCriteria, String> {
    EntraId::check_criteria(criteria, &json!({"audience": AUD}).to_string())
}

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

fn policy(id: u64, tid: &str, oid: &str) -> Candidate {
    candidate(id, &json!({"tid": tid, "oid": oid}), &[])
}

fn exchange_with(token: String, candidates: Vec<Candidate>, config: Value) -> Outcome {
    exchange_verified(&FakeVerifier::new(), token, candidates, config)
}

fn exchange_verified(
    verifier: &FakeVerifier,
    token: String,
    candidates: Vec<Candidate>,
    config: Value,
) -> Outcome {
    exchange::<EntraId>(verifier, &token, &config.to_string(), NOW, &candidates)
}

fn evaluate(token: String) -> Outcome {
    exchange_with(token, vec![policy(1, TID, OID)], json!({"audience": AUD}))
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
    let (facts, m) = exchange_with(with(|_| {}), policies, json!({"audience": AUD})).matched();
    assert_eq!(
        m.policy_id, 5,
        "first match, GUIDs compared case-insensitively"
    );
    assert_eq!(facts.token_id, "AbCdEfGhIjKlMnOpQrStUv");
    assert_eq!(facts.subject, OID);
    assert_eq!(facts.expires_at, NOW + 3540);
    assert_eq!(facts.accepted_until, NOW + 3540 + 300, "exp plus the skew");
    assert_eq!(
        facts.issuer,
        format!("https://login.microsoftonline.com/{TID}/v2.0")
    );
    assert_eq!(facts.lookup_keys, vec![format!("{TID}/{OID}")]);
    assert!(m.pins.is_empty());
}

#[test]
fn valid_token_without_matching_policy_is_unauthorized() {
    let other = "99999999-7e21-4c8e-9f6d-1b2a3c4d5e6f";
    let policies = vec![policy(1, TID, other)];
    exchange_with(with(|_| {}), policies, json!({"audience": AUD})).assert_near_miss(&format!(
        "tenant/object differ: the token's is {TID}/{OID}, the policy wants {TID}/{other}"
    ));
    assert!(
        exchange_with(with(|_| {}), vec![], json!({"audience": AUD}))
            .near_misses()
            .is_empty()
    );
}

#[test]
fn jti_is_the_token_id_when_uti_is_absent() {
    let t = with(|c| {
        c.remove("uti");
        c.insert("jti".into(), json!("jti-1"));
    });
    assert!(matches!(evaluate(t), Outcome::Matched(facts, _) if facts.token_id == "jti-1"));
}

#[test]
fn token_is_validated_before_policies_even_with_none() {
    let bad = with(|c| c["aud"] = json!("api://other"));
    exchange_with(bad, vec![], json!({"audience": AUD})).assert_bad("audience", "aud");
}

#[test]
fn wrong_issuer_pattern() {
    let verifier = FakeVerifier::new();
    let token = with(|c| c["iss"] = json!(format!("https://sts.windows.net/{TID}/")));
    exchange_verified(
        &verifier,
        token,
        vec![policy(1, TID, OID)],
        json!({"audience": AUD}),
    )
    .assert_bad("issuer", "is not an Entra ID v2.0 issuer");
    assert!(
        verifier.calls().is_empty(),
        "no signature check for a foreign issuer"
    );
}

#[test]
fn issuer_configured_by_the_operator_is_accepted_and_bound_to_the_tenant() {
    let sovereign = format!("https://login.microsoftonline.us/{TID}/v2.0");
    let verifier = FakeVerifier::new();
    let config = json!({"audience": AUD, "issuers": [sovereign]});
    let token = with(|c| c["iss"] = json!(sovereign));
    exchange_verified(&verifier, token, vec![policy(1, TID, OID)], config.clone())
        .assert_matched(1);
    assert_eq!(verifier.calls(), vec![sovereign.clone()]);
    let other_tenant = with(|c| {
        c["iss"] = json!(sovereign);
        c["tid"] = json!("aaaaaaaa-86f1-41af-91ab-2d7cd011db47");
    });
    exchange_with(other_tenant, vec![], config)
        .assert_bad("tenant", "does not match the issuer's tenant");
}

#[test]
fn tenant_differs_from_issuer() {
    let other = "aaaaaaaa-86f1-41af-91ab-2d7cd011db47";
    evaluate(with(|c| {
        c["iss"] = json!(format!("https://login.microsoftonline.com/{other}/v2.0"))
    }))
    .assert_bad("tenant", "does not match the issuer's tenant");
}

#[test]
fn tenant_not_a_guid() {
    evaluate(with(|c| c["tid"] = json!("contoso")))
        .assert_bad("claims", "tid claim 'contoso' is not a GUID");
}

#[test]
fn tenant_not_allowed() {
    let config =
        json!({"audience": AUD, "allowed_tenants": ["bbbbbbbb-86f1-41af-91ab-2d7cd011db47"]});
    exchange_with(with(|_| {}), vec![policy(1, TID, OID)], config)
        .assert_bad("tenant", "is not allowed");
    let config = json!({"audience": AUD, "allowed_tenants": [TID.to_uppercase()]});
    assert!(matches!(
        exchange_with(with(|_| {}), vec![policy(1, TID, OID)], config),
        Outcome::Matched(..)
    ));
}

#[test]
fn wrong_audience() {
    evaluate(with(|c| c["aud"] = json!("api://other"))).assert_bad(
        "audience",
        "the aud claim 'api://other' is not the configured audience",
    );
}

#[test]
fn several_audiences() {
    evaluate(with(|c| c["aud"] = json!([AUD, "api://other"])))
        .assert_bad("audience", "exactly one");
}

#[test]
fn version_one_token() {
    evaluate(with(|c| c["ver"] = json!("1.0")))
        .assert_bad("version", "the ver claim '1.0' is not 2.0");
}

#[test]
fn user_token_with_scopes() {
    evaluate(with(|c| {
        c.insert("scp".into(), json!("user_impersonation"));
    }))
    .assert_bad("app-only", "scp claim");
}

#[test]
fn user_token_by_idtyp() {
    evaluate(with(|c| c["idtyp"] = json!("user")))
        .assert_bad("app-only", "idtyp claim 'user' is not app");
}

#[test]
fn subject_is_not_the_object() {
    evaluate(with(|c| {
        c["sub"] = json!("aaaaaaaa-7e21-4c8e-9f6d-1b2a3c4d5e6f")
    }))
    .assert_bad("app-only", "differs from the oid claim");
}

#[test]
fn client_secret_authentication() {
    evaluate(with(|c| c["azpacr"] = json!("1")))
        .assert_bad("client-auth", "the azpacr claim '1' is not 2");
}

#[test]
fn expired() {
    evaluate(with(|c| {
        c.insert("exp".into(), json!(NOW - 301));
    }))
    .assert_bad("lifetime", "the token expired");
}

#[test]
fn expired_within_skew_is_accepted() {
    assert!(matches!(
        evaluate(with(|c| {
            c.insert("exp".into(), json!(NOW - 299));
        })),
        Outcome::Matched(..)
    ));
}

#[test]
fn not_yet_valid() {
    evaluate(with(|c| {
        c.insert("nbf".into(), json!(NOW + 301));
    }))
    .assert_bad("lifetime", "not valid yet");
}

#[test]
fn issued_in_the_future_beyond_skew() {
    evaluate(with(|c| c["iat"] = json!(NOW + 301))).assert_bad("lifetime", "issued in the future");
}

#[test]
fn configured_skew_is_used() {
    let config = json!({"audience": AUD, "clock_skew_seconds": 0});
    exchange_with(
        with(|c| {
            c.insert("exp".into(), json!(NOW));
        }),
        vec![policy(1, TID, OID)],
        config,
    )
    .assert_bad("lifetime", "the token expired");
}

#[test]
fn bad_signature() {
    let t = with(|_| {});
    let tampered = format!("{}xyz", &t[..t.rfind('.').expect("dot") + 1]);
    evaluate(tampered).assert_bad("signature", "signature is not valid");
}

#[test]
fn missing_token_id() {
    evaluate(with(|c| {
        c.remove("uti");
    }))
    .assert_bad("token-id", "neither a uti nor a jti");
}

#[test]
fn blank_token_id() {
    evaluate(with(|c| {
        c.insert("uti".into(), json!("  "));
    }))
    .assert_bad("token-id", "uti claim (the token id) is blank");
}

#[test]
fn exp_past_year_9999() {
    evaluate(with(|c| {
        c.insert("exp".into(), json!(1e19));
    }))
    .assert_bad("lifetime", "the exp claim 1e+19 is out of range");
    evaluate(with(|c| {
        c.insert("exp".into(), json!(1u64 << 63));
    }))
    .assert_bad("lifetime", "out of range");
}

#[test]
fn malformed_segments() {
    evaluate("only.two".into()).assert_bad("malformed", "not a JWT");
    evaluate("%%%.e30.c2ln".into()).assert_bad("malformed", "header is not valid base64url");
}

#[test]
fn payload_not_json() {
    let t = format!(
        "{}.{}.sig",
        trustpub_guest::jwt::encode_segment(br#"{"alg":"RS256"}"#),
        trustpub_guest::jwt::encode_segment(b"hello")
    );
    evaluate(t).assert_bad("malformed", "payload is not valid JSON");
}

#[test]
fn missing_issuer() {
    evaluate(with(|c| {
        c.remove("iss");
    }))
    .assert_bad("issuer", "no iss claim");
}

#[test]
fn invalid_provider_config_fails_closed() {
    exchange_with(with(|_| {}), vec![policy(1, TID, OID)], json!({}))
        .assert_bad("config", "configuration is invalid");
    let config = json!({"audience": AUD, "allowed_tenants": ["contoso"]});
    exchange_with(with(|_| {}), vec![], config).assert_bad("config", "'contoso' is not a GUID");
}

#[test]
fn criteria_are_normalized() {
    let checked =
        check(&json!({"tid": TID.to_uppercase(), "oid": format!("{{{OID}}}")}).to_string())
            .expect("valid criteria");
    assert_eq!(
        checked.criteria,
        json!({"tid": TID, "oid": OID}).to_string()
    );
    assert_eq!(checked.index_keys, vec![format!("{TID}/{OID}")]);
    assert_eq!(
        check(&checked.criteria).as_ref(),
        Ok(&checked),
        "normalizing is idempotent"
    );
}

#[test]
fn criteria_for_a_tenant_the_registry_does_not_allow_are_refused_when_written() {
    let other = "aaaaaaaa-86f1-41af-91ab-2d7cd011db47";
    let config = json!({"audience": AUD, "allowed_tenants": [TID]}).to_string();
    let criteria = |tid: &str| json!({"tid": tid, "oid": OID}).to_string();
    assert!(EntraId::check_criteria(&criteria(TID), &config).is_ok());
    let err = EntraId::check_criteria(&criteria(other), &config).expect_err("refused");
    assert!(err.contains(other) && err.contains("not allowed"), "{err}");
    // Without a list every tenant may be named.
    assert!(check(&criteria(other)).is_ok());
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
        let err = check(&criteria.to_string()).expect_err("invalid criteria");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn unparsable_criteria_never_match() {
    let policies = vec![
        candidate(1, &json!({"tid": "contoso", "oid": OID}), &[]),
        policy(2, TID, OID),
    ];
    let outcome = exchange_with(with(|_| {}), policies.clone(), json!({"audience": AUD}));
    outcome.assert_matched(2);
    let outcome = exchange_with(
        with(|_| {}),
        policies[..1].to_vec(),
        json!({"audience": AUD}),
    );
    outcome.assert_near_miss("criteria do not parse");
}

#[test]
fn an_unknown_pin_fails_closed() {
    let pinned = candidate(1, &json!({"tid": TID, "oid": OID}), &[("oid", OID)]);
    exchange_with(with(|_| {}), vec![pinned], json!({"audience": AUD}))
        .assert_near_miss("does not know");
}

#[test]
fn info_declares_the_issuer_pattern() {
    let info = EntraId::info();
    assert_eq!(info.name, "entra-id");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.issuers, vec![crate::ISSUER_PATTERN.to_string()]);
    assert!(info.pins.is_empty());
    assert!(!info.index_key.is_empty());
    serde_json::from_str::<Value>(&info.criteria_schema).expect("schema is JSON");
}

#[test]
fn case_tables_pass_natively() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let report = trustpub_guest::cases::run_native_dir::<EntraId>(&dir).expect("case files load");
    assert!(
        report.failures.is_empty(),
        "failures:\n{}",
        report.failures.join("\n")
    );
    assert!(report.passed >= 30, "only {} cases", report.passed);
}

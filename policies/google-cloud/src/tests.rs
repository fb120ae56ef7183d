//! Every check with a token failing it alone, near misses, matches and
//! criteria, validated and matched in one session as the host does.

use std::path::Path;

use serde_json::{Map, Value, json};
use trustpub_guest::cases::assert_native_dir;
use trustpub_guest::testing::{
    FakeVerifier, Outcome, assert_info, candidate, exchange, sample_exchange, token,
};
use trustpub_guest::{Candidate, Evaluator};

use crate::Component;

const NOW: u64 = 1_800_000_000;
const AUD: &str = "https://registry.example";
const ID: &str = "107517467455664443765";
const EMAIL: &str = "release@contoso-app.iam.gserviceaccount.com";

/// The sample identity token (`generateIdToken`'s shape), minted 30 s ago.
fn identity_token(mutate: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = serde_json::from_str::<Value>(include_str!("../sample-claims.json"))
        .ok()
        .and_then(|v| v.as_object().cloned())
        .expect("sample claims are an object");
    claims.extend([
        ("iat".into(), json!(NOW - 30)),
        ("exp".into(), json!(NOW + 3570)),
    ]);
    mutate(&mut claims);
    token(
        &json!({"alg": "RS256", "kid": "g1", "typ": "JWT"}),
        &Value::Object(claims),
    )
}

fn present(t: &str, config: &Value, policies: &[Candidate]) -> Outcome {
    exchange::<Component>(&FakeVerifier::new(), t, &config.to_string(), NOW, policies)
}

fn mutated(mutate: impl FnOnce(&mut Map<String, Value>), policies: &[Candidate]) -> Outcome {
    present(&identity_token(mutate), &json!({"audience": AUD}), policies)
}

fn account(id: u64, criteria: Value) -> Candidate {
    candidate(id, &criteria, &[])
}

fn normalized(criteria: Value) -> Result<trustpub_guest::CheckedCriteria, String> {
    Component::check_criteria(&criteria.to_string(), &json!({"audience": AUD}).to_string())
}

#[test]
fn the_service_accounts_token_matches_by_email_and_id() {
    let policies = [account(2, json!({"email": EMAIL, "sub": ID}))];
    let (facts, matched) = mutated(|_| {}, &policies).matched();
    assert_eq!((matched.policy_id, matched.pins.len()), (2, 0));
    assert_eq!(facts.lookup_keys, vec![EMAIL]);
    assert_eq!(facts.token_id, format!("{ID}@{}", NOW - 30));
    assert_eq!(
        (facts.subject.as_str(), facts.issuer.as_str()),
        (ID, "https://accounts.google.com")
    );
}

#[test]
fn every_check_fails_alone() {
    let gcloud = "32555940559.apps.googleusercontent.com";
    let no_email = "the token has no email claim: request the identity token with format=full";
    let unverified = "the email_verified claim is not true";
    let rows: Vec<(&str, Value, &str, &str)> = vec![
        (
            "iss",
            json!("accounts.google.com"),
            "issuer",
            "is not Google's issuer",
        ),
        (
            "iss",
            json!("https://sts.googleapis.com"),
            "issuer",
            "https://accounts.google.com",
        ),
        (
            "aud",
            json!(gcloud),
            "audience",
            "is not the configured audience",
        ),
        ("exp", json!(NOW - 301), "lifetime", "the token expired"),
        (
            "iat",
            json!("yesterday"),
            "lifetime",
            "the iat claim is not a number",
        ),
        (
            "sub",
            Value::Null,
            "token-id",
            "neither a jti nor a sub claim",
        ),
        (
            "sub",
            json!(""),
            "token-id",
            "the sub claim (the token id) is blank",
        ),
        (
            "email",
            json!(5),
            "claims",
            "the email claim is not a string",
        ),
        (
            "email_verified",
            json!("true"),
            "claims",
            "email_verified claim is invalid",
        ),
        ("email", Value::Null, "email", no_email),
        ("email_verified", json!(false), "email", unverified),
        ("email_verified", Value::Null, "email", unverified),
        (
            "email",
            json!("octocat@gmail.com"),
            "service-account",
            "'octocat@gmail.com' is not a",
        ),
        (
            "email",
            json!("x@gserviceaccount.com.evil.example"),
            "service-account",
            "not a service",
        ),
        (
            "azp",
            json!(gcloud),
            "authorized-party",
            "apps.googleusercontent.com' is not the sub",
        ),
    ];
    for (claim, value, check, needle) in rows {
        let mutate = |c: &mut Map<String, Value>| {
            if value.is_null() {
                c.remove(claim);
            } else {
                c.insert(claim.into(), value);
            }
        };
        mutated(mutate, &[account(1, json!({"email": EMAIL}))]).assert_bad(check, needle);
    }
    let t = identity_token(|_| {});
    present(&t, &json!({"audience": [AUD, ""]}), &[]).assert_bad("config", "empty audience");
    present(
        &t,
        &json!({"audience": AUD, "projects": ["contoso-app"]}),
        &[],
    )
    .assert_bad("config", "unknown field `projects`");
    present(&t.replace('.', "!"), &json!({"audience": AUD}), &[])
        .assert_bad("malformed", "not a JWT");
    let forged = format!("{}.c2lnbmVk", t.rsplit_once('.').expect("a JWS").0);
    present(&forged, &json!({"audience": AUD}), &[])
        .assert_bad("signature", "signature is not valid");
}

#[test]
fn without_azp_the_token_is_the_accounts_own() {
    mutated(
        |c| _ = c.remove("azp"),
        &[account(1, json!({"email": EMAIL}))],
    )
    .assert_matched(1);
}

#[test]
fn near_misses_and_matches() {
    let recreated = [account(1, json!({"email": EMAIL, "sub": "117"}))];
    mutated(|_| {}, &recreated).assert_near_miss(&format!("sub is {ID}, the policy wants 117"));
    let other = [account(
        1,
        json!({"email": "deploy@contoso-app.iam.gserviceaccount.com"}),
    )];
    mutated(|_| {}, &other)
        .assert_near_miss(&format!("email is {EMAIL}, the policy wants deploy@"));
    let shouting =
        |c: &mut Map<String, Value>| _ = c.insert("email".into(), json!(EMAIL.to_uppercase()));
    let policies = [
        account(4, json!({"email": EMAIL, "sub": "117"})),
        account(5, json!({"email": EMAIL.to_uppercase()})),
    ];
    mutated(shouting, &policies).assert_matched(5);
    assert!(mutated(|_| {}, &[]).near_misses().is_empty());
}

#[test]
fn criteria_name_a_service_account() {
    let ok = normalized(json!({"email": "Release@Contoso-App.iam.gserviceaccount.com", "sub": ID}))
        .expect("valid");
    let expected = json!({"email": EMAIL, "sub": ID});
    assert_eq!(
        serde_json::from_str::<Value>(&ok.criteria).expect("JSON"),
        expected
    );
    assert_eq!(ok.index_keys, vec![EMAIL]);
    assert_eq!(normalized(expected).as_ref(), Ok(&ok), "idempotent");
    let compute = "123456789012-compute@developer.gserviceaccount.com";
    assert_eq!(
        normalized(json!({"email": compute}))
            .expect("a default account")
            .index_keys,
        vec![compute]
    );
    for (criteria, needle) in [
        (json!({"sub": ID}), "missing field `email`"),
        (
            json!({"email": "octocat@gmail.com"}),
            "criteria email 'octocat@gmail.com' is not a service account's",
        ),
        (
            json!({"email": "@contoso-app.iam.gserviceaccount.com"}),
            "is not a service account's",
        ),
        (
            json!({"email": EMAIL, "sub": "release"}),
            "criteria sub 'release' is not a unique id",
        ),
        (json!({"email": EMAIL, "azp": ID}), "unknown field `azp`"),
        (
            json!({"email": EMAIL, "sub": 117}),
            "criteria sub is not a string",
        ),
    ] {
        let err = normalized(criteria).expect_err("invalid");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn info_and_the_sample_token() {
    assert_info::<Component>("google-cloud", &[crate::ISSUER], &[]);
    let sample = include_str!("../sample-claims.json");
    sample_exchange::<Component>(sample, json!({}), &json!({"email": EMAIL, "sub": ID}))
        .assert_matched(1);
}

#[test]
fn case_tables_pass_natively() {
    assert_native_dir::<Component>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), 36);
}

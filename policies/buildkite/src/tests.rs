//! A token failing each check alone, near misses, matches, pins and
//! criteria; validate then match in one session, as the host runs them.

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
const ORG_ID: &str = "0184990a-477b-4fa8-9968-496074483b77";
const PIPELINE_ID: &str = "0184990a-4782-42b5-afc1-16715b10b1a0";
const JOB: &str = "0184990a-477b-4fa8-9968-496074483cee";

/// The sample job token for the registry's audience, issued 10 s ago.
fn job_token(tweak: impl FnOnce(&mut Map<String, Value>)) -> String {
    let sample = include_str!("../sample-claims.json");
    let mut claims: Map<String, Value> = serde_json::from_str(sample).expect("sample claims");
    for (name, value) in [
        ("aud", json!(AUD)),
        ("iat", json!(NOW - 10)),
        ("nbf", json!(NOW - 10)),
    ] {
        claims.insert(name.into(), value);
    }
    claims.insert("exp".into(), json!(NOW + 290));
    tweak(&mut claims);
    token(
        &json!({"alg": "RS256", "typ": "JWT"}),
        &Value::Object(claims),
    )
}

fn outcome(t: &str, config: Value, policies: &[Candidate]) -> Outcome {
    exchange::<Component>(&FakeVerifier::new(), t, &config.to_string(), NOW, policies)
}

fn try_token(tweak: impl FnOnce(&mut Map<String, Value>), policies: &[Candidate]) -> Outcome {
    outcome(&job_token(tweak), json!({"audience": AUD}), policies)
}

fn pipeline(id: u64, pins: &[(&str, &str)]) -> Candidate {
    candidate(
        id,
        &json!({"organization": "acme-inc", "pipeline": "super-duper-app"}),
        pins,
    )
}

fn criteria(value: Value) -> Result<trustpub_guest::CheckedCriteria, String> {
    Component::check_criteria(&value.to_string(), &json!({"audience": AUD}).to_string())
}

#[test]
fn a_first_match_pins_the_ids() {
    let (facts, m) = try_token(|_| {}, &[pipeline(9, &[])]).matched();
    assert_eq!(m.policy_id, 9);
    let pins = [("organization_id", ORG_ID), ("pipeline_id", PIPELINE_ID)];
    assert_eq!(
        m.pins,
        pins.map(|(n, v)| (n.to_string(), v.to_string())).to_vec()
    );
    assert_eq!(facts.lookup_keys, vec!["acme-inc/super-duper-app"]);
    assert_eq!(facts.token_id, format!("{JOB}@{}", NOW - 10));
    assert_eq!(facts.accepted_until, NOW + 290 + 300);
}

#[test]
fn pins_hold_after_first_use() {
    let pinned = [("organization_id", ORG_ID), ("pipeline_id", PIPELINE_ID)];
    try_token(|_| {}, &[pipeline(1, &pinned)]).assert_matched(1);
    // The pipeline was deleted and another took its slug.
    let recreated = |c: &mut Map<String, Value>| {
        _ = c.insert(
            "pipeline_id".into(),
            json!("0191f956-0000-7000-8000-000000000001"),
        )
    };
    try_token(recreated, &[pipeline(1, &pinned)]).assert_near_miss(&format!(
        "pipeline_id is 0191f956-0000-7000-8000-000000000001, the policy is pinned to {PIPELINE_ID}"
    ));
    try_token(|_| {}, &[pipeline(1, &[("agent_id", "x")])])
        .assert_near_miss("agent_id, which this evaluator does not know");
    let elsewhere = candidate(
        2,
        &json!({"organization": "acme-inc", "pipeline": "super-duper-app", "branch": "dev"}),
        &[("organization_id", "1")],
    );
    try_token(|_| {}, &[elsewhere]).assert_near_miss("organization_id is");
}

#[test]
fn each_check_fails_on_its_own() {
    let ids =
        "request it with `buildkite-agent oidc request-token --claim organization_id,pipeline_id`";
    let failing: [(&str, Option<Value>, &str, &str); 11] = [
        (
            "iss",
            Some(json!("https://buildkite.com")),
            "issuer",
            "is not the Buildkite agent issuer",
        ),
        (
            "iss",
            Some(json!(format!("{}/", crate::ISSUER))),
            "issuer",
            "agent.buildkite.com/'",
        ),
        (
            "aud",
            Some(json!("https://buildkite.com/acme-inc")),
            "audience",
            "not the configured audience",
        ),
        ("exp", Some(json!(NOW - 301)), "lifetime", "expired"),
        ("nbf", Some(json!(NOW + 301)), "lifetime", "not valid yet"),
        (
            "job_id",
            None,
            "token-id",
            "neither a jti nor a job_id claim",
        ),
        ("pipeline_slug", None, "claims", "no pipeline_slug claim"),
        (
            "organization_slug",
            Some(json!("")),
            "claims",
            "the organization_slug claim is empty",
        ),
        (
            "build_branch",
            Some(json!(["main"])),
            "claims",
            "the build_branch claim is not a string",
        ),
        ("organization_id", None, "ids", ids),
        (
            "pipeline_id",
            Some(json!("")),
            "ids",
            "no pipeline_id claim",
        ),
    ];
    for (claim, value, check, needle) in failing {
        let tweak = |c: &mut Map<String, Value>| {
            let _ = match value {
                Some(value) => c.insert(claim.to_string(), value),
                None => c.remove(claim),
            };
        };
        try_token(tweak, &[pipeline(1, &[])]).assert_bad(check, needle);
    }
    let t = job_token(|_| {});
    outcome(
        &t,
        json!({"audience": AUD, "organizations": ["acme-inc"]}),
        &[],
    )
    .assert_bad("config", "unknown field `organizations`");
    outcome("x.y", json!({"audience": AUD}), &[]).assert_bad("malformed", "not a JWT");
    let unsigned = format!("{}.", t.rsplit_once('.').expect("signed").0);
    outcome(&unsigned, json!({"audience": AUD}), &[]).assert_bad("malformed", "signature");
    let resigned = format!("{}.b3RoZXI", t.rsplit_once('.').expect("signed").0);
    outcome(&resigned, json!({"audience": AUD}), &[]).assert_bad("signature", "not valid");
}

#[test]
fn near_misses_and_matches() {
    let with = |extra: Value| {
        let mut c = json!({"organization": "acme-inc", "pipeline": "super-duper-app"});
        c.as_object_mut()
            .expect("object")
            .extend(extra.as_object().cloned().unwrap_or_default());
        c
    };
    let other = candidate(1, &with(json!({"pipeline": "other-app"})), &[]);
    try_token(|_| {}, &[other]).assert_near_miss(
        "pipeline is acme-inc/super-duper-app, the policy wants acme-inc/other-app",
    );
    let release = candidate(2, &with(json!({"branch": "release"})), &[]);
    try_token(|_| {}, std::slice::from_ref(&release))
        .assert_near_miss("branch is main, the policy wants release");
    try_token(
        |c| _ = c.remove("build_branch"),
        std::slice::from_ref(&release),
    )
    .assert_near_miss("branch is unset, the policy wants release");
    let upper = candidate(
        3,
        &with(json!({"organization": "ACME-Inc", "branch": "main"})),
        &[],
    );
    try_token(
        |c| _ = c.insert("pipeline_slug".into(), json!("Super-Duper-App")),
        &[release, upper],
    )
    .assert_matched(3);
}

#[test]
fn criteria_normalize_slugs_and_refuse_mistakes() {
    let ok = criteria(
        json!({"organization": "Acme-Inc", "pipeline": "super-duper-app", "branch": "Main"}),
    )
    .expect("valid");
    let normalized =
        json!({"organization": "acme-inc", "pipeline": "super-duper-app", "branch": "Main"});
    assert_eq!(
        serde_json::from_str::<Value>(&ok.criteria).expect("JSON"),
        normalized
    );
    assert_eq!(ok.index_keys, vec!["acme-inc/super-duper-app"]);
    assert_eq!(criteria(normalized).as_ref(), Ok(&ok), "idempotent");
    for (value, needle) in [
        (
            json!({"organization": "acme-inc"}),
            "missing field `pipeline`",
        ),
        (
            json!({"organization": "acme-inc/super-duper-app", "pipeline": "x"}),
            "criteria organization 'acme-inc/super-duper-app' is not a Buildkite slug",
        ),
        (
            json!({"organization": "acme-inc", "pipeline": "super duper"}),
            "criteria pipeline 'super duper'",
        ),
        (
            json!({"organization": "acme-inc", "pipeline": "app", "branch": "refs/heads/main"}),
            "give the branch name alone",
        ),
        (
            json!({"organization": "acme-inc", "pipeline": "app", "step_key": "build"}),
            "unknown field `step_key`",
        ),
    ] {
        let err = criteria(value).expect_err("invalid");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn info_and_the_sample_token() {
    assert_info::<Component>(
        "buildkite",
        &[crate::ISSUER],
        &["organization_id", "pipeline_id"],
    );
    let sample = include_str!("../sample-claims.json");
    sample_exchange::<Component>(
        sample,
        json!({}),
        &json!({"organization": "acme-inc", "pipeline": "super-duper-app", "branch": "main"}),
    )
    .assert_matched(1);
}

#[test]
fn case_tables_pass_natively() {
    assert_native_dir::<Component>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), 44);
}

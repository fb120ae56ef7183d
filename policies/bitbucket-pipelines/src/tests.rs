//! One token per check, each differing from the sample token in exactly one
//! way; near misses, matches and criteria. Every exchange runs as the host
//! runs it: validate, then match.

use std::path::Path;

use serde_json::{Map, Value, json};
use trustpub_guest::cases::assert_native_dir;
use trustpub_guest::testing::{
    FakeVerifier, Outcome, assert_info, candidate, exchange, sample_exchange, token,
};
use trustpub_guest::{Candidate, Evaluator};

use crate::Component;

const NOW: u64 = 1_800_000_000;
const AUD: &str = "ari:cloud:bitbucket::workspace/e2b9cba7-4ecf-452c-bb1c-87add4084c99";
const WS: &str = "e2b9cba7-4ecf-452c-bb1c-87add4084c99";
const REPO: &str = "8864cd24-449d-4441-8862-cf4fe8ad6caa";
const ENV: &str = "c7ba7cd0-75e2-4616-8834-6d401da3ba0c";
const OTHER: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";

type Change = fn(&mut Map<String, Value>);

/// The sample token (`sample-claims.json`), issued a minute ago.
fn claims(change: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let mut claims: Value =
        serde_json::from_str(include_str!("../sample-claims.json")).expect("sample claims");
    let map = claims.as_object_mut().expect("an object");
    map.insert("iat".into(), json!(NOW - 60));
    map.insert("exp".into(), json!(NOW + 3540));
    change(map);
    claims
}

fn signed(change: impl FnOnce(&mut Map<String, Value>)) -> String {
    token(&json!({"alg": "RS256", "kid": "k1"}), &claims(change))
}

fn run_with(t: &str, config: Value, policies: &[Candidate]) -> Outcome {
    exchange::<Component>(&FakeVerifier::new(), t, &config.to_string(), NOW, policies)
}

fn run(change: impl FnOnce(&mut Map<String, Value>), policies: &[Candidate]) -> Outcome {
    run_with(&signed(change), json!({"audience": AUD}), policies)
}

fn policy(id: u64, extra: Value) -> Candidate {
    let mut criteria = json!({"workspace_uuid": WS, "repository_uuid": REPO});
    criteria
        .as_object_mut()
        .expect("object")
        .extend(extra.as_object().cloned().unwrap_or_default());
    candidate(id, &criteria, &[])
}

fn check(criteria: Value, config: Value) -> Result<trustpub_guest::CheckedCriteria, String> {
    Component::check_criteria(&criteria.to_string(), &config.to_string())
}

#[test]
fn the_sample_token_matches_its_repository() {
    let (facts, matched) = run(|_| {}, &[policy(1, json!({}))]).matched();
    assert_eq!(matched.policy_id, 1);
    assert!(matched.pins.is_empty(), "UUIDs are not pinned");
    assert_eq!(facts.lookup_keys, vec![format!("{WS}/{REPO}")]);
    assert_eq!(
        facts.token_id,
        format!("{{d5ff2daf-063f-4c13-82fc-cb51af94c2cb}}@{}", NOW - 60)
    );
    assert_eq!(facts.accepted_until, NOW + 3540 + 300);
    assert!(facts.subject.starts_with("{8864cd24"));
}

#[test]
fn a_step_token_minted_again_is_another_token() {
    let first = run(|_| {}, &[policy(1, json!({}))]).matched().0.token_id;
    let again = run(
        |c| _ = c.insert("iat".into(), json!(NOW - 59)),
        &[policy(1, json!({}))],
    );
    assert_ne!(again.matched().0.token_id, first);
}

#[test]
fn each_check_fails_alone() {
    let other_path = "https://api.bitbucket.org/2.0/workspaces/a/b/pipelines-config/identity/oidc";
    // (claim, value or null to remove it, check, message)
    for (claim, value, check, needle) in [
        (
            "iss",
            json!("https://bitbucket.org"),
            "issuer",
            "not a Bitbucket Pipelines workspace",
        ),
        ("iss", json!(other_path), "issuer", "is not a Bitbucket"),
        (
            "aud",
            json!("sts.amazonaws.com"),
            "audience",
            "is not the configured audience",
        ),
        (
            "aud",
            json!([AUD, "sts.amazonaws.com"]),
            "audience",
            "exactly one",
        ),
        ("exp", json!(NOW - 301), "lifetime", "expired"),
        ("iat", Value::Null, "lifetime", "no iat claim"),
        (
            "stepUuid",
            Value::Null,
            "token-id",
            "neither a jti nor a stepUuid claim",
        ),
        (
            "stepUuid",
            json!(" "),
            "token-id",
            "stepUuid claim (the token id) is blank",
        ),
        ("sub", Value::Null, "claims", "no sub claim"),
        (
            "repositoryUuid",
            Value::Null,
            "claims",
            "no repositoryUuid claim",
        ),
        (
            "workspaceUuid",
            json!("contoso"),
            "claims",
            "workspaceUuid claim 'contoso' is not a GUID",
        ),
    ] {
        let change = |c: &mut Map<String, Value>| match value {
            Value::Null => _ = c.remove(claim),
            value => _ = c.insert(claim.into(), value),
        };
        run(change, &[policy(1, json!({}))]).assert_bad(check, needle);
    }
}

#[test]
fn a_default_audience_names_the_tokens_own_workspace() {
    let foreign = format!("ari:cloud:bitbucket::workspace/{OTHER}");
    let t = signed(|c| _ = c.insert("aud".into(), json!(foreign)));
    run_with(&t, json!({"audience": [AUD, foreign]}), &[]).assert_bad(
        "workspace",
        "is another workspace's than the workspaceUuid claim",
    );
    let custom = signed(|c| _ = c.insert("aud".into(), json!("https://registry.example")));
    run_with(
        &custom,
        json!({"audience": "https://registry.example"}),
        &[policy(1, json!({}))],
    )
    .assert_matched(1);
}

#[test]
fn shape_signature_and_config_fail_closed() {
    let config = json!({"audience": AUD});
    run_with("only.two", config.clone(), &[]).assert_bad("malformed", "not a JWT");
    let t = signed(|_| {});
    let tampered = format!("{}.x", t.rsplit_once('.').expect("three parts").0);
    run_with(&tampered, config, &[]).assert_bad("signature", "signature is not valid");
    run_with(&t, json!({}), &[]).assert_bad("config", "configuration is invalid");
    run_with(&t, json!({"audience": AUD, "workspaces": []}), &[])
        .assert_bad("config", "unknown field `workspaces`");
}

#[test]
fn near_misses_name_what_differs() {
    let env = format!("{{{}}}", ENV.to_uppercase());
    let cases: [(Change, Value, String); 6] = [
        (
            |_| {},
            json!({"repository_uuid": OTHER}),
            format!("repository is {WS}/{REPO}, the policy wants {WS}/{OTHER}"),
        ),
        (
            |_| {},
            json!({"deployment_environment_uuid": ENV}),
            format!("deployment environment is unset, the policy wants {ENV}"),
        ),
        (
            |c| {
                _ = c.insert(
                    "deploymentEnvironmentUuid".into(),
                    json!(format!("{{{OTHER}}}")),
                )
            },
            json!({"deployment_environment_uuid": ENV}),
            format!("deployment environment is {OTHER}"),
        ),
        (
            |_| {},
            json!({"branch": "release"}),
            "branch is main, the policy wants release".into(),
        ),
        (
            |c| _ = c.remove("branchName"),
            json!({"branch": "main"}),
            "branch is unset, the policy wants main".into(),
        ),
        (
            |_| {},
            json!({"branch": "Main"}),
            "branch is main, the policy wants Main".into(),
        ),
    ];
    for (change, extra, needle) in cases {
        run(change, &[policy(1, extra)]).assert_near_miss(&needle);
    }
    let deploying =
        |c: &mut Map<String, Value>| _ = c.insert("deploymentEnvironmentUuid".into(), json!(env));
    run(
        deploying,
        &[policy(
            1,
            json!({"deployment_environment_uuid": ENV, "branch": "main"}),
        )],
    )
    .assert_matched(1);
}

#[test]
fn the_first_matching_policy_wins() {
    let policies = [
        policy(3, json!({"branch": "dev"})),
        policy(5, json!({})),
        policy(7, json!({})),
    ];
    assert_eq!(run(|_| {}, &policies).matched().1.policy_id, 5);
    assert!(run(|_| {}, &[]).near_misses().is_empty());
}

#[test]
fn criteria_are_normalized_and_checked() {
    let config = json!({"audience": "https://registry.example"});
    let written = json!({"workspace_uuid": format!("{{{}}}", WS.to_uppercase()), "repository_uuid": REPO, "branch": "main"});
    let checked = check(written, config.clone()).expect("valid");
    let expected = json!({"workspace_uuid": WS, "repository_uuid": REPO, "branch": "main"});
    assert_eq!(
        serde_json::from_str::<Value>(&checked.criteria).expect("JSON"),
        expected
    );
    assert_eq!(checked.index_keys, vec![format!("{WS}/{REPO}")]);
    assert_eq!(
        check(expected, config.clone()).as_ref(),
        Ok(&checked),
        "idempotent"
    );
    for (criteria, needle) in [
        (
            json!({"workspace_uuid": WS}),
            "missing field `repository_uuid`",
        ),
        (
            json!({"workspace_uuid": "contoso", "repository_uuid": REPO}),
            "criteria workspace_uuid 'contoso' is not a GUID",
        ),
        (
            json!({"workspace_uuid": WS, "repository_uuid": REPO, "branch": "refs/heads/main"}),
            "give the branch name alone",
        ),
        (
            json!({"workspace_uuid": WS, "repository_uuid": REPO, "repository": "app"}),
            "unknown field `repository`",
        ),
        (
            json!({"workspace_uuid": WS, "repository_uuid": REPO, "deployment_environment_uuid": "production"}),
            "is not a GUID",
        ),
    ] {
        let err = check(criteria, config.clone()).expect_err("invalid");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn only_served_workspaces_when_only_workspace_audiences_are_configured() {
    let criteria = |ws: &str| json!({"workspace_uuid": ws, "repository_uuid": REPO});
    assert!(check(criteria(WS), json!({"audience": AUD})).is_ok());
    let err = check(criteria(OTHER), json!({"audience": AUD})).expect_err("not served");
    assert!(
        err.contains(&format!("workspace {OTHER} is not served by this registry")),
        "{err}"
    );
    assert!(
        check(
            criteria(OTHER),
            json!({"audience": [AUD, "https://registry.example"]})
        )
        .is_ok()
    );
}

#[test]
fn info_and_the_sample_token() {
    assert_info::<Component>("bitbucket-pipelines", &[crate::ISSUER_PATTERN], &[]);
    let sample = include_str!("../sample-claims.json");
    sample_exchange::<Component>(
        sample,
        json!({}),
        &json!({"workspace_uuid": WS, "repository_uuid": REPO, "branch": "main"}),
    )
    .assert_matched(1);
}

#[test]
fn case_tables_pass_natively() {
    assert_native_dir::<Component>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), 39);
}

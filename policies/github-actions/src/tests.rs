//! One test per check: each token differs from a valid one in exactly one way.

use serde_json::{Value, json};
use trustpub_guest::testing::{FakeVerifier, token};
use trustpub_guest::{Evaluation, Evaluator, Policy, Request};

use crate::GitHubActions;

const ISS: &str = "https://token.actions.githubusercontent.com";
const AUD: &str = "https://registry.example";
const OWNER_ID: &str = "4412021";
const REPO_ID: &str = "678901234";
const NOW: u64 = 1_800_000_000;

/// A token as GitHub mints it for a job of contoso/app's release.yml that
/// deploys to the `release` environment after a tag push.
fn claims() -> Value {
    json!({
        "jti": "3fb4ff7d-3582-4a13-b419-5727d5d94efa",
        "sub": "repo:contoso/app:environment:release",
        "aud": AUD,
        "ref": "refs/tags/v1.2.0",
        "sha": "e75edcc5b6cb88fc32f8d65d1da2655576b905ca",
        "repository": "contoso/app",
        "repository_owner": "contoso",
        "repository_owner_id": OWNER_ID,
        "repository_id": REPO_ID,
        "repository_visibility": "public",
        "run_id": "10685993555",
        "run_number": "154",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "actor_id": "583231",
        "workflow": "Release",
        "workflow_ref": "contoso/app/.github/workflows/release.yml@refs/tags/v1.2.0",
        "workflow_sha": "e75edcc5b6cb88fc32f8d65d1da2655576b905ca",
        "job_workflow_ref": "contoso/app/.github/workflows/release.yml@refs/tags/v1.2.0",
        "job_workflow_sha": "e75edcc5b6cb88fc32f8d65d1da2655576b905ca",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_type": "tag",
        "ref_protected": "true",
        "environment": "release",
        "iss": ISS,
        "nbf": NOW - 60,
        "exp": NOW + 240,
        "iat": NOW - 60,
    })
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    change(c.as_object_mut().expect("object"));
    token(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "38826b17"}),
        &c,
    )
}

fn policy(id: u64, criteria: Value) -> Policy {
    Policy {
        id,
        criteria: criteria.to_string(),
        pins: vec![],
    }
}

fn pinned(id: u64, criteria: Value, pins: &[(&str, &str)]) -> Policy {
    Policy {
        pins: pins
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        ..policy(id, criteria)
    }
}

fn release() -> Value {
    json!({"owner": "contoso", "repository": "app", "workflow": "release.yml"})
}

fn config() -> Value {
    json!({"audience": AUD, "clock_skew_seconds": 300})
}

fn evaluate_with(token: String, policies: Vec<Policy>, config: Value) -> Evaluation {
    let request = Request {
        token,
        policies,
        config: config.to_string(),
        now: NOW,
    };
    GitHubActions::evaluate(&request, &FakeVerifier::new())
}

fn evaluate(token: String) -> Evaluation {
    evaluate_with(token, vec![policy(1, release())], config())
}

/// The valid token against the given policies.
fn evaluate_policies(policies: Vec<Policy>) -> Evaluation {
    evaluate_with(with(|_| {}), policies, config())
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

#[track_caller]
fn assert_matched(result: Evaluation, policy_id: u64) {
    match result {
        Evaluation::Matched(m) => assert_eq!(m.policy_id, policy_id),
        other => panic!("expected a match of policy {policy_id}, got {other:?}"),
    }
}

// --- a valid token ---

#[test]
fn valid_token_matches() {
    match evaluate(with(|_| {})) {
        Evaluation::Matched(m) => {
            assert_eq!(m.policy_id, 1);
            assert_eq!(m.issuer, ISS);
            assert_eq!(m.token_id, "3fb4ff7d-3582-4a13-b419-5727d5d94efa");
            assert_eq!(m.subject, "repo:contoso/app:environment:release");
            assert_eq!(m.expires_at, NOW + 240);
        }
        other => panic!("expected matched, got {other:?}"),
    }
}

#[test]
fn returned_pins_are_the_tokens_ids() {
    match evaluate(with(|_| {})) {
        Evaluation::Matched(m) => assert_eq!(
            m.pins,
            vec![
                ("repository_id".to_string(), REPO_ID.to_string()),
                ("repository_owner_id".to_string(), OWNER_ID.to_string()),
            ]
        ),
        other => panic!("expected matched, got {other:?}"),
    }
}

#[test]
fn first_matching_policy_wins_among_several() {
    let policies = vec![
        policy(
            2,
            json!({"owner": "contoso", "repository": "web", "workflow": "release.yml"}),
        ),
        policy(
            4,
            json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": "release"}),
        ),
        policy(7, release()),
    ];
    assert_matched(evaluate_policies(policies), 4);
}

#[test]
fn zero_policies_is_unauthorized() {
    assert_eq!(evaluate_policies(vec![]), Evaluation::Unauthorized);
}

#[test]
fn token_is_validated_before_policies_even_with_none() {
    let bad = with(|c| c["aud"] = json!("https://other.example"));
    assert_bad(evaluate_with(bad, vec![], config()), "aud");
}

// --- issuer ---

#[test]
fn wrong_issuer() {
    let verifier = FakeVerifier::new();
    let request = Request {
        token: with(|c| c["iss"] = json!("https://gitlab.com")),
        policies: vec![policy(1, release())],
        config: config().to_string(),
        now: NOW,
    };
    assert_bad(
        GitHubActions::evaluate(&request, &verifier),
        "the iss claim 'https://gitlab.com' is not a GitHub Actions issuer",
    );
    assert!(
        verifier.calls().is_empty(),
        "no signature check for a foreign issuer"
    );
}

#[test]
fn lookalike_issuer() {
    assert_bad(
        evaluate(with(|c| {
            c["iss"] = json!("https://token.actions.githubusercontent.com.evil.example")
        })),
        "is not a GitHub Actions issuer",
    );
}

#[test]
fn enterprise_issuer_not_configured() {
    let verifier = FakeVerifier::new();
    let request = Request {
        token: with(|c| c["iss"] = json!(format!("{ISS}/contoso-corp"))),
        policies: vec![policy(1, release())],
        config: json!({"audience": AUD, "enterprise_slugs": ["fabrikam"]}).to_string(),
        now: NOW,
    };
    assert_bad(
        GitHubActions::evaluate(&request, &verifier),
        "enterprise issuer of 'contoso-corp', which is not configured",
    );
    assert!(
        verifier.calls().is_empty(),
        "no signature check for an unconfigured enterprise"
    );
}

#[test]
fn configured_enterprise_issuer_matches() {
    let enterprise_iss = format!("{ISS}/contoso-corp");
    let verifier = FakeVerifier::new();
    let request = Request {
        token: with(|c| c["iss"] = json!(enterprise_iss)),
        policies: vec![policy(1, release())],
        config: json!({"audience": AUD, "enterprise_slugs": ["contoso-corp"]}).to_string(),
        now: NOW,
    };
    match GitHubActions::evaluate(&request, &verifier) {
        Evaluation::Matched(m) => assert_eq!(m.issuer, enterprise_iss),
        other => panic!("expected matched, got {other:?}"),
    }
    assert_eq!(
        verifier.calls(),
        vec![enterprise_iss],
        "verified with the enterprise issuer's keys"
    );
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

// --- signature and shape ---

#[test]
fn bad_signature() {
    let t = with(|_| {});
    let tampered = format!("{}xyz", &t[..t.rfind('.').expect("dot") + 1]);
    assert_bad(evaluate(tampered), "signature is not valid");
}

#[test]
fn malformed_token() {
    assert_bad(evaluate("only.two".into()), "not a JWT");
    assert_bad(
        evaluate("%%%.e30.c2ln".into()),
        "header is not valid base64url",
    );
}

// --- audience ---

#[test]
fn wrong_audience() {
    assert_bad(
        evaluate(with(|c| c["aud"] = json!("https://github.com/contoso"))),
        "the aud claim 'https://github.com/contoso' is not the configured audience",
    );
}

#[test]
fn several_audiences() {
    assert_bad(
        evaluate(with(|c| c["aud"] = json!([AUD, "sts.amazonaws.com"]))),
        "exactly one",
    );
}

// --- lifetime ---

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
fn not_yet_valid() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("nbf".into(), json!(NOW + 301));
        })),
        "not valid yet",
    );
}

#[test]
fn issued_in_the_future() {
    assert_bad(
        evaluate(with(|c| c["iat"] = json!(NOW + 301))),
        "issued in the future",
    );
}

#[test]
fn missing_iat() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("iat");
        })),
        "no iat claim",
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
            vec![policy(1, release())],
            config,
        ),
        "the token expired",
    );
}

// --- required claims ---

#[test]
fn missing_jti() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("jti");
        })),
        "no jti claim",
    );
}

#[test]
fn blank_jti() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("jti".into(), json!(""));
        })),
        "jti claim (the token id) is blank",
    );
}

#[test]
fn nbf_past_year_9999() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("nbf".into(), json!(u64::MAX));
        })),
        "nbf claim 18446744073709551615 is out of range",
    );
}

#[test]
fn missing_repository_id() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("repository_id");
        })),
        "no repository_id claim",
    );
}

#[test]
fn numeric_repository_owner_id() {
    assert_bad(
        evaluate(with(|c| c["repository_owner_id"] = json!(4412021))),
        "the repository_owner_id claim is not a string",
    );
}

#[test]
fn missing_job_workflow_ref() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("job_workflow_ref");
        })),
        "no job_workflow_ref claim",
    );
}

#[test]
fn repository_not_under_its_owner() {
    assert_bad(
        evaluate(with(|c| c["repository"] = json!("fabrikam/app"))),
        "the repository claim 'fabrikam/app' is not 'contoso/<name>'",
    );
}

// --- owner and repository ---

#[test]
fn wrong_owner() {
    assert_eq!(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "fabrikam", "repository": "app", "workflow": "release.yml"})
        )]),
        Evaluation::Unauthorized
    );
}

#[test]
fn wrong_repository() {
    assert_eq!(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "contoso", "repository": "app2", "workflow": "release.yml"})
        )]),
        Evaluation::Unauthorized
    );
}

#[test]
fn owner_and_repository_match_case_insensitively() {
    let policies = vec![policy(
        1,
        json!({"owner": "Contoso", "repository": "APP", "workflow": "release.yml"}),
    )];
    assert_matched(
        evaluate_with(
            with(|c| {
                c["repository"] = json!("CONTOSO/App");
                c["repository_owner"] = json!("CONTOSO");
            }),
            policies,
            config(),
        ),
        1,
    );
}

// --- workflow ---

#[test]
fn wrong_workflow() {
    assert_eq!(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "contoso", "repository": "app", "workflow": "ci.yml"})
        )]),
        Evaluation::Unauthorized
    );
}

#[test]
fn workflow_file_name_is_case_sensitive() {
    assert_eq!(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "contoso", "repository": "app", "workflow": "Release.yml"})
        )]),
        Evaluation::Unauthorized
    );
}

#[test]
fn same_workflow_file_name_in_another_repository() {
    // contoso/app's workflow calls a reusable workflow of another repository:
    // `repository` is still contoso/app, but the code that runs is not theirs.
    let t = with(|c| {
        c["job_workflow_ref"] = json!("evil/other/.github/workflows/release.yml@refs/heads/main")
    });
    assert_eq!(evaluate(t), Evaluation::Unauthorized);
}

#[test]
fn workflow_file_whose_name_extends_the_expected_one() {
    let t = with(|c| {
        c["job_workflow_ref"] =
            json!("contoso/app/.github/workflows/release.yml@x.yml@refs/tags/v1.2.0")
    });
    assert_eq!(evaluate(t), Evaluation::Unauthorized);
}

#[test]
fn job_workflow_ref_repository_case_difference_matches() {
    let t = with(|c| {
        c["job_workflow_ref"] = json!("Contoso/App/.github/workflows/release.yml@refs/tags/v1.2.0")
    });
    assert_matched(evaluate(t), 1);
}

#[test]
fn reusable_workflow_of_the_same_repository_at_a_sha() {
    let t = with(|c| {
        c["job_workflow_ref"] = json!(
            "contoso/app/.github/workflows/release.yml@e75edcc5b6cb88fc32f8d65d1da2655576b905ca"
        )
    });
    assert_matched(evaluate(t), 1);
}

// --- environment ---

#[test]
fn environment_required_but_missing() {
    let criteria = json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": "release"});
    assert_eq!(
        evaluate_with(
            with(|c| {
                c.remove("environment");
            }),
            vec![policy(1, criteria)],
            config(),
        ),
        Evaluation::Unauthorized
    );
}

#[test]
fn environment_wrong() {
    let criteria = json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": "production"});
    assert_eq!(
        evaluate_policies(vec![policy(1, criteria)]),
        Evaluation::Unauthorized
    );
}

#[test]
fn environment_matches_case_insensitively() {
    let criteria = json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": "Release"});
    assert_matched(
        evaluate_with(
            with(|c| c["environment"] = json!("RELEASE")),
            vec![policy(1, criteria)],
            config(),
        ),
        1,
    );
}

#[test]
fn no_environment_in_criteria_matches_any() {
    // The valid token runs in `release`; the policy names no environment.
    assert_matched(evaluate_policies(vec![policy(1, release())]), 1);
}

// --- pins ---

#[test]
fn pinned_repository_id_mismatch() {
    let policies = vec![pinned(
        1,
        release(),
        &[("repository_id", "111"), ("repository_owner_id", OWNER_ID)],
    )];
    assert_eq!(evaluate_policies(policies), Evaluation::Unauthorized);
}

#[test]
fn pinned_repository_owner_id_mismatch() {
    let policies = vec![pinned(
        1,
        release(),
        &[("repository_id", REPO_ID), ("repository_owner_id", "222")],
    )];
    assert_eq!(evaluate_policies(policies), Evaluation::Unauthorized);
}

#[test]
fn pins_match() {
    let policies = vec![pinned(
        1,
        release(),
        &[
            ("repository_owner_id", OWNER_ID),
            ("repository_id", REPO_ID),
        ],
    )];
    assert_matched(evaluate_policies(policies), 1);
}

#[test]
fn unknown_pin_fails_closed() {
    let policies = vec![pinned(1, release(), &[("actor_id", "583231")])];
    assert_eq!(evaluate_policies(policies), Evaluation::Unauthorized);
}

// --- configuration ---

#[test]
fn invalid_provider_config_fails_closed() {
    assert_bad(
        evaluate_with(with(|_| {}), vec![policy(1, release())], json!({})),
        "configuration is invalid",
    );
    assert_bad(
        evaluate_with(
            with(|_| {}),
            vec![policy(1, release())],
            json!({"audience": AUD, "enterprise_slugs": ["a/b"]}),
        ),
        "enterprise_slugs",
    );
}

// --- criteria ---

#[test]
fn criteria_are_normalized() {
    let normalized = GitHubActions::check_criteria(
        &json!({"owner": "Contoso", "repository": "My.App_2", "workflow": "Release.yaml", "environment": "PyPI"})
            .to_string(),
    )
    .expect("valid criteria");
    assert_eq!(
        serde_json::from_str::<Value>(&normalized).expect("JSON"),
        json!({"owner": "contoso", "repository": "my.app_2", "workflow": "Release.yaml", "environment": "pypi"})
    );
    let without_environment =
        GitHubActions::check_criteria(&release().to_string()).expect("valid criteria");
    assert!(!without_environment.contains("environment"));
    assert_eq!(
        GitHubActions::check_criteria(&without_environment).as_ref(),
        Ok(&without_environment),
        "normalizing is idempotent"
    );
}

#[test]
fn criteria_reject_anything_else() {
    for (criteria, needle) in [
        (
            json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "branch": "main"}),
            "unknown field `branch`",
        ),
        (
            json!({"owner": "contoso", "repository": "app"}),
            "missing field `workflow`",
        ),
        (
            json!({"owner": "contoso", "repository": "contoso/app", "workflow": "release.yml"}),
            "put its owner in \"owner\"",
        ),
        (
            json!({"owner": "contoso", "repository": "app", "workflow": "release.json"}),
            "ending in .yml or .yaml",
        ),
        (
            json!({"owner": "contoso", "repository": "app", "workflow": ".github/workflows/release.yml"}),
            "contains '/'",
        ),
        (
            json!({"owner": "contoso", "repository": "app", "workflow": ".yml"}),
            "ending in .yml or .yaml",
        ),
        (
            json!({"owner": "contoso_corp", "repository": "app", "workflow": "release.yml"}),
            "criteria owner 'contoso_corp'",
        ),
        (
            json!({"owner": "contoso", "repository": "..", "workflow": "release.yml"}),
            "criteria repository '..'",
        ),
        (
            json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": ""}),
            "environment is empty",
        ),
        (json!(["contoso", "app", "release.yml"]), "another type"),
    ] {
        let err =
            GitHubActions::check_criteria(&criteria.to_string()).expect_err("invalid criteria");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn unparsable_criteria_never_match() {
    let policies = vec![
        policy(
            1,
            json!({"owner": "contoso", "repository": "contoso/app", "workflow": "release.yml"}),
        ),
        policy(2, release()),
    ];
    assert_matched(evaluate_policies(policies), 2);
}

#[test]
fn info_declares_issuers_and_pins() {
    let info = GitHubActions::info();
    assert_eq!(info.name, "github-actions");
    assert_eq!(
        info.issuers,
        vec![
            "https://token.actions.githubusercontent.com".to_string(),
            "https://token.actions.githubusercontent.com/{slug}".to_string(),
        ]
    );
    assert_eq!(info.pins, vec!["repository_owner_id", "repository_id"]);
    serde_json::from_str::<Value>(&info.criteria_schema).expect("schema is JSON");
}

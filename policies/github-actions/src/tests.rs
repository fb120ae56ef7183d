//! One test per check: each token differs from a valid one in exactly one
//! way. Every exchange runs as the host runs it: validate, then match.

use serde_json::{Value, json};
use trustpub_guest::testing::{FakeVerifier, Outcome, candidate, exchange, token};
use trustpub_guest::{Candidate, Evaluator};

use crate::GitHubActions;

const ISS: &str = "https://token.actions.githubusercontent.com";
const AUD: &str = "https://registry.example";
const OWNER_ID: &str = "4412021";
const REPO_ID: &str = "678901234";
const NOW: u64 = 1_800_000_000;

/// `check-criteria` under the plain provider config of these tests.
fn check(criteria: &str) -> Result<trustpub_guest::CheckedCriteria, String> {
    GitHubActions::check_criteria(criteria, &json!({"audience": AUD}).to_string())
}

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

fn policy(id: u64, criteria: Value) -> Candidate {
    candidate(id, &criteria, &[])
}

fn pinned(id: u64, criteria: Value, pins: &[(&str, &str)]) -> Candidate {
    candidate(id, &criteria, pins)
}

fn release() -> Value {
    json!({"owner": "contoso", "repository": "app", "workflow": "release.yml"})
}

fn config() -> Value {
    json!({"audience": AUD, "clock_skew_seconds": 300})
}

fn evaluate_with(token: String, policies: Vec<Candidate>, config: Value) -> Outcome {
    evaluate_verified(&FakeVerifier::new(), token, policies, config)
}

fn evaluate_verified(
    verifier: &FakeVerifier,
    token: String,
    policies: Vec<Candidate>,
    config: Value,
) -> Outcome {
    exchange::<GitHubActions>(verifier, &token, &config.to_string(), NOW, &policies)
}

fn evaluate(token: String) -> Outcome {
    evaluate_with(token, vec![policy(1, release())], config())
}

/// The valid token against the given policies.
fn evaluate_policies(policies: Vec<Candidate>) -> Outcome {
    evaluate_with(with(|_| {}), policies, config())
}

#[track_caller]
fn assert_bad(result: Outcome, check: &str, needle: &str) {
    result.assert_bad(check, needle);
}

#[track_caller]
fn assert_matched(result: Outcome, policy_id: u64) {
    result.assert_matched(policy_id);
}

/// A valid token that no candidate trusts, with one near miss mentioning `needle`.
#[track_caller]
fn assert_unauthorized(result: Outcome, needle: &str) {
    result.assert_near_miss(needle);
}

// --- a valid token ---

#[test]
fn valid_token_matches() {
    let (facts, m) = evaluate(with(|_| {})).matched();
    assert_eq!(m.policy_id, 1);
    assert_eq!(facts.issuer, ISS);
    assert_eq!(facts.token_id, "3fb4ff7d-3582-4a13-b419-5727d5d94efa");
    assert_eq!(facts.subject, "repo:contoso/app:environment:release");
    assert_eq!(facts.expires_at, NOW + 240);
    assert_eq!(facts.accepted_until, NOW + 240 + 300);
    assert_eq!(facts.lookup_keys, vec!["contoso/app"]);
}

#[test]
fn returned_pins_are_the_tokens_ids() {
    let (_, m) = evaluate(with(|_| {})).matched();
    assert_eq!(
        m.pins,
        vec![
            ("repository_id".to_string(), REPO_ID.to_string()),
            ("repository_owner_id".to_string(), OWNER_ID.to_string()),
        ]
    );
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
    assert!(evaluate_policies(vec![]).near_misses().is_empty());
}

#[test]
fn token_is_validated_before_policies_even_with_none() {
    let bad = with(|c| c["aud"] = json!("https://other.example"));
    assert_bad(evaluate_with(bad, vec![], config()), "audience", "aud");
}

#[test]
fn lookup_key_is_the_lowercase_repository() {
    let t = with(|c| {
        c["repository"] = json!("CONTOSO/App");
        c["repository_owner"] = json!("CONTOSO");
    });
    match evaluate(t) {
        Outcome::Matched(facts, _) => assert_eq!(facts.lookup_keys, vec!["contoso/app"]),
        other => panic!("expected matched, got {other:?}"),
    }
    let checked = check(
        &json!({"owner": "Contoso", "repository": "APP", "workflow": "release.yml"}).to_string(),
    )
    .expect("valid criteria");
    assert_eq!(checked.index_keys, vec!["contoso/app"]);
}

// --- issuer ---

#[test]
fn wrong_issuer() {
    let verifier = FakeVerifier::new();
    let token = with(|c| c["iss"] = json!("https://gitlab.com"));
    assert_bad(
        evaluate_verified(&verifier, token, vec![policy(1, release())], config()),
        "issuer",
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
        "issuer",
        "is not a GitHub Actions issuer",
    );
}

#[test]
fn enterprise_issuer_not_configured() {
    let verifier = FakeVerifier::new();
    let token = with(|c| c["iss"] = json!(format!("{ISS}/contoso-corp")));
    let config = json!({"audience": AUD, "enterprise_slugs": ["fabrikam"]});
    assert_bad(
        evaluate_verified(&verifier, token, vec![policy(1, release())], config),
        "issuer",
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
    let token = with(|c| c["iss"] = json!(enterprise_iss));
    let config = json!({"audience": AUD, "enterprise_slugs": ["contoso-corp"]});
    let (facts, _) =
        evaluate_verified(&verifier, token, vec![policy(1, release())], config).matched();
    assert_eq!(facts.issuer, enterprise_iss);
    assert_eq!(
        verifier.calls(),
        vec![enterprise_iss],
        "verified with the enterprise issuer's keys"
    );
}

#[test]
fn enterprise_issuer_listed_in_the_standard_issuers_matches() {
    let enterprise_iss = format!("{ISS}/contoso-corp");
    let token = with(|c| c["iss"] = json!(enterprise_iss));
    let config = json!({"audience": AUD, "issuers": [enterprise_iss]});
    assert_matched(evaluate_with(token, vec![policy(1, release())], config), 1);
}

#[test]
fn missing_issuer() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("iss");
        })),
        "issuer",
        "no iss claim",
    );
}

// --- signature and shape ---

#[test]
fn bad_signature() {
    let t = with(|_| {});
    let tampered = format!("{}xyz", &t[..t.rfind('.').expect("dot") + 1]);
    assert_bad(evaluate(tampered), "signature", "signature is not valid");
}

#[test]
fn malformed_token() {
    assert_bad(evaluate("only.two".into()), "malformed", "not a JWT");
    assert_bad(
        evaluate("%%%.e30.c2ln".into()),
        "malformed",
        "header is not valid base64url",
    );
}

// --- audience ---

#[test]
fn wrong_audience() {
    assert_bad(
        evaluate(with(|c| c["aud"] = json!("https://github.com/contoso"))),
        "audience",
        "the aud claim 'https://github.com/contoso' is not the configured audience",
    );
}

#[test]
fn several_audiences() {
    assert_bad(
        evaluate(with(|c| c["aud"] = json!([AUD, "sts.amazonaws.com"]))),
        "audience",
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
        "lifetime",
        "the token expired",
    );
}

#[test]
fn not_yet_valid() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("nbf".into(), json!(NOW + 301));
        })),
        "lifetime",
        "not valid yet",
    );
}

#[test]
fn issued_in_the_future() {
    assert_bad(
        evaluate(with(|c| c["iat"] = json!(NOW + 301))),
        "lifetime",
        "issued in the future",
    );
}

#[test]
fn missing_iat() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("iat");
        })),
        "lifetime",
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
        "lifetime",
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
        "token-id",
        "no jti claim",
    );
}

#[test]
fn blank_jti() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("jti".into(), json!(""));
        })),
        "token-id",
        "jti claim (the token id) is blank",
    );
}

#[test]
fn nbf_past_year_9999() {
    assert_bad(
        evaluate(with(|c| {
            c.insert("nbf".into(), json!(u64::MAX));
        })),
        "lifetime",
        "nbf claim 18446744073709551615 is out of range",
    );
}

#[test]
fn missing_repository_id() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("repository_id");
        })),
        "claims",
        "no repository_id claim",
    );
}

#[test]
fn numeric_repository_owner_id() {
    assert_bad(
        evaluate(with(|c| c["repository_owner_id"] = json!(4412021))),
        "claims",
        "the repository_owner_id claim is not a string",
    );
}

#[test]
fn repository_id_not_decimal() {
    assert_bad(
        evaluate(with(|c| c["repository_id"] = json!("R_kgDO"))),
        "claims",
        "the repository_id claim 'R_kgDO' is not a decimal id",
    );
}

#[test]
fn missing_job_workflow_ref() {
    assert_bad(
        evaluate(with(|c| {
            c.remove("job_workflow_ref");
        })),
        "claims",
        "no job_workflow_ref claim",
    );
}

#[test]
fn repository_not_under_its_owner() {
    assert_bad(
        evaluate(with(|c| c["repository"] = json!("fabrikam/app"))),
        "repository",
        "the repository claim 'fabrikam/app' is not 'contoso/<name>'",
    );
}

// --- owner and repository ---

#[test]
fn wrong_owner() {
    assert_unauthorized(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "fabrikam", "repository": "app", "workflow": "release.yml"}),
        )]),
        "repository is contoso/app, the policy wants fabrikam/app",
    );
}

#[test]
fn wrong_repository() {
    assert_unauthorized(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "contoso", "repository": "app2", "workflow": "release.yml"}),
        )]),
        "the policy wants contoso/app2",
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
    assert_unauthorized(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "contoso", "repository": "app", "workflow": "ci.yml"}),
        )]),
        "workflow is release.yml, the policy wants ci.yml",
    );
}

#[test]
fn workflow_file_name_is_case_sensitive() {
    assert_unauthorized(
        evaluate_policies(vec![policy(
            1,
            json!({"owner": "contoso", "repository": "app", "workflow": "Release.yml"}),
        )]),
        "the policy wants Release.yml",
    );
}

#[test]
fn same_workflow_file_name_in_another_repository() {
    // contoso/app's workflow calls a reusable workflow of another repository:
    // `repository` is still contoso/app, but the code that runs is not theirs.
    let t = with(|c| {
        c["job_workflow_ref"] = json!("evil/other/.github/workflows/release.yml@refs/heads/main")
    });
    assert_unauthorized(evaluate(t), "not a workflow file of contoso/app");
}

#[test]
fn workflow_file_whose_name_extends_the_expected_one() {
    let t = with(|c| {
        c["job_workflow_ref"] =
            json!("contoso/app/.github/workflows/release.yml@x.yml@refs/tags/v1.2.0")
    });
    assert_unauthorized(evaluate(t), "workflow is release.yml@x.yml");
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
    assert_unauthorized(
        evaluate_with(
            with(|c| {
                c.remove("environment");
            }),
            vec![policy(1, criteria)],
            config(),
        ),
        "environment is unset, the policy wants release",
    );
}

#[test]
fn environment_wrong() {
    let criteria = json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": "production"});
    assert_unauthorized(
        evaluate_policies(vec![policy(1, criteria)]),
        "environment is release, the policy wants production",
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
    assert_unauthorized(
        evaluate_policies(policies),
        "repository_id is 678901234, the policy is pinned to 111",
    );
}

#[test]
fn pinned_repository_owner_id_mismatch() {
    let policies = vec![pinned(
        1,
        release(),
        &[("repository_id", REPO_ID), ("repository_owner_id", "222")],
    )];
    assert_unauthorized(
        evaluate_policies(policies),
        "repository_owner_id is 4412021, the policy is pinned to 222",
    );
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
    assert_unauthorized(evaluate_policies(policies), "actor_id");
}

#[test]
fn pins_are_checked_before_the_criteria() {
    let criteria = json!({"owner": "contoso", "repository": "app", "workflow": "ci.yml"});
    let policies = vec![pinned(1, criteria, &[("repository_id", "111")])];
    assert_unauthorized(evaluate_policies(policies), "pinned to 111");
}

// --- configuration ---

#[test]
fn invalid_provider_config_fails_closed() {
    assert_bad(
        evaluate_with(with(|_| {}), vec![policy(1, release())], json!({})),
        "config",
        "configuration is invalid",
    );
    assert_bad(
        evaluate_with(
            with(|_| {}),
            vec![policy(1, release())],
            json!({"audience": AUD, "enterprise_slugs": ["a/b"]}),
        ),
        "config",
        "enterprise_slugs",
    );
}

// --- criteria ---

#[test]
fn criteria_are_normalized() {
    let normalized = check(
        &json!({"owner": "Contoso", "repository": "My.App_2", "workflow": "Release.yaml", "environment": "PyPI"})
            .to_string(),
    )
    .expect("valid criteria");
    assert_eq!(
        serde_json::from_str::<Value>(&normalized.criteria).expect("JSON"),
        json!({"owner": "contoso", "repository": "my.app_2", "workflow": "Release.yaml", "environment": "pypi"})
    );
    assert_eq!(normalized.index_keys, vec!["contoso/my.app_2"]);
    let without_environment = check(&release().to_string()).expect("valid criteria");
    assert!(!without_environment.criteria.contains("environment"));
    assert_eq!(
        check(&without_environment.criteria).as_ref(),
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
        let err = check(&criteria.to_string()).expect_err("invalid criteria");
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
    assert_matched(evaluate_policies(policies.clone()), 2);
    assert_unauthorized(
        evaluate_policies(policies[..1].to_vec()),
        "the policy's criteria do not parse",
    );
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
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert!(!info.index_key.is_empty());
    serde_json::from_str::<Value>(&info.criteria_schema).expect("schema is JSON");
}

#[test]
fn case_tables_pass_natively() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let report =
        trustpub_guest::cases::run_native_dir::<GitHubActions>(&dir).expect("case files load");
    assert!(
        report.failures.is_empty(),
        "failures:\n{}",
        report.failures.join("\n")
    );
    assert!(report.passed >= 40, "only {} cases", report.passed);
}

// --- event ---

#[test]
fn refused_events_by_default() {
    for event in ["pull_request_target", "workflow_run"] {
        assert_bad(
            evaluate(with(|c| c["event_name"] = json!(event))),
            "event",
            &format!("the event_name claim '{event}' is refused by this registry"),
        );
    }
    assert_bad(
        evaluate(with(|c| {
            c.remove("event_name");
        })),
        "claims",
        "no event_name claim",
    );
}

#[test]
fn refused_events_are_configurable() {
    let config = json!({"audience": AUD, "refused_events": ["push"]});
    assert_bad(
        evaluate_with(with(|_| {}), vec![policy(1, release())], config.clone()),
        "event",
        "'push' is refused",
    );
    let prt = with(|c| c["event_name"] = json!("pull_request_target"));
    assert_matched(evaluate_with(prt, vec![policy(1, release())], config), 1);
    let bad = json!({"audience": AUD, "refused_events": ["push "]});
    assert_bad(
        evaluate_with(with(|_| {}), vec![policy(1, release())], bad),
        "config",
        "refused_events",
    );
}

// --- environment names: ASCII case only ---

#[test]
fn environment_with_a_kelvin_sign_is_not_keys() {
    let criteria = json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": "keys"});
    // U+212A KELVIN SIGN lowercases to an ASCII 'k' under Unicode rules.
    assert_eq!("\u{212A}eys".to_lowercase(), "keys");
    assert_unauthorized(
        evaluate_with(
            with(|c| c["environment"] = json!("\u{212A}eys")),
            vec![policy(1, criteria.clone())],
            config(),
        ),
        "the policy wants keys",
    );
    assert_matched(
        evaluate_with(
            with(|c| c["environment"] = json!("KEYS")),
            vec![policy(1, criteria)],
            config(),
        ),
        1,
    );
}

// --- reusable workflows of another repository ---

fn shared() -> Value {
    json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "workflow_repository": "Octo-Org/Shared"})
}

const SHARED_JOB: &str = "octo-org/shared/.github/workflows/publish.yml@refs/heads/main";

#[test]
fn reusable_workflow_of_the_named_repository() {
    let token = with(|c| c["job_workflow_ref"] = json!(SHARED_JOB));
    assert_matched(evaluate_with(token, vec![policy(1, shared())], config()), 1);
    let checked = check(&shared().to_string()).expect("valid criteria");
    assert!(
        checked
            .criteria
            .contains(r#""workflow_repository":"octo-org/shared""#)
    );
    assert_eq!(checked.index_keys, vec!["contoso/app"]);
}

#[test]
fn reusable_workflow_checks_the_caller_and_the_callee() {
    let caller = with(|c| {
        c["job_workflow_ref"] = json!(SHARED_JOB);
        c["workflow_ref"] = json!("contoso/app/.github/workflows/ci.yml@refs/heads/main");
    });
    assert_unauthorized(
        evaluate_with(caller, vec![policy(1, shared())], config()),
        "calling workflow is ci.yml, the policy wants release.yml",
    );
    let callee = with(|c| {
        c["job_workflow_ref"] = json!("evil/other/.github/workflows/publish.yml@refs/heads/main")
    });
    assert_unauthorized(
        evaluate_with(callee, vec![policy(1, shared())], config()),
        "not a workflow file of octo-org/shared",
    );
    // Without workflow_repository, today's same-repository rule holds.
    let token = with(|c| c["job_workflow_ref"] = json!(SHARED_JOB));
    assert_unauthorized(
        evaluate_with(token, vec![policy(1, release())], config()),
        "not a workflow file of contoso/app",
    );
}

#[test]
fn workflow_repository_must_be_owner_and_name() {
    for (value, needle) in [
        ("shared", "is not owner/repository"),
        ("octo_org/shared", "criteria workflow_repository 'octo_org'"),
        ("octo-org/a/b", "criteria workflow_repository 'a/b'"),
        ("octo-org/", "criteria workflow_repository ''"),
    ] {
        let mut criteria = release();
        criteria["workflow_repository"] = json!(value);
        let err = check(&criteria.to_string()).expect_err(value);
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn the_sample_claims_are_a_valid_token() {
    let criteria = json!({"owner": "contoso", "repository": "app", "workflow": "release.yml", "environment": "release"});
    let sample = include_str!("../sample-claims.json");
    trustpub_guest::testing::sample_exchange::<GitHubActions>(sample, json!({}), &criteria)
        .assert_matched(1);
}

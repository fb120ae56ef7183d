//! One token per check, each differing from the sample token in exactly one
//! way; near misses, matches and criteria, each exchange run as the host
//! runs it (validate, then match).

use std::path::Path;

use serde_json::{Map, Value, json};
use trustpub_guest::cases::assert_native_dir;
use trustpub_guest::testing::{
    FakeVerifier, Outcome, assert_info, candidate, exchange, sample_exchange, token,
};
use trustpub_guest::{Candidate, Evaluator};

use crate::Component;

const NOW: u64 = 1_800_000_000;
const ORG: &str = "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e";
const PROJECT: &str = "3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c";
const CONTEXT: &str = "7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d";
const JOB: &str = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9";
const OTHER: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";

type Edit = fn(&mut Map<String, Value>);

/// `sample-claims.json`, issued a minute before `NOW`, changed by `edit`.
fn sample(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims: Map<String, Value> =
        serde_json::from_str(include_str!("../sample-claims.json")).expect("sample claims");
    claims.insert("iat".into(), json!(NOW - 60));
    claims.insert("exp".into(), json!(NOW + 3540));
    edit(&mut claims);
    token(
        &json!({"alg": "RS256", "kid": "c1"}),
        &Value::Object(claims),
    )
}

fn exchange_with(config: Value, t: &str, policies: &[Candidate]) -> Outcome {
    exchange::<Component>(&FakeVerifier::new(), t, &config.to_string(), NOW, policies)
}

/// The org's default audience, as a registry accepting default tokens configures it.
fn evaluate(edit: impl FnOnce(&mut Map<String, Value>), policies: &[Candidate]) -> Outcome {
    exchange_with(json!({"audience": ORG}), &sample(edit), policies)
}

/// The project's policy with `more` criteria.
fn project(id: u64, more: Value) -> Candidate {
    let mut criteria = json!({"organization_id": ORG, "project_id": PROJECT});
    if let (Some(c), Value::Object(more)) = (criteria.as_object_mut(), more) {
        c.extend(more);
    }
    candidate(id, &criteria, &[])
}

fn checked(criteria: Value) -> Result<trustpub_guest::CheckedCriteria, String> {
    Component::check_criteria(&criteria.to_string(), &json!({"audience": ORG}).to_string())
}

#[test]
fn the_sample_token_matches_its_project() {
    let (facts, matched) = evaluate(|_| {}, &[project(4, json!({}))]).matched();
    assert_eq!(
        (matched.policy_id, matched.pins.len()),
        (4, 0),
        "ids are not pinned"
    );
    assert_eq!(facts.lookup_keys, vec![format!("{ORG}/{PROJECT}")]);
    assert_eq!(facts.token_id, format!("{JOB}@{}", NOW - 60));
    assert_eq!(facts.issuer, format!("https://oidc.circleci.com/org/{ORG}"));
    assert!(
        facts
            .subject
            .starts_with(&format!("org/{ORG}/project/{PROJECT}/user/"))
    );
}

#[test]
fn without_a_job_id_the_subject_and_iat_are_the_token_id() {
    let outcome = evaluate(|c| _ = c.remove("oidc.circleci.com/job-id"), &[]);
    let Outcome::Unauthorized(facts, _) = outcome else {
        panic!("expected a valid token, got {outcome:?}")
    };
    assert!(facts.token_id.starts_with(&format!("org/{ORG}/project/")));
    assert!(facts.token_id.ends_with(&format!("@{}", NOW - 60)));
}

#[test]
fn every_check_has_a_token_failing_it_alone() {
    let not_an_org = "https://oidc.circleci.com/org/contoso";
    let project_id = "oidc.circleci.com/project-id";
    let contexts = "oidc.circleci.com/context-ids";
    let rerun = "oidc.circleci.com/ssh-rerun";
    for (name, bad, check, needle) in [
        (
            "iss",
            json!(not_an_org),
            "issuer",
            "does not end in a CircleCI organization id",
        ),
        (
            "iss",
            json!("https://circleci.com/org/x"),
            "issuer",
            "not a CircleCI organization issuer",
        ),
        (
            "aud",
            json!(OTHER),
            "audience",
            "is not the configured audience",
        ),
        ("exp", json!(NOW - 400), "lifetime", "expired"),
        ("nbf", json!(NOW + 400), "lifetime", "not valid yet"),
        (
            "oidc.circleci.com/job-id",
            json!(""),
            "token-id",
            "job-id claim (the token id) is blank",
        ),
        (
            project_id,
            Value::Null,
            "claims",
            "no oidc.circleci.com/project-id claim",
        ),
        (
            contexts,
            json!("x"),
            "claims",
            "context-ids claim is invalid",
        ),
        (rerun, json!("yes"), "claims", "ssh-rerun claim is invalid"),
        (
            rerun,
            json!(true),
            "ssh-rerun",
            "the job was rerun with SSH",
        ),
    ] {
        let edit = move |c: &mut Map<String, Value>| {
            c.remove(name);
            if !bad.is_null() {
                c.insert(name.into(), bad);
            }
        };
        evaluate(edit, &[project(1, json!({}))]).assert_bad(check, needle);
    }
    let t = sample(|_| {});
    exchange_with(json!({"audience": ORG, "orgs": []}), &t, &[])
        .assert_bad("config", "unknown field `orgs`");
    exchange_with(json!({"audience": ORG}), "a.b", &[]).assert_bad("malformed", "not a JWT");
    let forged = format!("{}.Zm9yZ2Vk", t.rsplit_once('.').expect("a JWS").0);
    exchange_with(json!({"audience": ORG}), &forged, &[]).assert_bad("signature", "not valid");
}

#[test]
fn a_custom_audience_and_no_optional_claims() {
    let token = sample(|c| {
        c.insert("aud".into(), json!("https://registry.example"));
        for name in ["vcs-origin", "vcs-ref", "context-ids", "ssh-rerun"] {
            c.remove(&format!("oidc.circleci.com/{name}"));
        }
    });
    exchange_with(
        json!({"audience": "https://registry.example"}),
        &token,
        &[project(1, json!({}))],
    )
    .assert_matched(1);
}

#[test]
fn near_misses_say_what_differs() {
    let misses: [(Edit, Value, String); 6] = [
        (
            |_| {},
            json!({"project_id": OTHER}),
            format!("project is {ORG}/{PROJECT}, the policy wants {ORG}/{OTHER}"),
        ),
        (
            |_| {},
            json!({"context_id": OTHER}),
            format!("contexts are [{CONTEXT}], the policy wants {OTHER}"),
        ),
        (
            |c| _ = c.remove("oidc.circleci.com/context-ids"),
            json!({"context_id": CONTEXT}),
            format!("contexts are [], the policy wants {CONTEXT}"),
        ),
        (
            |c| {
                _ = c.insert(
                    "oidc.circleci.com/vcs-origin".into(),
                    json!("github.com/forker/app"),
                )
            },
            json!({"vcs_origin": "github.com/contoso/app"}),
            "vcs-origin is github.com/forker/app, the policy wants github.com/contoso/app".into(),
        ),
        (
            |_| {},
            json!({"vcs_ref": "refs/tags/v1"}),
            "vcs-ref is refs/heads/main, the policy wants refs/tags/v1".into(),
        ),
        (
            |c| _ = c.remove("oidc.circleci.com/vcs-ref"),
            json!({"vcs_ref": "refs/heads/main"}),
            "vcs-ref is unset".into(),
        ),
    ];
    for (edit, more, needle) in misses {
        evaluate(edit, &[project(1, more)]).assert_near_miss(&needle);
    }
    let all = json!({"context_id": CONTEXT.to_uppercase(), "vcs_origin": "https://GitHub.com/Contoso/App", "vcs_ref": "refs/heads/main"});
    evaluate(
        |_| {},
        &[
            project(2, json!({"vcs_ref": "refs/heads/dev"})),
            project(3, all),
        ],
    )
    .assert_matched(3);
}

#[test]
fn criteria_are_normalized_and_checked() {
    let written = json!({"organization_id": ORG.to_uppercase(), "project_id": PROJECT, "vcs_origin": "https://GitHub.com/Contoso/App"});
    let ok = checked(written).expect("valid");
    let expected = json!({"organization_id": ORG, "project_id": PROJECT, "vcs_origin": "github.com/contoso/app"});
    assert_eq!(
        serde_json::from_str::<Value>(&ok.criteria).expect("JSON"),
        expected
    );
    assert_eq!(ok.index_keys, vec![format!("{ORG}/{PROJECT}")]);
    assert_eq!(checked(expected).as_ref(), Ok(&ok), "idempotent");
    for (criteria, needle) in [
        (
            json!({"project_id": PROJECT}),
            "missing field `organization_id`",
        ),
        (
            json!({"organization_id": ORG, "project_id": "app"}),
            "criteria project_id 'app' is not a GUID",
        ),
        (
            json!({"organization_id": ORG, "project_id": PROJECT, "vcs_ref": "main"}),
            "criteria vcs_ref 'main' is not a ref",
        ),
        (
            json!({"organization_id": ORG, "project_id": PROJECT, "vcs_origin": "contoso"}),
            "is not a repository",
        ),
        (
            json!({"organization_id": ORG, "project_id": PROJECT, "context_ids": [CONTEXT]}),
            "unknown field `context_ids`",
        ),
    ] {
        let err = checked(criteria).expect_err("invalid");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn info_and_the_sample_token() {
    assert_info::<Component>("circleci", &[crate::ISSUER_PATTERN], &[]);
    let sample = include_str!("../sample-claims.json");
    let criteria = json!({"organization_id": ORG, "project_id": PROJECT, "context_id": CONTEXT, "vcs_ref": "refs/heads/main"});
    sample_exchange::<Component>(sample, json!({}), &criteria).assert_matched(1);
}

#[test]
fn case_tables_pass_natively() {
    assert_native_dir::<Component>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), 42);
}

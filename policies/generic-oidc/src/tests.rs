//! The case tables (`../cases`) hold the verdicts; these check what they cannot:
//! `check-criteria` under the operator's config.

use std::path::Path;

use serde_json::{Value, json};
use trustpub_guest::Evaluator;
use trustpub_guest::cases::assert_native_dir;
use trustpub_guest::testing::{assert_info, sample_exchange};

use crate::GenericOidc;

fn config() -> Value {
    json!({"audience": "https://www.nuget.org", "issuers": ["https://oidc.ci.contoso.example"],
           "claims": ["sub", "repository", "repository_id", "ref"], "immutable_claims": ["repository_id"]})
}

fn check(criteria: Value) -> Result<trustpub_guest::CheckedCriteria, String> {
    GenericOidc::check_criteria(&criteria.to_string(), &config().to_string())
}

#[test]
fn info_declares_issuers_and_pins() {
    assert_info::<GenericOidc>("generic-oidc", &[], &[]);
}

#[test]
fn criteria_keep_sub_and_conditions_as_written() {
    let criteria = json!({"sub": "repo:contoso/app:ref:refs/heads/main", "conditions": {"ref": "refs/heads/*", "repository_id": "678901234"}});
    let checked = check(criteria.clone()).expect("valid");
    assert_eq!(
        checked.index_keys,
        vec!["repo:contoso/app:ref:refs/heads/main"]
    );
    assert_eq!(
        serde_json::from_str::<Value>(&checked.criteria).expect("JSON"),
        criteria
    );
}

#[test]
fn criteria_refuse_what_the_operator_or_the_syntax_does_not_allow() {
    let sub = "repo:contoso/app:ref:refs/heads/main";
    for (criteria, needle) in [
        (
            json!({"sub": sub, "conditions": {"repository_id": "1", "actor": "octocat"}}),
            "condition on 'actor': this registry lets policies constrain sub and sub, repository, repository_id, ref",
        ),
        (
            json!({"sub": sub}),
            "must state the immutable claim 'repository_id' exactly",
        ),
        (
            json!({"sub": sub, "conditions": {"repository_id": "*"}}),
            "'*' stands for one whole path segment",
        ),
        (
            json!({"sub": sub, "conditions": {"repository_id": "1", "ref": "refs/heads/rel*"}}),
            "'*' stands for one whole path segment",
        ),
        (
            json!({"sub": sub, "conditions": {"repository_id": "1", "ref": ""}}),
            "something else must be named",
        ),
        (
            json!({"sub": sub, "conditions": {"repository_id": "1", "ref": "*/*"}}),
            "something else must be named",
        ),
        (
            json!({"sub": "repo:contoso/*:ref:refs/heads/main", "conditions": {"repository_id": "1"}}),
            "sub is exact",
        ),
        (
            json!({"sub": sub, "conditions": {"repository_id": "1", "aud": "x"}}),
            "registered claim",
        ),
        (
            json!({"sub": sub, "conditions": {"repository_id": "1", "sub": "x"}}),
            "registered claim",
        ),
        (
            json!({"sub": sub, "conditions": {"repository_id": 1}}),
            "criteria conditions is invalid",
        ),
        (
            json!({"sub": sub, "regex": "^repo:"}),
            "unknown field `regex`",
        ),
    ] {
        let err = check(criteria.clone()).expect_err(&criteria.to_string());
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn the_sample_claims_are_a_valid_token() {
    let criteria = json!({"sub": "repo:contoso/app:ref:refs/heads/main", "conditions": {"repository_id": "678901234"}});
    let sample = include_str!("../sample-claims.json");
    sample_exchange::<GenericOidc>(sample, config(), &criteria).assert_matched(1);
}

#[test]
fn case_tables_pass_natively() {
    assert_native_dir::<GenericOidc>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), 19);
}

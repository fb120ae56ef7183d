//! The case tables (`../cases`) hold the verdicts; these check what they cannot.

use std::path::Path;

use serde_json::{Value, json};
use trustpub_guest::Evaluator;
use trustpub_guest::cases::assert_native_dir;
use trustpub_guest::testing::{assert_info, sample_exchange};

use crate::GitLab;

fn check(criteria: Value) -> Result<trustpub_guest::CheckedCriteria, String> {
    GitLab::check_criteria(
        &criteria.to_string(),
        r#"{"audience": "https://registry.example"}"#,
    )
}

#[test]
fn info_declares_issuers_and_pins() {
    assert_info::<GitLab>(
        "gitlab",
        &["https://gitlab.com"],
        &["namespace_id", "project_id"],
    );
}

#[test]
fn criteria_are_normalized() {
    let checked = check(json!({"namespace": "Contoso/Tools", "project": "App", "ci_config_path": "CI/Release.yml", "ref": "Main", "environment": "Prod"}))
        .expect("valid");
    assert_eq!(checked.index_keys, vec!["contoso/tools/app"]);
    assert_eq!(
        serde_json::from_str::<Value>(&checked.criteria).expect("JSON"),
        json!({"namespace": "contoso/tools", "project": "app", "ci_config_path": "CI/Release.yml", "ref": "Main", "environment": "Prod"})
    );
    assert_eq!(
        check(serde_json::from_str(&checked.criteria).expect("JSON")),
        Ok(checked)
    );
}

#[test]
fn criteria_refuse_anything_else() {
    let base = json!({"namespace": "contoso", "project": "app"});
    for (key, value, needle) in [
        ("project", "tools/app", "put its group in \"namespace\""),
        (
            "namespace",
            "contoso//tools",
            "criteria namespace 'contoso//tools'",
        ),
        ("namespace", "", "namespace is empty"),
        (
            "ci_config_path",
            "/.gitlab-ci.yml",
            "is not a YAML file's path",
        ),
        ("ci_config_path", "ci/../x.yml", "is not a YAML file's path"),
        ("ci_config_path", "a.yml@b.yml", "is not a YAML file's path"),
        ("ci_config_path", "Makefile", "is not a YAML file's path"),
        ("ref", "refs/heads/main", "give the branch name alone"),
        ("branch", "main", "unknown field `branch`"),
    ] {
        let mut criteria = base.clone();
        criteria[key] = json!(value);
        let err = check(criteria).expect_err(value);
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
}

#[test]
fn the_sample_claims_are_a_valid_token() {
    let criteria = json!({"namespace": "contoso/tools", "project": "app", "ci_config_path": ".gitlab-ci.yml", "environment": "release"});
    let sample = include_str!("../sample-claims.json");
    sample_exchange::<GitLab>(sample, json!({}), &criteria).assert_matched(1);
}

#[test]
fn case_tables_pass_natively() {
    assert_native_dir::<GitLab>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), 30);
}

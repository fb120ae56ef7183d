//! The case tables (`../cases`) hold the verdicts; these check what they cannot.

use std::path::Path;

use trustpub_guest::Evaluator;
use trustpub_guest::cases::assert_native_dir;
use trustpub_guest::testing::{assert_info, sample_exchange};

use crate::ForgejoActions;

#[test]
fn info_declares_issuers_and_pins() {
    assert_info::<ForgejoActions>(
        "forgejo-actions",
        &["https://codeberg.org/api/actions"],
        &["repository_owner_id", "repository_id"],
    );
}

#[test]
fn criteria_name_forgejo_and_its_directories() {
    let config = r#"{"audience": "https://registry.example"}"#;
    let check = |c: &str| ForgejoActions::check_criteria(c, config);
    let ok = check(r#"{"owner": "Contoso_Corp", "repository": "App", "workflow": "release.yml"}"#);
    assert_eq!(ok.expect("valid").index_keys, vec!["contoso_corp/app"]);
    let err = check(r#"{"owner": "contoso", "repository": "app", "workflow": "a/release.yml"}"#);
    assert!(
        err.expect_err("a path")
            .contains(".forgejo/workflows/ or .github/workflows/")
    );
}

#[test]
fn the_sample_claims_are_a_valid_token() {
    let criteria =
        serde_json::json!({"owner": "contoso", "repository": "app", "workflow": "release.yml"});
    let sample = include_str!("../sample-claims.json");
    sample_exchange::<ForgejoActions>(sample, serde_json::json!({}), &criteria).assert_matched(1);
}

#[test]
fn case_tables_pass_natively() {
    assert_native_dir::<ForgejoActions>(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cases"), 20);
}

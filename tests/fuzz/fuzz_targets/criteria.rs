//! Criteria parsing of the shipped evaluators: arbitrary JSON never panics,
//! and what is accepted comes back normalized — checking the normalized
//! form again gives the same form and the same index keys, of which there is
//! at least one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustpub_entra_id::EntraId;
use trustpub_github_actions::GitHubActions;
use trustpub_guest::Evaluator;

/// A provider config both evaluators accept.
const CONFIG: &str = r#"{"audience": "https://registry.example"}"#;

fn idempotent<E: Evaluator>(criteria: &str) {
    if let Ok(checked) = E::check_criteria(criteria, CONFIG) {
        assert!(!checked.index_keys.is_empty(), "no index key for {criteria:?}");
        assert_eq!(
            E::check_criteria(&checked.criteria, CONFIG),
            Ok(checked.clone()),
            "normalizing {criteria:?} twice differs"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    idempotent::<EntraId>(text);
    idempotent::<GitHubActions>(text);
});

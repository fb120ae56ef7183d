//! Criteria parsing of the nine shipped evaluators: arbitrary JSON never
//! panics, and what is accepted comes back normalized — checking the
//! normalized form again gives the same form and the same index keys, of
//! which there is at least one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustpub_guest::Evaluator;

/// A provider config every evaluator but generic-oidc accepts.
const CONFIG: &str = r#"{"audience": "https://registry.example"}"#;
const GENERIC_CONFIG: &str = r#"{"audience": "https://registry.example", "issuers": ["https://oidc.ci.contoso.example"], "claims": ["sub", "repository", "repository_id", "ref"], "immutable_claims": ["repository_id"]}"#;

fn idempotent<E: Evaluator>(criteria: &str, config: &str) {
    if let Ok(checked) = E::check_criteria(criteria, config) {
        assert!(!checked.index_keys.is_empty(), "no index key for {criteria:?}");
        assert_eq!(
            E::check_criteria(&checked.criteria, config),
            Ok(checked.clone()),
            "normalizing {criteria:?} twice differs"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    idempotent::<trustpub_entra_id::EntraId>(text, CONFIG);
    idempotent::<trustpub_github_actions::GitHubActions>(text, CONFIG);
    idempotent::<trustpub_gitlab::GitLab>(text, CONFIG);
    idempotent::<trustpub_forgejo_actions::ForgejoActions>(text, CONFIG);
    idempotent::<trustpub_bitbucket_pipelines::Component>(text, CONFIG);
    idempotent::<trustpub_circleci::Component>(text, CONFIG);
    idempotent::<trustpub_buildkite::Component>(text, CONFIG);
    idempotent::<trustpub_google_cloud::Component>(text, CONFIG);
    idempotent::<trustpub_generic_oidc::GenericOidc>(text, GENERIC_CONFIG);
});

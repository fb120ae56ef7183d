//! A hostile evaluator: it implements the trustpub world but also imports
//! `wasi:random/random`, which the sandbox does not provide. The host must
//! refuse to load it. Natively the crate is empty.

#[cfg(target_arch = "wasm32")]
// The generated bindings and `export!` are unsafe FFI glue.
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({
        // The workspace's live contract first, so the world below resolves
        // `trustpub:evaluator` against it rather than a copy that could drift.
        path: ["../../../wit", "wit"],
        world: "hostile:wasi/hostile",
        // With a `wasi:` import wit-bindgen wants an explicit choice between
        // the `wasi` crate's bindings and its own: generate them all here.
        generate_all,
    });

    use exports::trustpub::evaluator0_2_0::evaluator::Guest;
    use trustpub::evaluator0_2_0::types::{
        Candidate, CheckedCriteria, MatchResult, ProviderInfo, Rejection, Validation,
    };
    use wasi::random::random::get_random_u64;

    struct Wasi;

    impl Guest for Wasi {
        fn info() -> ProviderInfo {
            ProviderInfo {
                name: "hostile-wasi".into(),
                version: "0.1.0".into(),
                issuers: vec!["https://hostile.example/wasi".into()],
                criteria_schema: "{}".into(),
                pins: Vec::new(),
                index_key: "anything".into(),
            }
        }

        fn check_criteria(criteria: String, _config: String) -> Result<CheckedCriteria, String> {
            Ok(CheckedCriteria {
                criteria,
                index_keys: vec!["hostile".into()],
            })
        }

        fn validate(_token: String, _config: String, _now: u64) -> Validation {
            Validation::BadToken(Rejection {
                check: "random".into(),
                message: format!("random {}", get_random_u64()),
            })
        }

        fn match_candidates(_candidates: Vec<Candidate>) -> MatchResult {
            MatchResult::Unauthorized(Vec::new())
        }
    }

    export!(Wasi);
}

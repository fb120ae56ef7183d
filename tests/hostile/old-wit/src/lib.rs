//! A hostile evaluator built against an incompatible contract
//! (`trustpub:evaluator@9.0.0`, see `wit/`). The host must refuse to load it.
//! Natively the crate is empty.

#[cfg(target_arch = "wasm32")]
// The generated bindings and `export!` are unsafe FFI glue.
#[allow(unsafe_code)]
mod component {
    wit_bindgen::generate!({
        path: "wit",
        world: "evaluator",
    });

    struct OldWit;

    impl Guest for OldWit {
        fn info() -> ProviderInfo {
            ProviderInfo {
                name: "hostile-old-wit".into(),
                version: "9.0.0".into(),
                issuers: vec!["https://hostile.example/old-wit".into()],
                criteria_schema: "{}".into(),
                pins: Vec::new(),
            }
        }

        fn check_criteria(criteria: String) -> Result<String, String> {
            Ok(criteria)
        }

        fn evaluate(token: String) -> Evaluation {
            if token.is_empty() {
                Evaluation::BadToken("no token".into())
            } else {
                Evaluation::Unauthorized
            }
        }
    }

    export!(OldWit);
}

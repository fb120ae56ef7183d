//! The trustpub guest SDK: everything an evaluator needs besides its own rules.
//!
//! An evaluator implements [`Evaluator`] and calls [`export_evaluator!`]. The
//! same code then runs natively in unit tests (with [`testing::FakeVerifier`])
//! and as a WebAssembly component (with the host's `verify-jws` import).
//!
//! ```ignore
//! struct MyIdp;
//! impl trustpub_guest::Evaluator for MyIdp { /* info, check_criteria, evaluate */ }
//! trustpub_guest::export_evaluator!(MyIdp);
//! ```

pub mod claims;
pub mod guid;
pub mod issuer;
pub mod jwt;
pub mod lifetime;
pub mod testing;
pub mod types;
pub mod verify;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod component;

pub use claims::Claims;
pub use jwt::UnverifiedJwt;
pub use types::{Evaluation, Matched, Policy, ProviderInfo, Request};
pub use verify::SignatureVerifier;

/// The rules of one identity provider.
pub trait Evaluator {
    /// What this evaluator handles; must not depend on any input.
    fn info() -> ProviderInfo;
    /// Validates a policy's criteria (JSON) and returns them normalized.
    fn check_criteria(criteria: &str) -> Result<String, String>;
    /// Validates the token, then matches it against `request.policies`.
    fn evaluate(request: &Request, verifier: &dyn SignatureVerifier) -> Evaluation;
}

/// Exports an [`Evaluator`] as the component's `trustpub:evaluator/evaluator`
/// world. Natively it expands to nothing, so the crate still unit-tests.
#[macro_export]
macro_rules! export_evaluator {
    ($evaluator:ty) => {
        #[cfg(target_arch = "wasm32")]
        type __TrustpubComponent = $crate::component::Component<$evaluator>;
        #[cfg(target_arch = "wasm32")]
        $crate::component::bindings::export!(__TrustpubComponent with_types_in $crate::component::bindings);
    };
}

//! The trustpub guest SDK: everything an evaluator needs besides its own rules.
//!
//! An evaluator is a WebAssembly component of the `trustpub:evaluator@0.1.0`
//! world (`wit/evaluator.wit`). Given one OIDC token, the user's policies for
//! its provider, the operator's config and the time, it answers `bad-token`,
//! `unauthorized` or `matched`. It implements [`Evaluator`] and calls
//! [`export_evaluator!`]. The same code then runs natively in unit tests (with
//! [`testing::FakeVerifier`]) and as a WebAssembly component (with the host's
//! `verify-jws` import).
//!
//! ```rust,ignore
//! struct MyIdp;
//! impl trustpub_guest::Evaluator for MyIdp { /* info, check_criteria, evaluate */ }
//! trustpub_guest::export_evaluator!(MyIdp);
//! ```
//!
//! `evaluate` validates the token before it reads any policy, in this order:
//! [`UnverifiedJwt::parse`] and an [`issuer::IssuerPattern`] for the unverified
//! `iss`, [`verify::verified_claims`] for the signature, then [`Claims`] getters,
//! [`Claims::require_single_audience`], [`lifetime::check_lifetime`] and
//! [`Claims::token_id`] on the verified claims. Their errors are messages
//! ready for `bad-token`.
//!
//! The guide for evaluator authors is `guest/README.md` in the repository. It
//! covers the contract and its rules, a step-by-step walk-through, testing
//! with `trustpub eval` and conformance cases, building with
//! `cargo xtask components`, the sandbox, and deploying.

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

//! The trustpub guest SDK: a framework for evaluators, the WebAssembly
//! components that hold one identity provider's rules.
//!
//! An evaluator is a component of the `trustpub:evaluator@0.2.0` world
//! (`wit/evaluator.wit`). In one fresh instance per exchange the host calls
//! `validate(token, config, now)` — is this a valid token of the provider,
//! and what does it say about itself — and then `match(candidates)` with the
//! policies stored under the token's lookup keys.
//!
//! Most evaluators implement [`Provider`]: constants describing the provider,
//! three serde types (settings, typed claims, criteria) and the rules that
//! differ between providers. The SDK runs the rest — parsing, issuer,
//! signature (through the host), audience, lifetime, token id, typed claims,
//! pins and the candidate loop — in one fixed order, and hands the rules only
//! [`Verified`] claims. [`Evaluator`] is the contract itself, for guests that
//! need another pipeline. Either is exported with [`export_evaluator!`]:
//!
//! ```rust,ignore
//! struct MyIdp;
//! impl trustpub_guest::Provider for MyIdp { /* constants, types, rules */ }
//! trustpub_guest::export_evaluator!(MyIdp);
//! ```
//!
//! The same code runs natively in unit tests (feature `testing`: a fake
//! verifier and an exchange harness) and over case tables (feature `cases`,
//! `policies/<idp>/cases/*.toml`), which the host also runs through the
//! built component.
//!
//! The guide for evaluator authors is `guest/README.md` in the repository.

pub mod candidates;
pub mod check;
pub mod claims;
pub mod config;
pub mod criteria;
pub mod evaluator;
pub mod forge;
pub mod framework;
pub mod guid;
pub mod ids;
pub mod issuer;
pub mod job_tokens;
pub mod jwt;
pub mod lifetime;
pub mod names;
pub mod pins;
pub mod pipeline;
pub mod provider;
pub mod rules;
pub mod session;
pub mod typed;
pub mod types;
pub mod verified;
pub mod verify;
pub mod workflow_ref;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "cases")]
pub mod cases;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod component;

#[cfg(any(test, all(target_arch = "wasm32", feature = "heap")))]
mod arena;
#[cfg(any(test, all(target_arch = "wasm32", feature = "compare")))]
mod compare;
#[cfg(all(target_arch = "wasm32", feature = "heap"))]
mod heap;

pub use check::{Check, reject};
pub use claims::Claims;
pub use config::{Config, NoSettings};
pub use evaluator::Evaluator;
pub use forge::ForgeProvider;
pub use guid::Guid;
pub use ids::DecimalId;
pub use issuer::IssuerMatch;
pub use jwt::UnverifiedJwt;
pub use pins::Pin;
pub use provider::Provider;
pub use rules::same_key;
pub use rules::{Rule, ensure, nested_name};
pub use session::Session;
pub use types::{
    Candidate, CheckedCriteria, MatchResult, Matched, NearMiss, ProviderInfo, Rejection,
    TokenFacts, Validation,
};
pub use verified::Verified;
pub use verify::SignatureVerifier;

/// Exports an [`Evaluator`] — every [`Provider`] is one — as the component's
/// `trustpub:evaluator/evaluator@0.2.0` interface. Natively it expands to
/// nothing, so the crate still unit-tests.
#[macro_export]
macro_rules! export_evaluator {
    ($evaluator:ty) => {
        #[cfg(target_arch = "wasm32")]
        type __TrustpubComponent = $crate::component::Component<$evaluator>;
        #[cfg(target_arch = "wasm32")]
        $crate::component::bindings::export!(__TrustpubComponent with_types_in $crate::component::bindings);
    };
}

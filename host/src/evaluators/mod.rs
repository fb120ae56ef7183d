//! The evaluators the server runs, one per identity provider: loading them
//! ([`admission`] is the one gate every version passes), routing tokens to
//! them by issuer, deploying and rolling back ([`deploy`]), watching their
//! files ([`watch`]) and the operator's conformance cases ([`conformance`]).
//!
//! Each provider's active evaluator sits behind an `ArcSwap`: a request
//! takes one `Arc` at its start and finishes on that version whatever is
//! deployed meanwhile.

pub mod admission;
pub mod case_tables;
pub mod conformance;
pub mod deploy;
pub mod indexing;
mod provider;
mod registry;
pub mod routing;
pub mod signature;
pub mod watch;

pub use provider::{ActiveEvaluator, Provider};
pub use registry::{EvaluatorRegistry, RegistryError};

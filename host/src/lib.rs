//! trustpub: trusted-publishing token exchange.
//!
//! Where things live:
//! - [`server`]: the HTTP API (warp) — start reading at `server::routes`;
//! - [`console`]: the operator console, HTML pages under `/console`;
//! - [`exchange`]: one token exchange, from routing to the committed key;
//! - [`operator`]: users, policies, evaluator versions, audit queries;
//! - [`evaluators`]: the evaluators per identity provider — admission,
//!   routing by issuer, deploy, rollback, file watching, conformance cases;
//! - [`runtime`]: the wasmtime sandbox that runs evaluator components;
//! - [`jose`]: JWS signatures, key sets, fetching and caching keys;
//! - [`store`]: storage (SQLite); [`api_key`]: API key format and minting;
//! - [`config`]: `trustpub.toml`, environment, flags;
//! - [`clock`], [`blocking`], [`digest`], [`durable_file`], [`names`]: the
//!   one home of each small helper;
//! - [`idp`]: the local test identity provider (keys, JWKS, token minting);
//! - [`cli`]: the `trustpub` command line.

pub mod api_key;
pub mod audit_log;
pub mod blocking;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod digest;
pub mod durable_file;
pub mod evaluators;
pub mod exchange;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod idp;
pub mod jose;
pub mod metrics;
pub mod names;
pub mod operator;
pub mod runtime;
pub mod server;
pub mod store;
pub mod verdict;

pub use runtime::{Evaluation, Match, Request};
pub use trustpub_guest::types::{
    Candidate, CheckedCriteria, NearMiss, ProviderInfo, Rejection, TokenFacts, Validation,
};
/// A stored policy as an evaluator sees it.
pub type Policy = Candidate;

/// base64url (no padding) of a JSON value: one JWS segment. For tests that
/// craft headers no honest signer would produce.
#[doc(hidden)]
pub fn jwt_segment(value: &serde_json::Value) -> String {
    trustpub_guest::jwt::encode_segment(value.to_string().as_bytes())
}

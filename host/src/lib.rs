//! trustpub: trusted-publishing token exchange.
//!
//! Where things live:
//! - [`server`]: the HTTP API (warp) — start reading at `server::routes`;
//! - [`exchange`]: one token exchange, from routing to the committed key;
//! - [`registry`]: the evaluators per identity provider, routing by issuer;
//! - [`runtime`]: the wasmtime sandbox that runs evaluator components;
//! - [`jws`], [`jwks`], [`jwks_cache`]: signatures, key sets, fetching keys;
//! - [`store`]: storage (SQLite); [`keys`]: API key format and minting;
//! - [`config`]: `trustpub.toml`, environment, flags;
//! - [`idp`]: the local test identity provider (keys, JWKS, token minting);
//! - [`cli`]: the `trustpub` command line.

pub mod cli;
pub mod config;
pub mod conformance;
pub mod deploy;
pub mod digest;
pub mod durable_file;
pub mod exchange;
pub mod idp;
pub mod jwks;
pub mod jwks_cache;
pub mod jws;
pub mod keys;
pub mod metrics;
pub mod names;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod store;
pub mod verdict;
pub mod watch;

pub use trustpub_guest::{Evaluation, Matched, Policy, ProviderInfo, Request};

/// base64url (no padding) of a JSON value: one JWS segment. For tests that
/// craft headers no honest signer would produce.
#[doc(hidden)]
pub fn jwt_segment(value: &serde_json::Value) -> String {
    trustpub_guest::jwt::encode_segment(value.to_string().as_bytes())
}

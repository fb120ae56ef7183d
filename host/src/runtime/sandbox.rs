//! The state of one evaluation's store: its resource limits and the
//! verifier behind the `verify-jws` import. A store lives for exactly one call.

use std::sync::Arc;

use trustpub_guest::SignatureVerifier;
use wasmtime::StoreLimits;

use super::bindings::{v0_1, v0_2};

/// What the `verify-jws` import calls: normally a [`crate::jose::jws::KeyVerifier`].
pub type SharedVerifier = Arc<dyn SignatureVerifier + Send + Sync>;

pub struct SandboxState {
    pub(crate) limits: StoreLimits,
    pub(crate) verifier: SharedVerifier,
}

// Both contract versions import the same `verify-jws`.
impl v0_2::trustpub::evaluator0_2_0::types::Host for SandboxState {}

impl v0_2::trustpub::evaluator0_2_0::crypto::Host for SandboxState {
    fn verify_jws(&mut self, token: String, issuer: String) -> Result<String, String> {
        self.verifier.verify_jws(&token, &issuer)
    }
}

impl v0_1::trustpub::evaluator::types::Host for SandboxState {}

impl v0_1::trustpub::evaluator::crypto::Host for SandboxState {
    fn verify_jws(&mut self, token: String, issuer: String) -> Result<String, String> {
        self.verifier.verify_jws(&token, &issuer)
    }
}

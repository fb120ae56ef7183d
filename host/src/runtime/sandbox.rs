//! The state of one evaluation's store: its resource limits and the
//! verifier behind the `verify-jws` import. A store lives for exactly one call.

use std::sync::Arc;

use trustpub_guest::SignatureVerifier;
use wasmtime::StoreLimits;

use super::bindings::trustpub::evaluator::{crypto, types};

/// What the `verify-jws` import calls: normally a [`crate::jose::jws::KeyVerifier`].
pub type SharedVerifier = Arc<dyn SignatureVerifier + Send + Sync>;

pub struct SandboxState {
    pub(crate) limits: StoreLimits,
    pub(crate) verifier: SharedVerifier,
}

impl types::Host for SandboxState {}

impl crypto::Host for SandboxState {
    fn verify_jws(&mut self, token: String, issuer: String) -> Result<String, String> {
        self.verifier.verify_jws(&token, &issuer)
    }
}

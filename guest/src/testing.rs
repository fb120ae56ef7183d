//! Native test support: build tokens and verify them without keys, so an
//! evaluator's rules are unit-tested with plain `cargo test`.

use std::cell::RefCell;

use serde_json::Value;

use crate::jwt::{decode_object, encode_segment};
use crate::verify::SignatureVerifier;

/// The signature segment [`FakeVerifier`] accepts.
pub const FAKE_SIGNATURE: &str = "ZmFrZS1zaWduYXR1cmU";

/// Builds a token with the given header and claims and [`FAKE_SIGNATURE`].
pub fn token(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.{FAKE_SIGNATURE}",
        encode_segment(header.to_string().as_bytes()),
        encode_segment(claims.to_string().as_bytes())
    )
}

/// Accepts exactly the tokens [`token`] builds (signature [`FAKE_SIGNATURE`]),
/// like a host holding the right key would; records every call.
#[derive(Debug, Default)]
pub struct FakeVerifier {
    calls: RefCell<Vec<String>>,
}

impl FakeVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// The issuers the evaluator asked to verify for, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }
}

impl SignatureVerifier for FakeVerifier {
    fn verify_jws(&self, token: &str, issuer: &str) -> Result<String, String> {
        self.calls.borrow_mut().push(issuer.to_string());
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a compact JWS".into());
        };
        if signature != FAKE_SIGNATURE {
            return Err("the signature does not verify with the issuer's keys".into());
        }
        let claims = decode_object(payload, "payload")?;
        Ok(Value::Object(claims).to_string())
    }
}

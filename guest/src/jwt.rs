//! Splitting and decoding a compact JWS without verifying it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::claims::Claims;

/// A token's decoded header and payload, **not verified**.
///
/// Use it only to route (the `iss` an evaluator checks against its issuer
/// pattern before asking the host to verify) and to report what is wrong with
/// a token. Every decision about trust uses the payload that
/// [`crate::SignatureVerifier::verify_jws`] returns.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    pub header: Map<String, Value>,
    pub claims: Claims,
    /// The payload's JSON as decoded: when the verified payload is the same
    /// text, its claims need not be parsed a second time.
    payload: Vec<u8>,
}

impl UnverifiedJwt {
    /// Decodes `header.payload.signature`; both JSON parts must be objects.
    pub fn parse(token: &str) -> Result<Self, String> {
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return Err(format!(
                "the token is not a JWT: it has {} dot-separated segments, expected 3",
                parts.len()
            ));
        }
        if parts[2].is_empty() {
            return Err("the token is not signed: its signature segment is empty".into());
        }
        let header = decode_object(parts[0], "header")?;
        let payload = decode_segment(parts[1], "payload")?;
        let claims = Claims::from_map(parse_object(&payload, "payload")?);
        Ok(Self {
            header,
            claims,
            payload,
        })
    }

    /// These claims, if `verified` (a payload the host verified) is exactly
    /// the JSON they were parsed from: the same text parses to the same
    /// claims, so they count as verified then.
    pub fn into_claims_if_payload_is(self, verified: &str) -> Result<Claims, Self> {
        if self.payload == verified.as_bytes() {
            Ok(self.claims)
        } else {
            Err(self)
        }
    }

    /// The `alg` header, if it is a string.
    pub fn algorithm(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
}

/// Decodes one base64url segment holding a JSON object.
pub fn decode_object(segment: &str, what: &str) -> Result<Map<String, Value>, String> {
    parse_object(&decode_segment(segment, what)?, what)
}

fn decode_segment(segment: &str, what: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| format!("the token's {what} is not valid base64url"))
}

fn parse_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the token's {what} is not a JSON object")),
        Err(_) => Err(format!("the token's {what} is not valid JSON")),
    }
}

/// Encodes bytes as base64url without padding, the JWS way.
pub fn encode_segment(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(json: &str) -> String {
        encode_segment(json.as_bytes())
    }

    #[test]
    fn parses_header_and_claims() {
        let token = format!(
            "{}.{}.c2ln",
            seg(r#"{"alg":"RS256"}"#),
            seg(r#"{"iss":"x"}"#)
        );
        let jwt = UnverifiedJwt::parse(&token).expect("valid");
        assert_eq!(jwt.algorithm(), Some("RS256"));
        assert_eq!(jwt.claims.string("iss"), Ok("x"));
    }

    #[test]
    fn rejects_wrong_segment_count() {
        let err = UnverifiedJwt::parse("a.b").expect_err("two segments");
        assert!(err.contains("2 dot-separated segments"), "{err}");
    }

    #[test]
    fn rejects_empty_signature() {
        let token = format!("{}.{}.", seg("{}"), seg("{}"));
        assert!(
            UnverifiedJwt::parse(&token)
                .expect_err("unsigned")
                .contains("not signed")
        );
    }

    #[test]
    fn rejects_bad_base64() {
        let token = format!("{}.!!!.c2ln", seg("{}"));
        assert!(
            UnverifiedJwt::parse(&token)
                .expect_err("bad b64")
                .contains("payload is not valid base64url")
        );
    }

    #[test]
    fn rejects_non_json_and_non_object() {
        let token = format!("{}.{}.c2ln", seg("{}"), seg("not json"));
        assert!(
            UnverifiedJwt::parse(&token)
                .expect_err("non-json")
                .contains("payload is not valid JSON")
        );
        let token = format!("{}.{}.c2ln", seg("[1]"), seg("{}"));
        assert!(
            UnverifiedJwt::parse(&token)
                .expect_err("array")
                .contains("header is not a JSON object")
        );
    }
}

//! Signature verification for the evaluators' `verify-jws` import.
//!
//! The token's header only *selects* a key (`kid`) and names the algorithm;
//! the key itself always comes from the operator-configured key set, and the
//! algorithm must fit that key. Keys or key URLs carried by the token are
//! refused outright rather than ignored, so a token relying on them fails loudly.

use std::sync::Arc;

use super::key_set::{KeySet, VerifyingKey};
use super::signature::{self, SignatureError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The largest token accepted anywhere, unless configured otherwise.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Header parameters that carry or point to keys; a token naming any of
/// them is refused, never followed.
const KEY_CARRYING_HEADERS: [&str; 4] = ["jwk", "jku", "x5u", "x5c"];

/// Why a signature is not accepted. The message goes back to the evaluator
/// and, through its `bad-token`, to the client: it never holds key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the token is longer than {0} bytes")]
    TooLong(usize),
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token header is not a JSON object")]
    BadHeader,
    #[error("the token is unsigned (alg none)")]
    AlgNone,
    #[error("HMAC algorithm {0} is not accepted: the issuer's keys are public")]
    Hmac(String),
    #[error("algorithm {0} is not supported")]
    UnsupportedAlg(String),
    #[error(
        "the token header carries '{0}': keys are taken only from the issuer's configured key set"
    )]
    EmbeddedKey(&'static str),
    #[error("the token header has critical extensions, which are not supported")]
    Critical,
    #[error("the token header has no kid")]
    MissingKid,
    #[error("no key with kid '{0}' is in the issuer's key set")]
    UnknownKid(String),
    #[error("the issuer's key set publishes kid '{0}' for two different keys; it is not trusted")]
    AmbiguousKid(String),
    #[error(
        "the issuer's signing keys are stale: they could not be refreshed for over {0} s, so no token of this provider is accepted"
    )]
    StaleKeys(u64),
    #[error("no keys are configured for issuer '{0}'")]
    UnknownIssuer(String),
    #[error("the key with kid '{kid}' cannot verify {alg}")]
    AlgKeyMismatch { kid: String, alg: String },
    #[error("the signature does not verify with the key '{0}'")]
    BadSignature(String),
    #[error("the token's claims are malformed: {0}")]
    MalformedClaims(String),
    #[error("the key '{kid}' signs only for issuer '{expected}', not for this token's issuer")]
    KeyIssuerMismatch { kid: String, expected: String },
}

/// Where verifying keys come from: a static set (the `eval` CLI) or the
/// server's JWKS cache, which may refresh on an unknown `kid`.
pub trait KeyResolver: Send + Sync {
    fn resolve(&self, issuer: &str, kid: &str) -> Result<Arc<VerifyingKey>, VerifyError>;
}

impl KeyResolver for KeySet {
    fn resolve(&self, _issuer: &str, kid: &str) -> Result<Arc<VerifyingKey>, VerifyError> {
        if self.is_ambiguous(kid) {
            return Err(VerifyError::AmbiguousKid(kid.to_string()));
        }
        self.get(kid)
            .ok_or_else(|| VerifyError::UnknownKid(kid.to_string()))
    }
}

/// A resolver with no keys at all: every verification fails. Used when an
/// evaluator is exercised without a JWKS (e.g. `eval` with no `--jwks`).
#[derive(Debug, Default)]
pub struct NoKeys;

impl KeyResolver for NoKeys {
    fn resolve(&self, issuer: &str, _kid: &str) -> Result<Arc<VerifyingKey>, VerifyError> {
        Err(VerifyError::UnknownIssuer(issuer.to_string()))
    }
}

/// The `verify-jws` import's implementation: a key source and a size limit.
pub struct KeyVerifier {
    keys: Arc<dyn KeyResolver>,
    max_len: usize,
}

impl KeyVerifier {
    pub fn new(keys: Arc<dyn KeyResolver>, max_len: usize) -> Self {
        Self { keys, max_len }
    }
}

impl trustpub_guest::SignatureVerifier for KeyVerifier {
    fn verify_jws(&self, token: &str, issuer: &str) -> Result<String, String> {
        verify_jws(token, issuer, self.keys.as_ref(), self.max_len).map_err(|e| e.to_string())
    }
}

/// Verifies `token` for `issuer` and returns its payload as JSON text.
///
/// Only the signature is checked here; claims (issuer, audience, lifetime)
/// are the evaluator's to judge, with its own messages.
pub fn verify_jws(
    token: &str,
    issuer: &str,
    keys: &dyn KeyResolver,
    max_len: usize,
) -> Result<String, VerifyError> {
    if token.len() > max_len {
        return Err(VerifyError::TooLong(max_len));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature_segment), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let header: serde_json::Map<String, serde_json::Value> = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(VerifyError::BadHeader)?;
    let alg = header
        .get("alg")
        .and_then(|v| v.as_str())
        .ok_or(VerifyError::BadHeader)?;
    check_alg(alg)?;
    if let Some(name) = KEY_CARRYING_HEADERS
        .into_iter()
        .find(|h| header.contains_key(*h))
    {
        return Err(VerifyError::EmbeddedKey(name));
    }
    if header.contains_key("crit") {
        return Err(VerifyError::Critical);
    }
    let kid = header
        .get("kid")
        .and_then(|v| v.as_str())
        .ok_or(VerifyError::MissingKid)?;
    let key = keys.resolve(issuer, kid)?;
    if key.alg.as_deref().is_some_and(|a| a != alg) {
        return Err(VerifyError::AlgKeyMismatch {
            kid: kid.into(),
            alg: alg.into(),
        });
    }
    let signing_input = &token[..token.rfind('.').unwrap_or_default()];
    let signature_bytes = URL_SAFE_NO_PAD
        .decode(signature_segment)
        .map_err(|_| VerifyError::Malformed)?;
    signature::verify(alg, &key, signing_input.as_bytes(), &signature_bytes).map_err(
        |e| match e {
            SignatureError::AlgKeyMismatch => VerifyError::AlgKeyMismatch {
                kid: kid.into(),
                alg: alg.into(),
            },
            SignatureError::BadSignature => VerifyError::BadSignature(key.kid.clone()),
        },
    )?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| VerifyError::Malformed)?;
    let payload = String::from_utf8(payload).map_err(|_| VerifyError::Malformed)?;
    let claims = RegisteredClaims::parse(&payload)?;
    check_key_issuer(&key, &claims)?;
    Ok(payload)
}

/// The registered claims, typed loosely so that a claim of the wrong type
/// is named (`MalformedClaims`) rather than failing the parse; other claims
/// are skipped unread. The evaluator judges their values.
#[derive(serde::Deserialize)]
struct RegisteredClaims {
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    iat: Option<serde_json::Value>,
    aud: Option<serde_json::Value>,
    iss: Option<serde_json::Value>,
    sub: Option<serde_json::Value>,
    jti: Option<serde_json::Value>,
    nonce: Option<serde_json::Value>,
    tid: Option<serde_json::Value>,
}

impl RegisteredClaims {
    fn parse(payload: &str) -> Result<Self, VerifyError> {
        use serde_json::Value;
        // A struct would also read a JSON array positionally.
        if !payload.trim_start().starts_with('{') {
            return Err(VerifyError::Malformed);
        }
        let claims: Self = serde_json::from_str(payload).map_err(|_| VerifyError::Malformed)?;
        let malformed = |what: String| Err(VerifyError::MalformedClaims(what));
        for (name, value) in [
            ("exp", &claims.exp),
            ("nbf", &claims.nbf),
            ("iat", &claims.iat),
        ] {
            match value {
                None => {}
                Some(Value::Number(n))
                    if n.as_u64().is_some()
                        || n.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0) => {}
                Some(_) => {
                    return malformed(format!("the {name} claim is not a number of seconds"));
                }
            }
        }
        match &claims.aud {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(_) => {
                return malformed("the aud claim is not a string or a list of strings".into());
            }
        }
        for (name, value) in [
            ("iss", &claims.iss),
            ("sub", &claims.sub),
            ("jti", &claims.jti),
            ("nonce", &claims.nonce),
        ] {
            if !matches!(value, None | Some(Value::Null | Value::String(_))) {
                return malformed(format!("the {name} claim is not a string"));
            }
        }
        Ok(claims)
    }
}

/// A key the JWKS binds to an issuer verifies only that issuer's tokens:
/// one tenant's key cannot vouch for a token naming another tenant. The
/// `{tenantid}` placeholder (Entra ID's common keys) stands for the token's
/// own `tid`, so its `iss` must name the tenant it claims to be from.
fn check_key_issuer(key: &VerifyingKey, claims: &RegisteredClaims) -> Result<(), VerifyError> {
    let Some(template) = &key.issuer else {
        return Ok(());
    };
    let expected = match claims.tid.as_ref().and_then(|v| v.as_str()) {
        Some(tid) if template.contains("{tenantid}") => template.replace("{tenantid}", tid),
        _ => template.clone(),
    };
    if claims.iss.as_ref().and_then(|v| v.as_str()) == Some(expected.as_str()) {
        Ok(())
    } else {
        Err(VerifyError::KeyIssuerMismatch {
            kid: key.kid.clone(),
            expected,
        })
    }
}

fn check_alg(alg: &str) -> Result<(), VerifyError> {
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" => Ok(()),
        a if a.eq_ignore_ascii_case("none") => Err(VerifyError::AlgNone),
        a if a.starts_with("HS") => Err(VerifyError::Hmac(a.to_string())),
        a => Err(VerifyError::UnsupportedAlg(a.to_string())),
    }
}

#[cfg(test)]
#[path = "jws_tests.rs"]
mod tests;

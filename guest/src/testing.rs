//! Native test support (feature `testing`): build tokens and verify them
//! without keys, and run one exchange (validate, then match) the way the
//! host does, so an evaluator's rules are unit-tested with plain `cargo test`.

use std::cell::RefCell;

use serde_json::Value;

use crate::check::is_valid_name;
use crate::evaluator::Evaluator;
use crate::jwt::{decode_object, encode_segment};
use crate::session::Session;
use crate::types::{Candidate, MatchResult, Matched, NearMiss, Rejection, TokenFacts, Validation};
use crate::verify::SignatureVerifier;

/// The signature segment [`FakeVerifier`] accepts.
pub const FAKE_SIGNATURE: &str = "ZmFrZS1zaWduYXR1cmU";

/// A signature segment [`FakeVerifier`] refuses.
pub const BAD_SIGNATURE: &str = "YmFkLXNpZ25hdHVyZQ";

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

/// A candidate policy; `criteria` need not be normalized (match parses them
/// as `check-criteria` does).
pub fn candidate(id: u64, criteria: &Value, pins: &[(&str, &str)]) -> Candidate {
    Candidate {
        id,
        criteria: criteria.to_string(),
        pins: pins
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
    }
}

/// What one exchange came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    BadToken(Rejection),
    Unauthorized(TokenFacts, Vec<NearMiss>),
    Matched(TokenFacts, Matched),
}

/// Validates `token` with `verifier`, then matches it against `candidates`
/// in the same session, as the host does.
pub fn exchange<E: Evaluator>(
    verifier: &FakeVerifier,
    token: &str,
    config: &str,
    now: u64,
    candidates: &[Candidate],
) -> Outcome {
    let mut session = Session::<E>::new();
    match session.validate(token, config, now, verifier) {
        Validation::BadToken(rejection) => Outcome::BadToken(rejection),
        Validation::Valid(facts) => match session.match_candidates(candidates) {
            MatchResult::Matched(matched) => Outcome::Matched(facts, matched),
            MatchResult::Unauthorized(near_misses) => Outcome::Unauthorized(facts, near_misses),
        },
    }
}

/// Asserts what an evaluator's `info()` declares: its name, issuer patterns
/// and pins (in table order), a version, an index key and a criteria schema
/// that is JSON.
#[track_caller]
pub fn assert_info<E: Evaluator>(name: &str, issuers: &[&str], pins: &[&str]) {
    let info = E::info();
    assert_eq!(info.name, name);
    assert_eq!(info.issuers, issuers, "{name}: issuers");
    assert_eq!(info.pins, pins, "{name}: pins");
    assert!(
        !info.version.is_empty() && !info.index_key.is_empty(),
        "{info:?}"
    );
    let schema = serde_json::from_str::<Value>(&info.criteria_schema);
    assert!(
        schema.is_ok_and(|s| s.is_object()),
        "{name}: the criteria schema is not JSON"
    );
}

/// One exchange of a token with the claims of an evaluator's
/// `sample-claims.json` (the token shape `trustpub idp mint` uses), at the
/// sample's `iat`, under `config` (whose `audience` defaults to the
/// sample's `aud`), against one candidate of id 1 with `criteria`.
pub fn sample_exchange<E: Evaluator>(sample: &str, mut config: Value, criteria: &Value) -> Outcome {
    let sample: Value = serde_json::from_str(sample).unwrap_or_default();
    if config.get("audience").is_none() {
        config["audience"] = sample["aud"].clone();
    }
    let now = sample["iat"].as_u64().unwrap_or_default();
    let token = token(&serde_json::json!({"alg": "RS256", "typ": "JWT"}), &sample);
    let policy = candidate(1, criteria, &[]);
    exchange::<E>(
        &FakeVerifier::new(),
        &token,
        &config.to_string(),
        now,
        &[policy],
    )
}

impl Outcome {
    /// Asserts a bad token failing `check` with a message containing `needle`.
    #[track_caller]
    pub fn assert_bad(&self, check: &str, needle: &str) {
        match self {
            Outcome::BadToken(r) => {
                assert!(is_valid_name(&r.check), "invalid check name {:?}", r.check);
                assert_eq!(r.check, check, "check of {:?}", r.message);
                assert!(
                    r.message.contains(needle),
                    "message {:?} does not mention {needle:?}",
                    r.message
                );
            }
            other => panic!("expected bad-token [{check}] mentioning {needle:?}, got {other:?}"),
        }
    }

    /// The facts and match of a matched exchange.
    #[track_caller]
    pub fn matched(self) -> (TokenFacts, Matched) {
        match self {
            Outcome::Matched(facts, matched) => (facts, matched),
            other => panic!("expected matched, got {other:?}"),
        }
    }

    /// Asserts a match of `policy_id`.
    #[track_caller]
    pub fn assert_matched(&self, policy_id: u64) {
        match self {
            Outcome::Matched(_, m) => assert_eq!(m.policy_id, policy_id),
            other => panic!("expected a match of policy {policy_id}, got {other:?}"),
        }
    }

    /// The near misses of a valid token no candidate trusts.
    #[track_caller]
    pub fn near_misses(self) -> Vec<NearMiss> {
        match self {
            Outcome::Unauthorized(_, near_misses) => near_misses,
            other => panic!("expected unauthorized, got {other:?}"),
        }
    }

    /// Asserts unauthorized, the one near miss's reason containing `needle`.
    #[track_caller]
    pub fn assert_near_miss(self, needle: &str) {
        match self.near_misses().as_slice() {
            [one] => assert!(
                one.reason.contains(needle),
                "near miss {:?} does not mention {needle:?}",
                one.reason
            ),
            many => panic!("expected one near miss mentioning {needle:?}, got {many:?}"),
        }
    }
}

//! What one evaluation decides, in the host's terms, for both contract
//! versions.

use trustpub_guest::types::{Candidate, NearMiss, Rejection, TokenFacts};

/// A token and the policies to match it against, in one session (what
/// `trustpub eval`, conformance cases and benchmarks run; the exchange
/// picks candidates by index key between the two steps instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub token: String,
    pub policies: Vec<Candidate>,
    pub config: String,
    pub now: u64,
}

/// A match: the policy, the pins to write, and the token's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub policy_id: u64,
    pub pins: Vec<(String, String)>,
    pub facts: TokenFacts,
}

/// The outcome of validating a token and matching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// Not a valid token of this provider.
    BadToken(Rejection),
    /// Valid, but no policy trusts it; why each candidate did not.
    Unauthorized(Vec<NearMiss>),
    Matched(Match),
}

/// The check name the host records for a 0.1 evaluator's rejections, which
/// carry only a message.
pub const UNNAMED_CHECK: &str = "unnamed";

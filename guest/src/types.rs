//! Plain Rust mirrors of the WIT records (`trustpub:evaluator@0.2.0`), so
//! evaluator logic never touches generated bindings and runs natively in
//! tests. The host uses the same types for both contract versions.

/// What an evaluator handles (WIT `provider-info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: String,
    pub version: String,
    pub issuers: Vec<String>,
    pub criteria_schema: String,
    /// Identifiers pinned on first use (see the WIT); empty when none.
    pub pins: Vec<String>,
    /// What the index key is, for operators.
    pub index_key: String,
}

/// Criteria as the evaluator accepts them (WIT `checked-criteria`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCriteria {
    /// Normalized criteria, a JSON object.
    pub criteria: String,
    /// The keys the policy is stored under.
    pub index_keys: Vec<String>,
}

/// Why a token is not valid (WIT `rejection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A stable check name: lowercase letters, digits and `-`.
    pub check: String,
    /// For the client; never mentions policies.
    pub message: String,
}

impl Rejection {
    pub fn new(check: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a valid token says about itself (WIT `token-facts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    pub issuer: String,
    pub token_id: String,
    pub subject: String,
    /// The last second the evaluator accepts the token, skew included.
    pub accepted_until: u64,
    /// The token's `exp`.
    pub expires_at: u64,
    pub lookup_keys: Vec<String>,
}

/// The outcome of `validate` (WIT `validation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    Valid(TokenFacts),
    BadToken(Rejection),
}

/// One candidate policy (WIT `candidate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: u64,
    pub criteria: String,
    pub pins: Vec<(String, String)>,
}

/// Why one candidate does not trust the token (WIT `near-miss`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub policy_id: u64,
    pub reason: String,
}

/// A successful match (WIT `matched`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub policy_id: u64,
    pub pins: Vec<(String, String)>,
}

/// The outcome of `match` (WIT `match-result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchResult {
    Matched(Matched),
    Unauthorized(Vec<NearMiss>),
}

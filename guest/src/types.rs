//! Plain Rust mirrors of the WIT records, so evaluator logic never touches
//! generated bindings and runs natively in tests.

/// What an evaluator handles (WIT `provider-info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: String,
    pub version: String,
    pub issuers: Vec<String>,
    pub criteria_schema: String,
    /// Identifiers pinned on first use (see the WIT); empty when none.
    pub pins: Vec<String>,
}

/// One federated credential policy (WIT `policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: u64,
    pub criteria: String,
    pub pins: Vec<(String, String)>,
}

/// One evaluation's input (WIT `request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub token: String,
    pub policies: Vec<Policy>,
    pub config: String,
    pub now: u64,
}

/// A successful match (WIT `matched`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub policy_id: u64,
    pub issuer: String,
    pub token_id: String,
    pub subject: String,
    pub expires_at: u64,
    pub pins: Vec<(String, String)>,
}

/// The outcome of one evaluation (WIT `evaluation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// Not a valid token of this provider; the message names the failed check.
    BadToken(String),
    /// A valid token that no policy trusts.
    Unauthorized,
    /// A valid token that the named policy trusts.
    Matched(Matched),
}

impl Evaluation {
    /// Turns a validation error into `bad-token`, so evaluators can use `?`
    /// on `Result<_, String>` checks and finish with one conversion.
    pub fn from_checks(result: Result<Evaluation, String>) -> Evaluation {
        result.unwrap_or_else(Evaluation::BadToken)
    }
}

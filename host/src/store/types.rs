//! The records the store keeps. Times are unix seconds.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub username: String,
    pub created_at: u64,
}

/// What a minted key may do: package-id glob and actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub packages: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    pub username: String,
    pub provider: String,
    /// The package owner (user or organization) keys minted through it act for.
    pub owner: String,
    /// Criteria as the provider's evaluator normalized them (JSON text).
    pub criteria: String,
    /// Empty: everything the owner may do.
    pub scopes: Vec<Scope>,
    /// The keys the evaluator gave the criteria (none for a 0.1 evaluator).
    pub index_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPolicy {
    pub id: u64,
    pub username: String,
    pub provider: String,
    pub owner: String,
    pub criteria: String,
    pub scopes: Vec<Scope>,
    /// Identifiers pinned on first use, in name order.
    pub pins: Vec<(String, String)>,
    pub created_at: u64,
    /// When the first-use window last (re)started: creation or renewal.
    pub renewed_at: u64,
    pub last_used_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// SHA-256 of the key, lowercase hex. The key itself is never stored.
    pub hash: String,
    pub username: String,
    pub owner: String,
    pub scopes: Vec<Scope>,
    pub policy_id: u64,
    pub provider: String,
    pub evaluator_digest: String,
    pub created_at: u64,
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub hash: String,
    pub username: String,
    pub owner: String,
    pub scopes: Vec<Scope>,
    pub policy_id: u64,
    pub provider: String,
    pub evaluator_digest: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub revoked_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeCommit {
    pub issuer: String,
    pub token_id: String,
    /// The token id is kept at least until then: the token's `exp`, plus how
    /// long past it the provider accepts it, plus a margin.
    pub keep_token_id_until: u64,
    pub policy_id: u64,
    /// Pins the evaluator asked for; empty for none.
    pub pins: Vec<(String, String)>,
    pub key: NewApiKey,
    pub audit: AuditEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditOutcome {
    Minted,
    BadToken,
    Unauthorized,
    Replay,
    RenewalRequired,
    EvaluatorError,
    /// Operator actions: who did them is in `subject`, from where in
    /// `client_addr`.
    PolicyCreated,
    PolicyDeleted,
    PolicyRenewed,
    EvaluatorDeployed,
    EvaluatorRolledBack,
    /// A new evaluator version refused at admission (bad signature, not a
    /// component, failing cases…); the active version kept serving.
    EvaluatorRejected,
    /// A key revoked by its holder (`DELETE /api/v2/token`).
    KeyRevoked,
}

/// Which audit events a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditKind {
    /// Exchange attempts (what `/admin/audit` always listed).
    #[default]
    Exchanges,
    /// Operator actions and revocations.
    Actions,
    All,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exchanges => "exchanges",
            Self::Actions => "actions",
            Self::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exchanges" => Some(Self::Exchanges),
            "actions" => Some(Self::Actions),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    pub fn includes(self, outcome: AuditOutcome) -> bool {
        match self {
            Self::Exchanges => !outcome.is_action(),
            Self::Actions => outcome.is_action(),
            Self::All => true,
        }
    }
}

impl AuditOutcome {
    /// An operator action or revocation rather than an exchange attempt.
    pub fn is_action(self) -> bool {
        matches!(
            self,
            Self::PolicyCreated
                | Self::PolicyDeleted
                | Self::PolicyRenewed
                | Self::EvaluatorDeployed
                | Self::EvaluatorRolledBack
                | Self::EvaluatorRejected
                | Self::KeyRevoked
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minted => "minted",
            Self::BadToken => "bad-token",
            Self::Unauthorized => "unauthorized",
            Self::Replay => "replay",
            Self::RenewalRequired => "renewal-required",
            Self::EvaluatorError => "evaluator-error",
            Self::PolicyCreated => "policy-created",
            Self::PolicyDeleted => "policy-deleted",
            Self::PolicyRenewed => "policy-renewed",
            Self::EvaluatorDeployed => "evaluator-deployed",
            Self::EvaluatorRolledBack => "evaluator-rolled-back",
            Self::EvaluatorRejected => "evaluator-rejected",
            Self::KeyRevoked => "key-revoked",
        }
    }

    pub const ALL: [Self; 13] = [
        Self::Minted,
        Self::BadToken,
        Self::Unauthorized,
        Self::Replay,
        Self::RenewalRequired,
        Self::EvaluatorError,
        Self::PolicyCreated,
        Self::PolicyDeleted,
        Self::PolicyRenewed,
        Self::EvaluatorDeployed,
        Self::EvaluatorRolledBack,
        Self::EvaluatorRejected,
        Self::KeyRevoked,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One exchange attempt or operator action. Never holds a token or a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub at: u64,
    pub provider: Option<String>,
    pub username: String,
    pub outcome: AuditOutcome,
    /// The bad-token message or error, for failures.
    pub detail: Option<String>,
    pub policy_id: Option<u64>,
    pub evaluator_digest: Option<String>,
    /// The token's subject (verified), for matches.
    pub subject: Option<String>,
    pub client_addr: Option<String>,
    /// For a bad token: the name of the check it failed.
    pub check: Option<String>,
    /// For an unauthorized attempt: why each candidate policy did not match.
    pub near_misses: Vec<AuditNearMiss>,
}

/// Why one policy did not trust a token; never shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditNearMiss {
    pub policy_id: u64,
    pub reason: String,
}

/// One evaluator version as a cluster engine shares it between hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvaluator {
    /// `sha256:…` of the component.
    pub digest: String,
    pub component: Vec<u8>,
    /// Its detached signature (base64), if any.
    pub signature: Option<Vec<u8>>,
}

/// How many exchange attempts had one outcome (and, for a bad token, failed
/// one check) at one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCount {
    pub provider: Option<String>,
    pub outcome: AuditOutcome,
    pub check: Option<String>,
    pub count: u64,
}

impl AuditCount {
    /// Counts events in memory, sorted by provider, outcome and check.
    pub fn tally<'a>(events: impl Iterator<Item = &'a AuditEvent>) -> Vec<Self> {
        // By provider, outcome name and check: the listing's order.
        type Key = (Option<String>, &'static str, Option<String>);
        let mut counts: std::collections::BTreeMap<Key, (AuditOutcome, u64)> =
            std::collections::BTreeMap::new();
        for e in events {
            let key = (e.provider.clone(), e.outcome.as_str(), e.check.clone());
            counts.entry(key).or_insert((e.outcome, 0)).1 += 1;
        }
        counts
            .into_iter()
            .map(|((provider, _, check), (outcome, count))| Self {
                provider,
                outcome,
                check,
                count,
            })
            .collect()
    }
}

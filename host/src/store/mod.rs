//! Storage: one [`Store`] interface, engines behind it: SQLite embedded by
//! default (one host), PostgreSQL for a cluster of hosts. The interface is
//! synchronous; the server calls it from blocking threads.
//!
//! Invariants every engine keeps:
//! - a token id (issuer + id) is accepted once: [`Store::commit_exchange`]
//!   inserts it, the pins, the key and the audit event in one transaction,
//!   so two concurrent exchanges of one token yield exactly one key;
//! - only a key's SHA-256 hash is stored, never the key;
//! - a committed exchange is durable before the call returns.

mod audit_values;
mod copy;
mod group_commit;
mod policy_index;
pub mod postgres;
mod rows;
mod sqlite;
mod sqlite_checkpoints;
mod sqlite_writes;
#[cfg(test)]
mod suite;
mod types;

use std::sync::Arc;

pub use copy::{CopiedTable, sqlite_to_postgres};
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::SqliteStore;
pub use types::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The token id was already used (replay).
    #[error("this token has already been used")]
    Replay,
    /// A pinned policy's pins differ from the ones the exchange would write.
    #[error("the policy's pinned identifiers changed concurrently")]
    PinConflict,
    #[error("unsupported database URL scheme '{0}': use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached right now (down, restarting, timed
    /// out); the request may succeed later. Answered with 503.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The same failure for another member of a group commit that failed
    /// as a whole: an outage stays an outage (503), anything else is a
    /// database error.
    pub(crate) fn for_another(&self) -> StoreError {
        match self {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::Database(m) => StoreError::Database(m.clone()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

pub trait Store: Send + Sync {
    /// Reachability check for `/healthz`.
    fn ping(&self) -> Result<(), StoreError>;

    fn create_user(&self, username: &str, now: u64) -> Result<User, StoreError>;
    fn list_users(&self) -> Result<Vec<User>, StoreError>;
    fn get_user(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// Fails with `NotFound` when the user does not exist.
    fn create_policy(&self, policy: &NewPolicy, now: u64) -> Result<StoredPolicy, StoreError>;
    fn get_policy(&self, id: u64) -> Result<Option<StoredPolicy>, StoreError>;
    /// All policies, or one user's; oldest first.
    fn list_policies(&self, username: Option<&str>) -> Result<Vec<StoredPolicy>, StoreError>;
    /// One user's policies for one provider, oldest first (evaluation order).
    fn policies_for(&self, username: &str, provider: &str)
    -> Result<Vec<StoredPolicy>, StoreError>;
    /// The policies of `provider` stored under any of `keys`, oldest first;
    /// only `username`'s when given.
    fn candidates(
        &self,
        provider: &str,
        keys: &[String],
        username: Option<&str>,
    ) -> Result<Vec<StoredPolicy>, StoreError>;
    /// Every policy of one provider as (id, criteria), for indexing.
    fn provider_criteria(&self, provider: &str) -> Result<Vec<(u64, String)>, StoreError>;
    /// The digest of the evaluator that computed the provider's index keys.
    fn index_digest(&self, provider: &str) -> Result<Option<String>, StoreError>;
    /// Replaces the index keys of the given policies of `provider` and
    /// records `digest` as the evaluator that computed them, atomically.
    fn reindex(
        &self,
        provider: &str,
        digest: &str,
        keys: &[(u64, Vec<String>)],
    ) -> Result<(), StoreError>;
    /// Deletes the policy and revokes every key minted through it, in one
    /// transaction. Returns the number of keys revoked; `NotFound` if absent.
    fn delete_policy(&self, id: u64, now: u64) -> Result<u64, StoreError>;
    /// Restarts the first-use window of a policy (sets `renewed_at = now`).
    fn renew_policy(&self, id: u64, now: u64) -> Result<StoredPolicy, StoreError>;

    /// The successful end of an exchange, atomically: remember the token id
    /// (`Replay` if known), write the pins (only onto a policy without pins;
    /// `PinConflict` if it has different ones), mark the policy used, insert
    /// the key (hash only) and the audit event. Durable on return.
    fn commit_exchange(&self, exchange: ExchangeCommit) -> Result<(), StoreError>;
    /// Whether a token id is already used (for the replay message before work).
    fn token_id_used(&self, issuer: &str, token_id: &str) -> Result<bool, StoreError>;
    /// Forgets used token ids whose keep-until time is before `now`.
    fn purge_used_token_ids(&self, now: u64) -> Result<u64, StoreError>;
    /// Deletes audit events recorded before `before` (audit retention).
    fn purge_audit(&self, before: u64) -> Result<u64, StoreError>;

    fn find_key(&self, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Revokes a key; returns whether an unrevoked key was found.
    fn revoke_key(&self, hash: &str, now: u64) -> Result<bool, StoreError>;

    /// Records an exchange that did not mint a key.
    fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Records several events in one transaction (one sync to disk).
    fn record_audit_batch(&self, events: &[AuditEvent]) -> Result<(), StoreError>;
    /// Exchange attempts, most recent first; one user's, or everyone's.
    fn list_audit(
        &self,
        username: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.list_audit_of(username, AuditKind::Exchanges, limit)
    }
    /// Events of one kind, most recent first; one user's, or everyone's.
    fn list_audit_of(
        &self,
        username: Option<&str>,
        kind: AuditKind,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    // Evaluators shared by a cluster. An embedded engine (SQLite, one host)
    // shares nothing: each host's evaluator files are its truth.

    /// Whether hosts share evaluator versions through this store.
    fn shares_evaluators(&self) -> bool {
        false
    }
    /// Stores `version` (if new) as `provider`'s active evaluator and tells
    /// the other hosts, atomically.
    fn publish_evaluator(
        &self,
        _provider: &str,
        _version: &StoredEvaluator,
        _now: u64,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    /// Every provider's active evaluator digest, as (provider, digest).
    fn active_evaluators(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(Vec::new())
    }
    fn evaluator_version(
        &self,
        _provider: &str,
        _digest: &str,
    ) -> Result<Option<StoredEvaluator>, StoreError> {
        Ok(None)
    }
    /// Blocks until another host announces an evaluator change (`true`) or
    /// `timeout` passes (`false`).
    fn wait_for_evaluator_change(&self, timeout: std::time::Duration) -> Result<bool, StoreError> {
        std::thread::sleep(timeout);
        Ok(false)
    }

    /// Exchange attempts recorded at or after `since`, counted per
    /// provider, outcome and failed check (the console's overview). The
    /// default reads the events; an engine should count them in SQL.
    fn audit_counts(&self, since: u64) -> Result<Vec<AuditCount>, StoreError> {
        let events = self.list_audit_of(None, AuditKind::Exchanges, u32::MAX)?;
        Ok(AuditCount::tally(events.iter().filter(|e| e.at >= since)))
    }

    /// Keys neither revoked nor expired at `now`, newest first (the
    /// console's key list). Never the key itself: only its hash is stored.
    fn live_keys(&self, now: u64) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let _ = now;
        Err(StoreError::Database(
            "this storage engine cannot list keys yet".to_string(),
        ))
    }
}

/// Opens the store a database URL names: `sqlite://PATH` (or a bare path),
/// or `postgres://…` / `postgresql://…` with default options.
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, &PostgresOptions::default())
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// [`open`] with the PostgreSQL engine's timeout and pool size. Blocks
/// (connects, migrates): call it on a blocking thread.
pub fn open_with(url: &str, options: &PostgresOptions) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Arc::new(SqliteStore::open(path)?));
    }
    if is_postgres_url(url) {
        return Ok(Arc::new(PostgresStore::open(url, options)?));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        // Only the scheme: the rest may hold a password.
        return Err(StoreError::UnsupportedUrl(scheme.to_string()));
    }
    Ok(Arc::new(SqliteStore::open(url)?))
}

//! Who asked for an operator action, for its audit record.

use crate::store::{AuditEvent, AuditOutcome};

#[derive(Debug, Clone)]
pub struct Actor {
    /// `admin-api` (the admin token over HTTP), `console` (the operator
    /// console), `cli-direct` (the CLI on the database itself),
    /// `file-watcher` (a replaced evaluator file) or `key-holder` (a key
    /// revoked by its holder).
    pub name: &'static str,
    pub addr: Option<String>,
}

impl Actor {
    /// The name of the file watcher's deploys.
    pub const FILE_WATCHER: &'static str = "file-watcher";

    /// A replaced evaluator file, seen by the watcher.
    pub fn file_watcher() -> Self {
        Self {
            name: Self::FILE_WATCHER,
            addr: None,
        }
    }

    pub fn admin_api(addr: Option<std::net::SocketAddr>) -> Self {
        Self {
            name: "admin-api",
            addr: addr.map(|a| a.ip().to_string()),
        }
    }

    /// Whoever holds a key and revokes it (`DELETE /api/v2/token`).
    pub fn key_holder(addr: Option<std::net::SocketAddr>) -> Self {
        Self {
            name: "key-holder",
            addr: addr.map(|a| a.ip().to_string()),
        }
    }

    /// The operator console (`/console`), signed in with the admin token.
    pub fn console(addr: Option<std::net::IpAddr>) -> Self {
        Self {
            name: "console",
            addr: addr.map(|a| a.to_string()),
        }
    }

    pub fn cli_direct() -> Self {
        Self {
            name: "cli-direct",
            addr: None,
        }
    }

    /// The audit record of an action this actor took on `username`'s behalf.
    pub(super) fn event(&self, outcome: AuditOutcome, username: &str, at: u64) -> AuditEvent {
        AuditEvent {
            at,
            provider: None,
            username: username.to_string(),
            outcome,
            detail: None,
            policy_id: None,
            evaluator_digest: None,
            subject: Some(self.name.to_string()),
            client_addr: self.addr.clone(),
            check: None,
            near_misses: Vec::new(),
        }
    }
}

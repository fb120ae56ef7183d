//! The JSON the operator API answers with (and the CLI prints): times as
//! RFC 3339, digests as `sha256:<hex>`, criteria as objects.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::EvaluatorStatus;
use crate::evaluators::deploy::Deployed;
use crate::store::{AuditEvent, StoredPolicy, User};

fn rfc3339(secs: u64) -> String {
    rfc3339_time(UNIX_EPOCH + Duration::from_secs(secs))
}

fn rfc3339_time(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn sha256(digest: &str) -> String {
    format!("sha256:{digest}")
}

pub fn user(u: &User) -> Value {
    json!({"username": u.username, "created_at": rfc3339(u.created_at)})
}

pub fn policy(p: &StoredPolicy) -> Value {
    json!({
        "id": p.id,
        "username": p.username,
        "provider": p.provider,
        "owner": p.owner,
        "criteria": serde_json::from_str::<Value>(&p.criteria).unwrap_or(Value::String(p.criteria.clone())),
        "scopes": p.scopes,
        "pins": p.pins.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
        "created_at": rfc3339(p.created_at),
        "renewed_at": rfc3339(p.renewed_at),
        "last_used_at": p.last_used_at.map(rfc3339),
    })
}

pub fn evaluator(e: &EvaluatorStatus) -> Value {
    json!({
        "provider": e.provider,
        "name": e.name,
        "version": e.version,
        "digest": sha256(&e.digest),
        "issuers": e.issuers,
        "exact_issuers": e.exact_issuers,
        "contract": e.contract,
        "active_since": rfc3339_time(e.active_since),
        "previous_digest": e.previous_digest.as_deref().map(sha256),
        "jwks_fetches": e.jwks_fetches,
    })
}

pub fn deployed(d: &Deployed) -> Value {
    json!({
        "provider": d.provider,
        "digest": sha256(&d.digest),
        "version": d.version,
        "previous_digest": d.previous_digest.as_deref().map(sha256),
        "unchanged": d.unchanged,
    })
}

pub fn audit_event(e: &AuditEvent) -> Value {
    let mut v = json!(e);
    v["at"] = json!(rfc3339(e.at));
    v
}

/// A list of anything with a view.
pub fn list<T>(items: &[T], view: impl Fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(view).collect())
}

//! The JSON form of an evaluation, as `trustpub eval` prints it.

use serde_json::{Value, json};

use crate::runtime::Evaluation;

/// `{"result": "matched", "policy_id": ...}`, `{"result": "unauthorized",
/// "near_misses": [...]}` or `{"result": "bad-token", "check": ..., "message": ...}`.
pub fn evaluation_json(evaluation: &Evaluation) -> Value {
    match evaluation {
        Evaluation::BadToken(r) => {
            json!({"result": "bad-token", "check": r.check, "message": r.message})
        }
        Evaluation::Unauthorized(misses) => json!({
            "result": "unauthorized",
            "near_misses": misses.iter().map(|m| json!({"policy_id": m.policy_id, "reason": m.reason})).collect::<Vec<_>>(),
        }),
        Evaluation::Matched(m) => json!({
            "result": "matched",
            "policy_id": m.policy_id,
            "issuer": m.facts.issuer,
            "token_id": m.facts.token_id,
            "subject": m.facts.subject,
            "expires_at": m.facts.expires_at,
            "accepted_until": m.facts.accepted_until,
            "lookup_keys": m.facts.lookup_keys,
            "pins": m.pins.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<String, Value>>(),
        }),
    }
}

//! The JSON form of an evaluation, as `trustpub eval` prints it.

use serde_json::{Value, json};
use trustpub_guest::Evaluation;

/// `{"result": "matched", "policy_id": ...}`, `{"result": "unauthorized"}` or
/// `{"result": "bad-token", "message": ...}`.
pub fn evaluation_json(evaluation: &Evaluation) -> Value {
    match evaluation {
        Evaluation::BadToken(message) => json!({"result": "bad-token", "message": message}),
        Evaluation::Unauthorized => json!({"result": "unauthorized"}),
        Evaluation::Matched(m) => json!({
            "result": "matched",
            "policy_id": m.policy_id,
            "issuer": m.issuer,
            "token_id": m.token_id,
            "subject": m.subject,
            "expires_at": m.expires_at,
            "pins": m.pins.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<String, Value>>(),
        }),
    }
}

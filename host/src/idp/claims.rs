//! Claim sets shaped like the real identity providers' tokens.

use serde_json::{Value, json};

/// An Entra ID v2.0 app-only token of service principal `oid` in tenant
/// `tid`, as a workload with a federated credential receives it.
pub fn entra_app_token_claims(
    tid: &str,
    oid: &str,
    audience: &str,
    now: u64,
    token_id: &str,
) -> Value {
    json!({
        "aud": audience,
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "aio": "k2BgYDh4test",
        "azp": "11111111-2222-3333-4444-555555555555",
        "azpacr": "2",
        "idtyp": "app",
        "oid": oid,
        "rh": "0.test.",
        "sub": oid,
        "tid": tid,
        "uti": token_id,
        "ver": "2.0",
        "xms_ftd": "test",
    })
}

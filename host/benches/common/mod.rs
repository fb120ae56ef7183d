//! Setup shared by the benchmarks that run the whole service.

use serde_json::json;

pub const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
pub const AUD: &str = "api://AzureADTokenExchange";

/// Creates user `bench` with an Entra ID policy for (TID, OID).
pub async fn bench_user_and_policy(http: &reqwest::Client, base: &str, admin: &str) {
    http.post(format!("{base}/admin/users"))
        .bearer_auth(admin)
        .json(&json!({"username": "bench"}))
        .send()
        .await
        .expect("user");
    http.post(format!("{base}/admin/policies"))
        .bearer_auth(admin)
        .json(&json!({"username": "bench", "provider": "entra-id", "owner": "bench", "criteria": {"tid": TID, "oid": OID}}))
        .send()
        .await
        .expect("policy");
}

//! The HTTP handlers in-process, through `warp::test` (no socket, no
//! process): each endpoint's status, body shape and headers, and what time
//! does to keys and first-use windows, on a clock the test moves instead of
//! sleeping. What needs a real process (signals, SIGKILL, logs, the CLI)
//! stays in the other modules.

use serde_json::{Value, json};
use trustpub_tests::in_process::InProcessServer;
use trustpub_tests::server::{OID, TestServer, entra_token, github_criteria, github_token, job};

const NO_POLICY_TRUSTS: &str = "no trusted publishing policy of this user trusts this token";

fn key_of(body: &Value) -> String {
    body["apiKey"].as_str().expect("apiKey").to_string()
}

async fn entra_server(settings: &str) -> InProcessServer {
    TestServer::new().settings(settings).in_process().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_answers_a_key_that_no_one_caches() {
    let s = entra_server("").await;
    let token = entra_token(&s.entra, OID);
    let (status, body, headers) = s.exchange(&token, "contoso").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tokenType"], "ApiKey");
    assert!(key_of(&body).starts_with("tpk_"));
    assert!(body["expires"].as_str().is_some_and(|e| e.ends_with('Z')));
    assert_eq!(headers["cache-control"], "no-store");

    // The same token again is a replay; errors are JSON with a Bearer challenge.
    let (status, body, headers) = s.exchange(&token, "contoso").await;
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("already been used"))
    );
    assert_eq!(headers["www-authenticate"], "Bearer");

    let (status, body, _) = s
        .send(
            s.request("POST", "/api/v2/token")
                .json(&json!({"username": "contoso", "tokenType": "ApiKey"})),
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("missing credentials"))
    );

    let (status, body, _) = s
        .send(
            s.request("POST", "/api/v2/token")
                .header(
                    "authorization",
                    format!("Bearer {}", entra_token(&s.entra, OID)),
                )
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a valid JSON object"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_inactive() {
    let s = entra_server("key_lifetime_seconds = 1").await;
    let (status, body, _) = s.exchange(&entra_token(&s.entra, OID), "contoso").await;
    assert_eq!(status, 200);
    let key = key_of(&body);
    assert_eq!(s.introspect(&key).await["active"], true);
    s.advance(2);
    assert_eq!(s.introspect(&key).await, json!({"active": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_has_expired_by_the_services_clock_is_refused() {
    let s = entra_server("").await;
    let token = entra_token(&s.entra, OID);
    s.advance(2 * 3600);
    let (status, body, _) = s.exchange(&token, "contoso").await;
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("expired")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_policy_lapses_and_can_be_renewed() {
    let s = TestServer::new()
        .github()
        .without_policy()
        .settings("first_use_window_seconds = 1")
        .in_process()
        .await;
    let github = s.github.as_ref().expect("github idp");
    let policy_id = s
        .policy("contoso", "github-actions", github_criteria(None))
        .await;
    s.advance(2);

    let token = github_token(github, &job());
    let (status, body, _) = s.exchange(&token, "contoso").await;
    assert_eq!(status, 401, "lapsed");
    let error = body["error"].as_str().expect("error");
    assert!(
        error.contains(&format!("policy {policy_id}")) && error.contains("renew"),
        "{error}"
    );
    // A token that would not match learns nothing about the lapsed policy.
    let mut other = job();
    other.repository = "other".into();
    let (_, body, _) = s.exchange(&github_token(github, &other), "contoso").await;
    assert_eq!(body["error"], NO_POLICY_TRUSTS);

    let (status, _, _) = s
        .send(s.admin("POST", &format!("/admin/policies/{policy_id}/renew")))
        .await;
    assert_eq!(status, 200);
    // The token was not consumed by the refusal.
    let (status, body, _) = s.exchange(&token, "contoso").await;
    assert_eq!(status, 200, "renewed policy matches: {body}");
    // Once pinned, the window no longer applies.
    s.advance(2);
    let (status, body, _) = s.exchange(&github_token(github, &job()), "contoso").await;
    assert_eq!(status, 200, "pinned policies do not lapse: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_and_revocation_answer_in_their_documented_shapes() {
    let s = entra_server("").await;
    let (_, body, _) = s.exchange(&entra_token(&s.entra, OID), "contoso").await;
    let key = key_of(&body);
    let info = s.introspect(&key).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "api_key");
    assert_eq!(info["username"], "contoso");
    assert_eq!(info["provider"], "entra-id");
    assert_eq!(info["policy_id"], s.policy_id.expect("policy"));
    assert_eq!(info["scopes"], json!([{"packages": "*", "actions": ["*"]}]));
    assert!(info["exp"].as_u64() > info["iat"].as_u64());

    let revoke = || {
        s.request("DELETE", "/api/v2/token")
            .header("x-nuget-apikey", &key)
    };
    let (status, body, _) = s.send(revoke()).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(s.introspect(&key).await, json!({"active": false}));
    // Again, or for a key that never existed: the same answer.
    assert_eq!(s.send(revoke()).await.0, 204);
    let (status, _, _) = s.send(s.request("DELETE", "/api/v2/token")).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_api_answers_each_call_in_its_shape() {
    let s = entra_server("").await;
    let (status, body, _) = s
        .send(
            s.admin("POST", "/admin/users")
                .json(&json!({"username": "fabrikam"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["username"], "fabrikam");
    assert!(
        body["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let (status, _, _) = s
        .send(
            s.admin("POST", "/admin/users")
                .json(&json!({"username": "fabrikam"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, body, _) = s
        .send(s.admin("POST", "/admin/users").json(&json!({"name": "x"})))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("expected {\"username\": \"...\"}"))
    );
    let (status, body, _) = s.send(s.admin("GET", "/admin/users")).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(2));

    let policy = json!({"username": "fabrikam", "provider": "entra-id", "owner": "fabrikam",
        "criteria": {"tid": trustpub_tests::server::TID, "oid": OID},
        "scopes": [{"packages": "Fabrikam.*", "actions": ["package:push"]}]});
    let (status, created, _) = s
        .send(s.admin("POST", "/admin/policies").json(&policy))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_u64().expect("id");
    assert_eq!(created["criteria"]["oid"], OID);
    assert_eq!(created["pins"], json!({}));
    assert_eq!(created["last_used_at"], Value::Null);

    let mut bad = policy.clone();
    bad["criteria"] = json!({"oid": OID});
    let (status, body, _) = s.send(s.admin("POST", "/admin/policies").json(&bad)).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("invalid criteria"))
    );
    bad["provider"] = json!("gitlab");
    let (status, body, _) = s.send(s.admin("POST", "/admin/policies").json(&bad)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unknown provider 'gitlab'"))
    );

    let (status, body, _) = s
        .send(s.admin("GET", "/admin/policies?username=fabrikam"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([created]));
    assert_eq!(
        s.send(s.admin("GET", &format!("/admin/policies/{id}")))
            .await
            .1,
        created
    );
    let (status, renewed, _) = s
        .send(s.admin("POST", &format!("/admin/policies/{id}/renew")))
        .await;
    assert_eq!((status, renewed["id"].as_u64()), (200, Some(id)));
    let (status, body, _) = s
        .send(s.admin("DELETE", &format!("/admin/policies/{id}")))
        .await;
    assert_eq!((status, body), (204, Value::Null));
    let (status, body, _) = s
        .send(s.admin("GET", &format!("/admin/policies/{id}")))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some(format!("policy {id} not found").as_str()))
    );

    let (status, body, _) = s.send(s.admin("GET", "/admin/evaluators")).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["provider"], "entra-id");
    assert!(
        body[0]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:") && d.len() == 71)
    );
    assert_eq!(body[0]["previous_digest"], Value::Null);
    let (status, body, _) = s
        .send(s.admin("POST", "/admin/evaluators/entra-id/rollback"))
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _, _) = s
        .send(s.admin("POST", "/admin/evaluators/gitlab/rollback"))
        .await;
    assert_eq!(status, 404);

    // Each change above is audited, newest first, as the admin API's.
    let (status, actions, _) = s.send(s.admin("GET", "/admin/audit?kind=actions")).await;
    assert_eq!(status, 200);
    let outcomes: Vec<&str> = actions
        .as_array()
        .expect("list")
        .iter()
        .filter(|e| e["username"] == "fabrikam")
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes,
        ["policy-deleted", "policy-renewed", "policy-created"]
    );
    assert_eq!(actions[0]["subject"], "admin-api");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_methods_and_credentials_get_json_errors() {
    let s = entra_server("").await;
    let (status, body, _) = s.send(s.request("GET", "/nope")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("no such endpoint"))
    );
    let (status, body, _) = s.send(s.request("PATCH", "/api/v2/token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method not allowed"))
    );
    let (status, body, headers) = s.send(s.request("GET", "/admin/users")).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("missing credentials"))
    );
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = s
        .send(
            s.request("GET", "/admin/users")
                .header("authorization", "Bearer wrong-token-0123456789"),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_describe_the_service() {
    let s = entra_server("").await;
    let (status, body, _) = s.send(s.request("GET", "/healthz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["storage"], true);
    assert_eq!(body["providers"][0]["name"], "entra-id");
    assert_eq!(body["providers"][0]["keys"], 1);

    s.exchange(&entra_token(&s.entra, OID), "contoso").await;
    let response = warp::test::request()
        .path("/metrics")
        .reply(&trustpub::server::routes(s.state.clone()))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain"))
    );
    let text = String::from_utf8_lossy(response.body());
    assert!(
        text.lines()
            .any(|l| l.starts_with("trustpub_exchanges_total") && l.contains("minted")),
        "{text}"
    );
}

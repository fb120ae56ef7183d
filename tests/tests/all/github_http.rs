//! GitHub Actions over HTTP: the NuGet/login client unchanged, identifier
//! pinning against resurrected repositories, and both evaluators in one
//! server. (The first-use window is tested in-process, in `handlers.rs`,
//! on a clock the test moves.)

use reqwest::Method;
use serde_json::{Value, json};
use trustpub::idp::github_actions_claims;
use trustpub_tests::server::{
    OID, Service, TestServer, entra_token, github_criteria, github_token, job,
};

async fn github_policy(svc: &Service, username: &str, environment: Option<&str>) -> u64 {
    let r = svc
        .admin(Method::POST, "/admin/users")
        .json(&json!({"username": username}))
        .send()
        .await
        .expect("send");
    assert!(r.status() == 201 || r.status() == 409);
    let criteria = github_criteria(environment);
    let r = svc
        .admin(Method::POST, "/admin/policies")
        .json(&json!({"username": username, "provider": "github-actions", "owner": username, "criteria": criteria}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.expect("json")["id"]
        .as_u64()
        .expect("id")
}

/// What the NuGet/login action does: POST with the OIDC token as Bearer and
/// its user agent; read `apiKey` from a 200 and the string `error` otherwise.
async fn nuget_login(svc: &Service, token: &str, username: &str) -> Result<String, String> {
    let r = svc
        .http
        .post(svc.url("/api/v2/token"))
        .header("Authorization", format!("Bearer {token}"))
        .header("User-Agent", "nuget/login-action")
        .header("Content-Type", "application/json")
        .body(json!({"username": username, "tokenType": "ApiKey"}).to_string())
        .send()
        .await
        .expect("send");
    let ok = r.status() == 200;
    let body: Value = r.json().await.expect("JSON body");
    if ok {
        Ok(body["apiKey"]
            .as_str()
            .expect("apiKey is a string")
            .to_string())
    } else {
        Err(body["error"]
            .as_str()
            .expect("error is a string")
            .to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nuget_login_action_works_unchanged() {
    let s = TestServer::new().github().without_policy().spawn().await;
    let (svc, github) = (&s.svc, s.github());
    let policy_id = github_policy(svc, "contoso", Some("release")).await;

    let key = nuget_login(svc, &github_token(github, &job()), "contoso")
        .await
        .expect("a key");
    let info = svc.introspect(&key).await;
    assert_eq!(
        (info["active"].as_bool(), info["provider"].as_str()),
        (Some(true), Some("github-actions"))
    );

    // The policy now carries the repository's ids.
    let policy: Value = svc.get_json(&format!("/admin/policies/{policy_id}")).await;
    assert_eq!(
        policy["pins"],
        json!({"repository_id": "2000", "repository_owner_id": "1000"})
    );
    assert!(policy["last_used_at"].is_string());

    // A failure reaches the action as a string `error`.
    let mut other = job();
    other.workflow = "ci.yml".into();
    let error = nuget_login(svc, &github_token(github, &other), "contoso")
        .await
        .expect_err("no policy");
    assert_eq!(
        error,
        "no trusted publishing policy of this user trusts this token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resurrected_repository_does_not_match_a_pinned_policy() {
    let s = TestServer::new().github().without_policy().spawn().await;
    let (svc, github) = (&s.svc, s.github());
    github_policy(svc, "contoso", None).await;
    nuget_login(svc, &github_token(github, &job()), "contoso")
        .await
        .expect("first use pins the ids");

    // The account and repository are deleted and registered again by someone
    // else: same names, new ids.
    let mut impostor = job();
    impostor.owner_id = 31337;
    impostor.repository_id = 31338;
    let error = nuget_login(svc, &github_token(github, &impostor), "contoso")
        .await
        .expect_err("pinned");
    assert_eq!(
        error,
        "no trusted publishing policy of this user trusts this token"
    );
    let mut new_repo_only = job();
    new_repo_only.repository_id = 31338;
    assert!(
        nuget_login(svc, &github_token(github, &new_repo_only), "contoso")
            .await
            .is_err()
    );
    // The genuine repository still works.
    nuget_login(svc, &github_token(github, &job()), "contoso")
        .await
        .expect("genuine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_never_pins() {
    let s = TestServer::new().github().without_policy().spawn().await;
    let (svc, github) = (&s.svc, s.github());
    let policy_id = github_policy(svc, "contoso", Some("release")).await;
    // Right repository, ids of an impostor, but the wrong environment: no match, no pin.
    let mut wrong = job();
    wrong.environment = Some("staging".into());
    wrong.repository_id = 31338;
    assert!(
        nuget_login(svc, &github_token(github, &wrong), "contoso")
            .await
            .is_err()
    );
    let policy: Value = svc.get_json(&format!("/admin/policies/{policy_id}")).await;
    assert_eq!(policy["pins"], json!({}));
    nuget_login(svc, &github_token(github, &job()), "contoso")
        .await
        .expect("genuine first use");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_id_and_github_tokens_in_one_server() {
    let s = TestServer::new().github().without_policy().spawn().await;
    let (svc, github) = (&s.svc, s.github());
    svc.user_with_policy("contoso", OID).await;
    github_policy(svc, "contoso", None).await;

    let entra_key = nuget_login(svc, &entra_token(&s.entra, OID), "contoso")
        .await
        .expect("entra");
    let github_key = nuget_login(svc, &github_token(github, &job()), "contoso")
        .await
        .expect("github");
    assert_eq!(svc.introspect(&entra_key).await["provider"], "entra-id");
    assert_eq!(
        svc.introspect(&github_key).await["provider"],
        "github-actions"
    );
    // A GitHub token signed by the Entra IdP's key: routed to github-actions,
    // whose keys do not include it.
    let forged = s
        .entra
        .mint(&github_actions_claims(
            &job(),
            "https://www.nuget.org",
            1,
            "x",
        ))
        .expect("mint");
    assert!(
        nuget_login(svc, &forged, "contoso")
            .await
            .expect_err("wrong keys")
            .contains("signature")
    );
}

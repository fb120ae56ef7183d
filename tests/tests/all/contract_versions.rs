//! Contract 0.2 end to end on the real binary: a frozen 0.1 component and
//! 0.2 components side by side, a 0.2 version deployed over a 0.1 one,
//! exchanges without a username, one evaluator serving two providers with
//! their own issuers and keys, and rejections counted by check.

use reqwest::Method;
use serde_json::{Value, json};
use trustpub_tests::server::{
    OID, Service, config_with_evaluator, entra_token, github_claims, github_criteria, github_token,
    job, start_idp,
};

/// The entra-id evaluator as released with contract 0.1 (see
/// `tests/fixtures/contract-0.1/README.md`).
fn entra_0_1() -> std::path::PathBuf {
    trustpub_tests::root().join("tests/fixtures/contract-0.1/entra-id.wasm")
}

async fn evaluators(svc: &Service) -> Value {
    svc.get_json("/admin/evaluators").await
}

fn contract_of(evaluators: &Value, provider: &str) -> String {
    evaluators
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["provider"] == provider)
        .and_then(|e| e["contract"].as_str())
        .unwrap_or_else(|| panic!("no {provider} in {evaluators}"))
        .to_string()
}

#[tokio::test]
async fn a_0_1_and_a_0_2_evaluator_serve_side_by_side_and_0_2_deploys_over_0_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entra = start_idp("k1").await;
    let github = start_idp("github").await;
    // Deploys write the component file: give the server its own copy.
    let evaluator = dir.path().join("entra-id.wasm");
    std::fs::copy(entra_0_1(), &evaluator).expect("copy fixture");
    let config = format!(
        r#"{entra}
[[providers]]
name = "github-actions"
evaluator = "{gh}"
jwks_url = "{jwks}"
[providers.config]
audience = "https://www.nuget.org"
"#,
        entra = config_with_evaluator(&dir.path().join("db.sqlite"), &entra, "", &evaluator),
        gh = trustpub_tests::component("github-actions").display(),
        jwks = github.jwks_url(),
    );
    let svc = Service::start(dir.path(), &config);
    let listed = evaluators(&svc).await;
    assert_eq!(contract_of(&listed, "entra-id"), "0.1");
    assert_eq!(contract_of(&listed, "github-actions"), "0.2");

    svc.user_with_policy("contoso", OID).await;
    svc.policy(
        "contoso",
        "github-actions",
        github_criteria(Some("release")),
    )
    .await;

    // 0.1 through the adapter: with a username as before…
    let (status, body, _) = svc.exchange(&entra_token(&entra, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");
    // …and a bad token still names what is wrong, audited under "unnamed".
    let (status, body, _) = svc
        .exchange(
            &entra_token(&entra, "00000000-0000-0000-0000-000000000000"),
            "contoso",
        )
        .await;
    assert_eq!(status, 401, "{body}");
    // Without a username a 0.1 evaluator cannot find policies: a clear 400.
    let (status, body, _) = svc.exchange_as(&entra_token(&entra, OID), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("contract 0.1"),
        "{body}"
    );
    // 0.2 finds the policy by the token alone.
    let (status, body, _) = svc.exchange_as(&github_token(&github, &job()), None).await;
    assert_eq!(status, 200, "{body}");

    // Deploy the 0.2 entra-id over the 0.1 one: policies are indexed for it.
    let bytes = std::fs::read(trustpub_tests::component("entra-id")).expect("component");
    let r = svc
        .admin(Method::PUT, "/admin/evaluators/entra-id")
        .body(bytes)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(contract_of(&evaluators(&svc).await, "entra-id"), "0.2");
    let (status, body, _) = svc.exchange_as(&entra_token(&entra, OID), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = svc.exchange(&entra_token(&entra, OID), "contoso").await;
    assert_eq!(status, 200, "{body}");
}

/// The upgrade path: policies written under a 0.1 evaluator have no index
/// keys; a restart with a 0.2 file indexes them before serving.
#[tokio::test]
async fn a_restart_with_a_0_2_evaluator_indexes_policies_written_under_0_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let entra = start_idp("k1").await;
    let evaluator = dir.path().join("entra-id.wasm");
    std::fs::copy(entra_0_1(), &evaluator).expect("copy fixture");
    let config = config_with_evaluator(&dir.path().join("db.sqlite"), &entra, "", &evaluator);
    let mut svc = Service::start(dir.path(), &config);
    svc.user_with_policy("contoso", OID).await;
    let (status, body, _) = svc.exchange_as(&entra_token(&entra, OID), None).await;
    assert_eq!(status, 400, "0.1 cannot find policies by token: {body}");
    svc.sigkill();

    std::fs::copy(trustpub_tests::component("entra-id"), &evaluator).expect("install 0.2");
    let svc = Service::start(dir.path(), &config);
    assert_eq!(contract_of(&evaluators(&svc).await, "entra-id"), "0.2");
    let (status, body, _) = svc.exchange_as(&entra_token(&entra, OID), None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn without_a_username_the_token_finds_its_user_unless_two_users_trust_it() {
    let s = trustpub_tests::server::TestServer::new()
        .github()
        .without_policy()
        .spawn()
        .await;
    let (svc, github) = (&s.svc, s.github());
    let alice = svc
        .policy("alice", "github-actions", github_criteria(Some("release")))
        .await;

    // One user's policy trusts the token: the key is minted for that user.
    let (status, body, _) = svc.exchange_as(&github_token(github, &job()), None).await;
    assert_eq!(status, 200, "{body}");
    let key = body["apiKey"].as_str().expect("apiKey");
    let introspected = svc.introspect(key).await;
    assert_eq!(introspected["username"], "alice", "{introspected}");
    assert_eq!(introspected["policy_id"], alice, "{introspected}");

    // Bob writes a policy that also matches alice's workflow.
    let bob = svc
        .policy("bob", "github-actions", github_criteria(None))
        .await;
    let (status, body, _) = svc.exchange_as(&github_token(github, &job()), None).await;
    assert_eq!(status, 401, "{body}");
    let error = body["error"].as_str().expect("error");
    assert!(error.contains("more than one user"), "{error}");
    assert!(
        !error.contains("bob") && !error.contains("alice"),
        "no names leak: {error}"
    );

    // Naming the user resolves it, each to their own policy.
    for (user, policy) in [("alice", alice), ("bob", bob)] {
        let (status, body, _) = svc.exchange(&github_token(github, &job()), user).await;
        assert_eq!(status, 200, "{user}: {body}");
        let introspected = svc.introspect(body["apiKey"].as_str().expect("key")).await;
        assert_eq!(introspected["policy_id"], policy, "{introspected}");
    }
}

#[tokio::test]
async fn near_misses_reach_the_audit_and_rejections_are_counted_by_check() {
    let s = trustpub_tests::server::TestServer::new()
        .github()
        .without_policy()
        .spawn()
        .await;
    let (svc, github) = (&s.svc, s.github());
    let policy = svc
        .policy(
            "alice",
            "github-actions",
            json!({"owner": "contoso", "repository": "app", "workflow": "build.yml"}),
        )
        .await;
    let (status, body, _) = svc.exchange(&github_token(github, &job()), "alice").await;
    assert_eq!(status, 401, "{body}");
    let error = body["error"].as_str().expect("error");
    assert!(
        !error.contains("build.yml"),
        "the client never sees near misses: {error}"
    );
    let audit = svc.audit("username=alice").await;
    let event = &audit[0];
    assert_eq!(event["outcome"], "unauthorized", "{audit}");
    let misses = event["near_misses"].as_array().expect("near misses");
    assert_eq!(misses.len(), 1, "{event}");
    assert_eq!(misses[0]["policy_id"], policy);
    let reason = misses[0]["reason"].as_str().expect("reason");
    assert!(
        reason.contains("build.yml") && reason.contains("release.yml"),
        "{reason}"
    );

    // A token for another audience fails the audience check: counted and audited.
    let mut claims = github_claims(&job());
    claims["aud"] = json!("https://elsewhere.example");
    let (status, body, _) = svc
        .exchange(&github.mint(&claims).expect("mint"), "alice")
        .await;
    assert_eq!(status, 401, "{body}");
    let audit = svc.audit("username=alice").await;
    assert_eq!(audit[0]["outcome"], "bad-token", "{audit}");
    assert_eq!(audit[0]["check"], "audience", "{audit}");
    let metrics = svc.metrics().await;
    assert!(
        metrics
            .contains(r#"trustpub_rejections_total{provider="github-actions",check="audience"} 1"#),
        "{metrics}"
    );
}

/// `github-com` runs the evaluator for its own issuers (keys at
/// `public_jwks`); `github-ghes` runs the same evaluator for one exact
/// issuer with other keys.
fn two_github_providers(
    db: &std::path::Path,
    public_jwks: &str,
    ghes_issuer: &str,
    ghes_jwks: &str,
) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
database = "sqlite://{db}"
admin_token = "{admin}"

[[providers]]
name = "github-com"
evaluator_name = "github-actions"
evaluator = "{evaluator}"
jwks_url = "{public_jwks}"
[providers.config]
audience = "https://www.nuget.org"

[[providers]]
name = "github-ghes"
evaluator_name = "github-actions"
evaluator = "{evaluator}"
evaluator_issuers = false
[[providers.issuers]]
issuer = "{ghes_issuer}"
jwks_url = "{ghes_jwks}"
[providers.config]
audience = "https://www.nuget.org"
"#,
        db = db.display(),
        admin = trustpub_tests::server::ADMIN_TOKEN,
        evaluator = trustpub_tests::component("github-actions").display(),
    )
}

#[tokio::test]
async fn one_evaluator_serves_two_providers_each_with_its_issuers_and_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let public = start_idp("public").await;
    let ghes = start_idp("ghes").await;
    let config = two_github_providers(
        &dir.path().join("db.sqlite"),
        &public.jwks_url(),
        &ghes.base_url(),
        &ghes.jwks_url(),
    );
    let svc = Service::start(dir.path(), &config);
    let com = svc
        .policy("alice", "github-com", github_criteria(None))
        .await;
    let internal = svc
        .policy("alice", "github-ghes", github_criteria(None))
        .await;

    let ghes_claims = || {
        let mut claims = github_claims(&job());
        claims["iss"] = json!(ghes.base_url());
        claims
    };
    // Each token goes to its own provider and policy.
    let (status, body, _) = svc.exchange(&github_token(&public, &job()), "alice").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        svc.introspect(body["apiKey"].as_str().expect("key")).await["policy_id"],
        com
    );
    let (status, body, _) = svc
        .exchange(&ghes.mint(&ghes_claims()).expect("mint"), "alice")
        .await;
    assert_eq!(status, 200, "{body}");
    let introspected = svc.introspect(body["apiKey"].as_str().expect("key")).await;
    assert_eq!(introspected["policy_id"], internal, "{introspected}");
    assert_eq!(introspected["provider"], "github-ghes", "{introspected}");

    // A token naming the self-hosted issuer but signed with the public
    // provider's key is verified only with the self-hosted keys: refused.
    let (status, body, _) = svc
        .exchange(&public.mint(&ghes_claims()).expect("mint"), "alice")
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(svc.audit("username=alice").await[0]["check"], "signature");
}

/// Start-up and every deploy pass the same admission (`evaluators::admission::admit`),
/// so refusing the ambiguous configuration here covers both.
#[tokio::test]
async fn providers_that_could_both_take_one_issuer_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idp = start_idp("k").await;
    // `github-ghes` adds an exact issuer that `github-com`'s evaluator
    // patterns already take: which provider gets such a token would depend
    // on the configuration's order.
    let config = two_github_providers(
        &dir.path().join("db.sqlite"),
        &idp.jwks_url(),
        "https://token.actions.githubusercontent.com/acme",
        &idp.jwks_url(),
    );
    let config_path = dir.path().join("trustpub.toml");
    std::fs::write(&config_path, &config).expect("write config");
    let out = trustpub_tests::run_trustpub(
        &["serve", "--config", config_path.to_str().expect("utf-8")],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("could both take tokens")
            && stderr.contains("https://token.actions.githubusercontent.com/{"),
        "{stderr}"
    );
}

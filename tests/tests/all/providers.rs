//! Every identity provider in one server: each evaluator with its own test
//! IdP (keys) and its own issuers, one successful exchange per provider with
//! the policy created through the admin API, so routing by issuer stays
//! unambiguous with all of them configured at once; and the first-use window
//! of pinning providers (in-process, on a clock the test moves).

use std::path::Path;

use serde_json::{Value, json};
use trustpub::idp::{SAMPLES, TestIdpServer};
use trustpub_tests::in_process::InProcessServer;
use trustpub_tests::server::{
    ADMIN_TOKEN, AUDIENCE, OID, Service, TID, entra_token, github_criteria, github_token, job,
    sample_token, start_idp,
};

/// Every provider the server runs: entra-id, github-actions, then the
/// evaluators whose tokens are their crate's sample claims.
const PROVIDERS: &[&str] = &[
    "entra-id",
    "github-actions",
    "gitlab",
    "forgejo-actions",
    "generic-oidc",
    "bitbucket-pipelines",
    "circleci",
    "buildkite",
    "google-cloud",
];

const NUGET: &str = "https://www.nuget.org";
/// The operator's own issuer of the generic-oidc provider (its sample's `iss`).
const GENERIC_ISSUER: &str = "https://oidc.ci.contoso.example";

/// The audience each provider is configured with: the one its tokens carry.
fn audience(provider: &str) -> String {
    match provider {
        "entra-id" => AUDIENCE.into(),
        "github-actions" => NUGET.into(),
        sample => {
            let (_, json) = SAMPLES
                .iter()
                .find(|(n, _)| *n == sample)
                .expect("a sample");
            let claims: Value = serde_json::from_str(json).expect("sample JSON");
            claims["aud"].as_str().expect("one audience").into()
        }
    }
}

/// A `[[providers]]` block with its own keys at `idp`.
fn provider_block(provider: &str, idp: &TestIdpServer) -> String {
    let evaluator = trustpub_tests::component(provider);
    let (evaluator, jwks, aud) = (evaluator.display(), idp.jwks_url(), audience(provider));
    let head = format!("\n[[providers]]\nname = \"{provider}\"\nevaluator = \"{evaluator}\"\n");
    match provider {
        // Bring your own issuer: no evaluator patterns, one exact issuer.
        "generic-oidc" => format!(
            r#"{head}evaluator_issuers = false
[[providers.issuers]]
issuer = "{GENERIC_ISSUER}"
jwks_url = "{jwks}"
[providers.config]
audience = "{aud}"
claims = ["repository", "repository_id", "ref"]
immutable_claims = ["repository_id"]
"#
        ),
        _ => format!("{head}jwks_url = \"{jwks}\"\n[providers.config]\naudience = \"{aud}\"\n"),
    }
}

/// The whole configuration: each of `providers` with its test IdP.
fn config(db: &Path, providers: &[(&str, TestIdpServer)], extra: &str) -> String {
    let mut config = format!(
        "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite://{}\"\nadmin_token = \"{ADMIN_TOKEN}\"\n{extra}\n",
        db.display()
    );
    for (provider, idp) in providers {
        config.push_str(&provider_block(provider, idp));
    }
    config
}

async fn idps(providers: &[&'static str]) -> Vec<(&'static str, TestIdpServer)> {
    let mut idps = Vec::new();
    for provider in providers {
        idps.push((*provider, start_idp(&format!("{provider}-key")).await));
    }
    idps
}

/// A valid token of `provider` from its IdP, and criteria of a policy trusting it.
fn token_and_criteria(provider: &str, idp: &TestIdpServer) -> (String, Value) {
    match provider {
        "entra-id" => (entra_token(idp, OID), json!({"tid": TID, "oid": OID})),
        "github-actions" => (github_token(idp, &job()), github_criteria(Some("release"))),
        sample => (sample_token(idp, sample, &[]), sample_criteria(sample)),
    }
}

/// Criteria trusting the sample token of evaluator `sample`.
fn sample_criteria(sample: &str) -> Value {
    match sample {
        "gitlab" => {
            json!({"namespace": "contoso/tools", "project": "app", "ci_config_path": ".gitlab-ci.yml", "environment": "release"})
        }
        "forgejo-actions" => {
            json!({"owner": "contoso", "repository": "app", "workflow": "release.yml"})
        }
        "generic-oidc" => json!({
            "sub": "repo:contoso/app:ref:refs/heads/main",
            "conditions": {"repository_id": "678901234", "ref": "refs/heads/*"}
        }),
        "bitbucket-pipelines" => json!({
            "workspace_uuid": "{e2b9cba7-4ecf-452c-bb1c-87add4084c99}",
            "repository_uuid": "{8864cd24-449d-4441-8862-cf4fe8ad6caa}"
        }),
        "circleci" => json!({
            "organization_id": "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
            "project_id": "3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c"
        }),
        "buildkite" => json!({"organization": "acme-inc", "pipeline": "super-duper-app"}),
        "google-cloud" => json!({"email": "release@contoso-app.iam.gserviceaccount.com"}),
        other => panic!("no criteria for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_exchanges_in_one_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idps = idps(PROVIDERS).await;
    let svc = Service::start(
        dir.path(),
        &config(&dir.path().join("db.sqlite"), &idps, ""),
    );

    for (provider, idp) in &idps {
        let user = format!("user-{provider}");
        let (token, criteria) = token_and_criteria(provider, idp);
        let policy_id = svc.policy(&user, provider, criteria).await;
        let (status, body, _) = svc.exchange(&token, &user).await;
        assert_eq!(status, 200, "{provider}: {body}");
        let key = body["apiKey"].as_str().expect("apiKey");
        let info = svc.introspect(key).await;
        assert_eq!(info["provider"], *provider, "{provider}: {info}");
        let policy = svc.get_json(&format!("/admin/policies/{policy_id}")).await;
        let pinned = policy["pins"].as_object().is_some_and(|p| !p.is_empty());
        let pins = match *provider {
            "github-actions" | "gitlab" | "forgejo-actions" => Some(true),
            "entra-id" | "generic-oidc" => Some(false),
            _ => None,
        };
        assert!(
            pins.is_none_or(|pins| pins == pinned),
            "{provider} pins: {policy}"
        );
    }

    // Keys are per issuer: a GitLab token signed by the Forgejo IdP's key
    // routes to gitlab by its issuer, whose keys refuse it.
    let forgejo = &idps
        .iter()
        .find(|(p, _)| *p == "forgejo-actions")
        .expect("forgejo")
        .1;
    let forged = sample_token(forgejo, "gitlab", &[]);
    let (status, body, _) = svc.exchange(&forged, "user-gitlab").await;
    assert_eq!(status, 401, "{body}");
    // The generic provider takes only the issuer the operator listed.
    let generic = &idps
        .iter()
        .find(|(p, _)| *p == "generic-oidc")
        .expect("generic")
        .1;
    let other = sample_token(
        generic,
        "generic-oidc",
        &[("iss", json!("https://elsewhere.example"))],
    );
    let (status, body, _) = svc.exchange(&other, "user-generic-oidc").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpinned_policies_of_pinning_providers_lapse_after_the_first_use_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut idps = idps(&["entra-id", "gitlab", "forgejo-actions", "generic-oidc"]).await;
    let text = config(
        &dir.path().join("db.sqlite"),
        &idps,
        "first_use_window_seconds = 60",
    );
    let entra = idps.remove(0).1;
    let s = InProcessServer::from_config(dir, entra, &text).await;

    for (provider, idp) in &idps {
        let user = format!("user-{provider}");
        let (token, criteria) = token_and_criteria(provider, idp);
        let policy_id = s.policy(&user, provider, criteria).await;
        s.advance(61);
        let (status, body, _) = s.exchange(&token, &user).await;
        if *provider == "generic-oidc" {
            // No pins, so no first-use window: policies state their ids.
            assert_eq!(status, 200, "{provider}: {body}");
            continue;
        }
        assert_eq!(status, 401, "{provider} lapsed: {body}");
        let error = body["error"].as_str().expect("error");
        assert!(
            error.contains(&format!("policy {policy_id}")) && error.contains("renew"),
            "{error}"
        );

        let renew = format!("/admin/policies/{policy_id}/renew");
        assert_eq!(s.send(s.admin("POST", &renew)).await.0, 200);
        let (status, body, _) = s.exchange(&token, &user).await;
        assert_eq!(status, 200, "{provider} renewed: {body}");
        // Pinned now: the window no longer applies.
        s.advance(61);
        let (status, body, _) = s
            .exchange(&token_and_criteria(provider, idp).0, &user)
            .await;
        assert_eq!(status, 200, "{provider} pinned: {body}");
    }
}

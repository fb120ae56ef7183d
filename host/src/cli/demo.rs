//! `trustpub demo`: a full exchange on loopback, printed step by step — a
//! local test IdP, the service on an embedded SQLite file, an operator
//! setting up a policy, and a CI job trading its OIDC token for an API key.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::api_key::ApiKey;
use crate::clock::unix_now;
use crate::config::{ProviderSettings, Settings};
use crate::idp::{TestIdp, TestIdpServer, entra_app_token_claims};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The Entra ID evaluator component.
    #[arg(long, default_value = "target/components/entra-id.wasm")]
    pub evaluator: PathBuf,
}

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "0d5a3b1c-7e21-4c8e-9f6d-1b2a3c4d5e6f";
const AUDIENCE: &str = "api://AzureADTokenExchange";

pub async fn run(args: &DemoArgs) -> Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));

    step("1. Start a local test identity provider (RS256 key, discovery + JWKS over HTTP)");
    let idp = TestIdpServer::start(TestIdp::rs256("demo-key-1")?, loopback).await?;
    println!("   JWKS at {}", idp.jwks_url());

    step("2. Start trustpub on loopback with an embedded SQLite database");
    // A random admin token, never printed: the demo only uses it itself.
    let admin_token = ApiKey::generate()?.expose().to_string();
    let database = dir.path().join("trustpub.db");
    let settings = Settings {
        listen: loopback,
        database: format!("sqlite://{}", database.display()),
        admin_token: Some(admin_token.clone()),
        providers: vec![ProviderSettings::new(
            "entra-id",
            args.evaluator.clone(),
            &idp.jwks_url(),
            toml::toml! { audience = "api://AzureADTokenExchange" },
        )],
        ..Settings::default()
    };
    let server = crate::server::start(&settings).await.with_context(|| {
        format!(
            "cannot start (is {} built? `cargo xtask components`)",
            args.evaluator.display()
        )
    })?;
    let base = format!("http://{}", server.addr);
    println!("   listening on {base}, database {}", database.display());
    let http = reqwest::Client::new();
    let admin = |req: reqwest::RequestBuilder| req.bearer_auth(&admin_token);

    step(
        "3. The operator creates user 'contoso' and a policy trusting one Entra ID service principal",
    );
    show(
        admin(http.post(format!("{base}/admin/users"))).json(&json!({"username": "contoso"})),
        "POST /admin/users",
    )
    .await?;
    let policy = json!({"username": "contoso", "provider": "entra-id", "owner": "contoso",
        "criteria": {"tid": TID, "oid": OID}, "scopes": [{"packages": "Contoso.*", "actions": ["package:push"]}]});
    show(
        admin(http.post(format!("{base}/admin/policies"))).json(&policy),
        "POST /admin/policies",
    )
    .await?;

    step("4. The CI job's platform issues it an app-only Entra ID token (minted by the test IdP)");
    let token = idp.mint(&entra_app_token_claims(
        TID,
        OID,
        AUDIENCE,
        unix_now(),
        "demo-uti-1",
    ))?;
    println!("   {}… ({} bytes)", &token[..32], token.len());

    step("5. The CI job exchanges it, as the NuGet/login action does");
    let exchange = || {
        http.post(format!("{base}/api/v2/token"))
            .bearer_auth(&token)
            .header("User-Agent", "nuget/login-action")
            .json(&json!({"username": "contoso", "tokenType": "ApiKey"}))
    };
    let minted = show(exchange(), "POST /api/v2/token").await?;
    let Some(api_key) = minted["apiKey"].as_str().map(str::to_string) else {
        bail!("the exchange did not return an apiKey");
    };

    step("6. The registry introspects the key before accepting a push");
    let introspect = || {
        admin(http.post(format!("{base}/api/v2/token/introspect")))
            .form(&[("token", api_key.as_str())])
    };
    show(introspect(), "POST /api/v2/token/introspect").await?;

    step("7. The same OIDC token again: a replay, rejected");
    show(exchange(), "POST /api/v2/token").await?;

    step("8. The job is done and revokes its key; introspection now says inactive");
    show(
        http.delete(format!("{base}/api/v2/token"))
            .header("X-NuGet-ApiKey", &api_key),
        "DELETE /api/v2/token",
    )
    .await?;
    show(introspect(), "POST /api/v2/token/introspect").await?;

    step("9. The next job names no user: its token's tenant and object id find the policy");
    let next = idp.mint(&entra_app_token_claims(
        TID,
        OID,
        AUDIENCE,
        unix_now(),
        "demo-uti-2",
    ))?;
    show(
        http.post(format!("{base}/api/v2/token"))
            .bearer_auth(&next)
            .json(&json!({"tokenType": "ApiKey"})),
        "POST /api/v2/token",
    )
    .await?;

    step(
        "10. The audit log: every attempt, with outcome and evaluator digest (never tokens or keys)",
    );
    let audit = admin(http.get(format!("{base}/admin/audit?username=contoso&limit=10")))
        .send()
        .await?
        .json::<Value>()
        .await?;
    for event in audit.as_array().into_iter().flatten() {
        println!(
            "   {} {} policy {} digest {}…",
            event["at"],
            event["outcome"],
            event["policy_id"],
            event["evaluator_digest"]
                .as_str()
                .map(|d| &d[..12.min(d.len())])
                .unwrap_or("-")
        );
    }

    server.stop().await;
    idp.stop().await;
    println!(
        "\nDone: one key minted, used, revoked; one replay refused; one key minted without a username."
    );
    Ok(())
}

/// Sends a request and prints its status and JSON body, with API keys shortened.
async fn show(request: reqwest::RequestBuilder, label: &str) -> Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("{label} failed"))?;
    let status = response.status();
    let text = response.text().await?;
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    let mut shown = body.clone();
    if let Some(key) = shown.get_mut("apiKey") {
        *key = json!(format!(
            "{}…",
            key.as_str()
                .unwrap_or_default()
                .chars()
                .take(10)
                .collect::<String>()
        ));
    }
    println!(
        "   {label} → {status}{}",
        if shown.is_null() {
            String::new()
        } else {
            format!(" {shown}")
        }
    );
    Ok(body)
}

fn step(title: &str) {
    println!("\n{title}");
}

//! `trustpub user …` and `trustpub policy …`: the operator API from the
//! command line, against a running server (`--server`) or directly against
//! the database of a configuration (`--config`), through the same code path.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::server::admin::{Actor, AdminCall, dispatch};

#[derive(Debug, clap::Args)]
pub struct Target {
    /// A running server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(
        long,
        global = true,
        env = "TRUSTPUB_SERVER",
        conflicts_with = "config"
    )]
    pub server: Option<String>,
    /// The server's admin token (prefer the environment variable).
    #[arg(
        long,
        global = true,
        env = "TRUSTPUB_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Work directly on the database (and evaluators) of this configuration.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add { username: String },
    /// List users.
    List,
}

#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Create a policy; the provider's evaluator validates the criteria.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        provider: String,
        /// The package owner keys act for (default: the username).
        #[arg(long)]
        owner: Option<String>,
        /// The criteria as a JSON object, e.g. '{"tid": "...", "oid": "..."}'.
        #[arg(long)]
        criteria: String,
        /// PACKAGES=ACTION[,ACTION]; repeatable, e.g. 'Contoso.*=package:push'.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List policies, all or one user's.
    List {
        #[arg(long)]
        username: Option<String>,
    },
    /// Delete a policy and revoke the keys minted through it.
    Rm { id: u64 },
    /// Restart the first-use window of a policy that is not pinned yet.
    Renew { id: u64 },
}

#[derive(Debug, clap::Args)]
pub struct EvaluatorArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: EvaluatorCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EvaluatorCommand {
    /// Validate and activate a new version of a provider's evaluator.
    Push {
        provider: String,
        component: PathBuf,
    },
    /// Re-activate the version before the current one.
    Rollback { provider: String },
    /// Show each provider's active evaluator and digest.
    List,
}

pub async fn run_evaluator(args: EvaluatorArgs) -> Result<()> {
    let (method, path, call, body) = match args.command {
        EvaluatorCommand::Push {
            provider,
            component,
        } => {
            let bytes = std::fs::read(&component)
                .with_context(|| format!("cannot read {}", component.display()))?;
            let path = format!("/admin/evaluators/{provider}");
            (
                "PUT",
                path,
                AdminCall::DeployEvaluator(provider, bytes.clone().into()),
                Some(Body::Bytes(bytes)),
            )
        }
        EvaluatorCommand::Rollback { provider } => {
            let path = format!("/admin/evaluators/{provider}/rollback");
            ("POST", path, AdminCall::RollbackEvaluator(provider), None)
        }
        EvaluatorCommand::List => (
            "GET",
            "/admin/evaluators".to_string(),
            AdminCall::ListEvaluators,
            None,
        ),
    };
    print(call_api(&args.target, method, &path, call, body).await?)
}

pub async fn run_user(args: UserArgs) -> Result<()> {
    let (method, path, call, body) = match args.command {
        UserCommand::Add { username } => {
            let body = json!({"username": username});
            (
                "POST",
                "/admin/users".to_string(),
                AdminCall::CreateUser(body.to_string().into()),
                Some(Body::Json(body)),
            )
        }
        UserCommand::List => (
            "GET",
            "/admin/users".to_string(),
            AdminCall::ListUsers,
            None,
        ),
    };
    print(call_api(&args.target, method, &path, call, body).await?)
}

pub async fn run_policy(args: PolicyArgs) -> Result<()> {
    let (method, path, call, body) = match args.command {
        PolicyCommand::Add {
            username,
            provider,
            owner,
            criteria,
            scopes,
        } => {
            let criteria: Value =
                serde_json::from_str(&criteria).context("--criteria must be JSON")?;
            let scopes = scopes
                .iter()
                .map(|s| parse_scope(s))
                .collect::<Result<Vec<_>>>()?;
            let owner = owner.unwrap_or_else(|| username.clone());
            let mut body = json!({"username": username, "provider": provider, "owner": owner, "criteria": criteria});
            if !scopes.is_empty() {
                body["scopes"] = json!(scopes);
            }
            (
                "POST",
                "/admin/policies".to_string(),
                AdminCall::CreatePolicy(body.to_string().into()),
                Some(Body::Json(body)),
            )
        }
        PolicyCommand::List { username } => {
            let path = match &username {
                Some(u) => format!("/admin/policies?username={u}"),
                None => "/admin/policies".into(),
            };
            ("GET", path, AdminCall::ListPolicies(username), None)
        }
        PolicyCommand::Rm { id } => (
            "DELETE",
            format!("/admin/policies/{id}"),
            AdminCall::DeletePolicy(id),
            None,
        ),
        PolicyCommand::Renew { id } => (
            "POST",
            format!("/admin/policies/{id}/renew"),
            AdminCall::RenewPolicy(id),
            None,
        ),
    };
    print(call_api(&args.target, method, &path, call, body).await?)
}

fn parse_scope(spec: &str) -> Result<Value> {
    let Some((packages, actions)) = spec.split_once('=') else {
        bail!("--scope takes PACKAGES=ACTION[,ACTION], got {spec:?}");
    };
    Ok(
        json!({"packages": packages, "actions": actions.split(',').map(str::trim).collect::<Vec<_>>()}),
    )
}

/// A request body for the HTTP mode.
enum Body {
    Json(Value),
    Bytes(Vec<u8>),
}

/// One call, over HTTP or directly; returns the JSON answer.
async fn call_api(
    target: &Target,
    method: &str,
    path: &str,
    call: AdminCall,
    body: Option<Body>,
) -> Result<Value> {
    if let Some(config) = &target.config {
        let settings = Settings::load(Some(config), std::env::vars(), &[])?;
        let state = crate::server::build_state(&settings).await?;
        return dispatch(&state, call, &Actor::cli_direct())
            .await
            .map(|(_, v)| v)
            .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.status));
    }
    let Some(server) = &target.server else {
        bail!("say where: --server URL (with TRUSTPUB_ADMIN_TOKEN) or --config trustpub.toml");
    };
    let Some(token) = &target.admin_token else {
        bail!("--server needs the admin token: set TRUSTPUB_ADMIN_TOKEN");
    };
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let method = reqwest::Method::from_bytes(method.as_bytes()).context("method")?;
    let mut request = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(token);
    match body {
        Some(Body::Json(body)) => request = request.json(&body),
        Some(Body::Bytes(bytes)) => {
            request = request
                .header("content-type", "application/wasm")
                .body(bytes)
        }
        None => {}
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await?;
    let value: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if !status.is_success() {
        bail!(
            "{} ({status})",
            value["error"].as_str().unwrap_or("request failed")
        );
    }
    Ok(value)
}

fn print(value: Value) -> Result<()> {
    if !value.is_null() {
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    Ok(())
}

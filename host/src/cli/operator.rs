//! `trustpub user …`, `policy …`, `evaluator …` and `audit`: the operator API from the
//! command line, against a running server (`--server`) or directly against
//! the database of a configuration (`--config`), through the same code path.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::evaluators::signature::{self, signature_path};
use crate::operator::{
    Actor, AuditQuery, MAX_AUDIT_LIMIT, OperatorError, OperatorService, PolicyRequest, views,
};
use crate::store::AuditKind;

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
        /// Its detached signature (default: `<component>.sig` when it exists).
        #[arg(long)]
        signature: Option<PathBuf>,
    },
    /// Make a signing key: writes the secret to FILE (mode 0600) and prints
    /// the public key for the operator's `evaluator_trusted_keys`.
    Keygen {
        #[arg(long = "secret-key")]
        secret_key: PathBuf,
    },
    /// Sign a component: writes `<component>.sig`.
    Sign {
        #[arg(long = "secret-key")]
        secret_key: PathBuf,
        component: PathBuf,
    },
    /// Re-activate the version before the current one.
    Rollback { provider: String },
    /// Show each provider's active evaluator and digest.
    List,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub target: Target,
    /// Only this user's records (the name the request gave, or the policy's user).
    #[arg(long)]
    pub username: Option<String>,
    /// `exchanges` (default), `actions` or `all`.
    #[arg(long, default_value = "exchanges")]
    pub kind: String,
    /// At most this many records, most recent first (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

/// One operator call, as the operator service takes it; over HTTP it is
/// the matching `/admin` request.
enum Call {
    CreateUser(String),
    ListUsers,
    CreatePolicy(PolicyRequest),
    ListPolicies(Option<String>),
    DeletePolicy(u64),
    RenewPolicy(u64),
    ListEvaluators,
    DeployEvaluator(String, Vec<u8>, Option<Vec<u8>>),
    RollbackEvaluator(String),
    Audit(AuditQuery),
}

impl Call {
    /// Method, path and body of the HTTP request.
    fn request(&self) -> (&'static str, String, Option<Body>) {
        match self {
            Self::CreateUser(username) => (
                "POST",
                "/admin/users".into(),
                Some(Body::Json(json!({"username": username}))),
            ),
            Self::ListUsers => ("GET", "/admin/users".into(), None),
            Self::CreatePolicy(request) => (
                "POST",
                "/admin/policies".into(),
                Some(Body::Json(json!(request))),
            ),
            Self::ListPolicies(Some(username)) => {
                let query =
                    serde_urlencoded::to_string([("username", username)]).unwrap_or_default();
                ("GET", format!("/admin/policies?{query}"), None)
            }
            Self::ListPolicies(None) => ("GET", "/admin/policies".into(), None),
            Self::DeletePolicy(id) => ("DELETE", format!("/admin/policies/{id}"), None),
            Self::RenewPolicy(id) => ("POST", format!("/admin/policies/{id}/renew"), None),
            Self::ListEvaluators => ("GET", "/admin/evaluators".into(), None),
            Self::DeployEvaluator(provider, bytes, signature) => (
                "PUT",
                format!("/admin/evaluators/{provider}"),
                Some(Body::Component(bytes.clone(), signature.clone())),
            ),
            Self::RollbackEvaluator(provider) => (
                "POST",
                format!("/admin/evaluators/{provider}/rollback"),
                None,
            ),
            Self::Audit(query) => {
                let mut pairs = vec![
                    ("kind", query.kind.as_str().to_string()),
                    ("limit", query.limit.to_string()),
                ];
                if let Some(username) = &query.username {
                    pairs.push(("username", username.clone()));
                }
                let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
                ("GET", format!("/admin/audit?{query}"), None)
            }
        }
    }

    /// The call on the operator service itself, answered with the JSON the
    /// HTTP API would give.
    async fn direct(self, operator: &OperatorService) -> Result<Value, OperatorError> {
        let actor = Actor::cli_direct();
        Ok(match self {
            Self::CreateUser(username) => views::user(&operator.create_user(username).await?),
            Self::ListUsers => views::list(&operator.list_users().await?, views::user),
            Self::CreatePolicy(request) => {
                views::policy(&operator.create_policy(request, &actor).await?)
            }
            Self::ListPolicies(username) => {
                views::list(&operator.list_policies(username).await?, views::policy)
            }
            Self::DeletePolicy(id) => {
                operator.delete_policy(id, &actor).await?;
                Value::Null
            }
            Self::RenewPolicy(id) => views::policy(&operator.renew_policy(id, &actor).await?),
            Self::ListEvaluators => views::list(&operator.evaluators(), views::evaluator),
            Self::DeployEvaluator(provider, bytes, signature) => views::deployed(
                &operator
                    .deploy_evaluator(provider, bytes, signature, &actor)
                    .await?,
            ),
            Self::RollbackEvaluator(provider) => {
                views::deployed(&operator.rollback_evaluator(provider, &actor).await?)
            }
            Self::Audit(query) => views::list(&operator.audit(query).await?, views::audit_event),
        })
    }
}

pub async fn run_evaluator(args: EvaluatorArgs) -> Result<()> {
    let call = match args.command {
        EvaluatorCommand::Push {
            provider,
            component,
            signature,
        } => {
            let bytes = std::fs::read(&component)
                .with_context(|| format!("cannot read {}", component.display()))?;
            let signature = match signature {
                Some(path) => Some(
                    std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                ),
                None => std::fs::read(signature_path(&component)).ok(),
            };
            Call::DeployEvaluator(provider, bytes, signature)
        }
        EvaluatorCommand::Keygen { secret_key } => return keygen(&secret_key),
        EvaluatorCommand::Sign {
            secret_key,
            component,
        } => return sign(&secret_key, &component),
        EvaluatorCommand::Rollback { provider } => Call::RollbackEvaluator(provider),
        EvaluatorCommand::List => Call::ListEvaluators,
    };
    print(call_api(&args.target, call).await?)
}

/// The audit log: exchange attempts (with the failed check, or each
/// candidate's near miss) and operator actions.
pub async fn run_audit(args: AuditArgs) -> Result<()> {
    let Some(kind) = AuditKind::parse(&args.kind) else {
        bail!("--kind is exchanges, actions or all, not {:?}", args.kind);
    };
    let query = AuditQuery {
        username: args.username,
        kind,
        limit: args.limit.min(MAX_AUDIT_LIMIT),
    };
    print(call_api(&args.target, Call::Audit(query)).await?)
}

pub async fn run_user(args: UserArgs) -> Result<()> {
    let call = match args.command {
        UserCommand::Add { username } => Call::CreateUser(username),
        UserCommand::List => Call::ListUsers,
    };
    print(call_api(&args.target, call).await?)
}

pub async fn run_policy(args: PolicyArgs) -> Result<()> {
    let call = match args.command {
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
            Call::CreatePolicy(PolicyRequest {
                owner: owner.unwrap_or_else(|| username.clone()),
                username,
                provider,
                criteria,
                scopes,
            })
        }
        PolicyCommand::List { username } => Call::ListPolicies(username),
        PolicyCommand::Rm { id } => Call::DeletePolicy(id),
        PolicyCommand::Renew { id } => Call::RenewPolicy(id),
    };
    print(call_api(&args.target, call).await?)
}

fn parse_scope(spec: &str) -> Result<crate::store::Scope> {
    let Some((packages, actions)) = spec.split_once('=') else {
        bail!("--scope takes PACKAGES=ACTION[,ACTION], got {spec:?}");
    };
    Ok(crate::store::Scope {
        packages: packages.to_string(),
        actions: actions.split(',').map(|a| a.trim().to_string()).collect(),
    })
}

/// A request body for the HTTP mode.
enum Body {
    Json(Value),
    /// A component and its signature.
    Component(Vec<u8>, Option<Vec<u8>>),
}

fn keygen(secret_key: &Path) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (secret, public) = signature::generate_key();
    // Never overwrite a key: a lost secret cannot be recovered.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(secret_key)
        .with_context(|| format!("cannot create {}", secret_key.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    println!("{public}");
    eprintln!(
        "secret key written to {}; add the public key above to evaluator_trusted_keys",
        secret_key.display()
    );
    Ok(())
}

fn sign(secret_key: &Path, component: &Path) -> Result<()> {
    let secret = std::fs::read_to_string(secret_key)
        .with_context(|| format!("cannot read {}", secret_key.display()))?;
    let bytes =
        std::fs::read(component).with_context(|| format!("cannot read {}", component.display()))?;
    let signature = signature::sign(&secret, &bytes)?;
    let path = signature_path(component);
    crate::durable_file::write_bytes_durably(&path, format!("{signature}\n").as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

/// One call, over HTTP or directly; returns the JSON answer.
async fn call_api(target: &Target, call: Call) -> Result<Value> {
    if let Some(config) = &target.config {
        let settings = Settings::load(Some(config), std::env::vars(), &[])?;
        let state = crate::server::build_state(&settings).await?;
        return call
            .direct(&state.operator)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"));
    }
    let (method, path, body) = call.request();
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
        Some(Body::Component(bytes, signature)) => {
            request = request
                .header("content-type", "application/wasm")
                .body(bytes);
            if let Some(signature) = signature {
                let text =
                    String::from_utf8(signature).context("the signature file is not text")?;
                request = request.header(signature::SIGNATURE_HEADER, text.trim());
            }
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

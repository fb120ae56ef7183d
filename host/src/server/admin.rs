//! The operator API (`/admin`, bearer admin token) and `/healthz`.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warp::Reply;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::error::{ApiError, respond};
use super::token::bearer;
use super::{AppState, blocking, store_call};
use crate::exchange::unix_now;
use crate::store::{AuditEvent, AuditOutcome, NewPolicy, Scope, StoredPolicy, User};

/// Compares secrets by their digests, so the time taken does not reveal how
/// much of a guess was right.
pub fn same_secret(expected: &str, presented: &str) -> bool {
    Sha256::digest(expected.as_bytes()) == Sha256::digest(presented.as_bytes())
}

pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Err(ApiError::unauthorized(
            "the operator API is disabled: no admin_token is configured",
        ));
    };
    match bearer(headers)? {
        Some(presented) if same_secret(expected, presented) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("invalid admin token")),
        None => Err(ApiError::unauthorized(
            "missing credentials: send 'Authorization: Bearer <admin token>'",
        )),
    }
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// The operator's view of a policy: criteria as JSON, pins as an object.
pub fn policy_json(p: &StoredPolicy) -> Value {
    json!({
        "id": p.id,
        "username": p.username,
        "provider": p.provider,
        "owner": p.owner,
        "criteria": serde_json::from_str::<Value>(&p.criteria).unwrap_or(Value::String(p.criteria.clone())),
        "scopes": p.scopes,
        "pins": p.pins.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
        "created_at": rfc3339(p.created_at),
        "renewed_at": rfc3339(p.renewed_at),
        "last_used_at": p.last_used_at.map(rfc3339),
    })
}

fn user_json(u: &User) -> Value {
    json!({"username": u.username, "created_at": rfc3339(u.created_at)})
}

/// One variant per admin route.
pub enum AdminCall {
    CreateUser(bytes::Bytes),
    ListUsers,
    CreatePolicy(bytes::Bytes),
    ListPolicies(Option<String>),
    GetPolicy(u64),
    DeletePolicy(u64),
    RenewPolicy(u64),
    ListEvaluators,
    DeployEvaluator(String, bytes::Bytes),
    RollbackEvaluator(String),
    Audit {
        username: Option<String>,
        kind: crate::store::AuditKind,
        limit: u32,
    },
}

/// Who asked for an operator action, for its audit record.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `admin-api` (the admin token over HTTP) or `cli-direct` (the CLI on
    /// the database itself).
    pub name: &'static str,
    pub addr: Option<String>,
}

impl Actor {
    pub fn admin_api(addr: Option<std::net::SocketAddr>) -> Self {
        Self {
            name: "admin-api",
            addr: addr.map(|a| a.ip().to_string()),
        }
    }

    pub fn cli_direct() -> Self {
        Self {
            name: "cli-direct",
            addr: None,
        }
    }

    fn event(&self, outcome: AuditOutcome, username: &str) -> AuditEvent {
        AuditEvent {
            at: unix_now(),
            provider: None,
            username: username.to_string(),
            outcome,
            detail: None,
            policy_id: None,
            evaluator_digest: None,
            subject: Some(self.name.to_string()),
            client_addr: self.addr.clone(),
        }
    }
}

/// Records an operator action after it succeeded. The action stands even
/// if its record cannot be written; that failure is logged loudly.
async fn record_action(state: &AppState, event: AuditEvent) {
    if let Err(e) = store_call(state, move |s| s.record_audit(&event)).await {
        tracing::error!(error = %e.message, "cannot record the audit event of an operator action");
    }
}

/// Runs an admin call; the route has already checked the admin token.
pub async fn handle(
    state: Arc<AppState>,
    call: AdminCall,
    remote: Option<std::net::SocketAddr>,
) -> Result<Response, std::convert::Infallible> {
    Ok(respond(
        dispatch(&state, call, &Actor::admin_api(remote))
            .await
            .map(|(status, body)| {
                if status == StatusCode::NO_CONTENT {
                    warp::reply::with_status(warp::reply(), status).into_response()
                } else {
                    json_reply(status, &body)
                }
            }),
    ))
}

/// Runs one operator call: the HTTP API and the CLI's direct mode share it.
/// Changes to policies and evaluators are audited with `actor`.
pub async fn dispatch(
    state: &AppState,
    call: AdminCall,
    actor: &Actor,
) -> Result<(StatusCode, Value), ApiError> {
    match call {
        AdminCall::CreateUser(body) => {
            let body = parse_json(&body)?;
            let username = body
                .get("username")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request("expected {\"username\": \"...\"}"))?
                .to_string();
            validate_name("username", &username)?;
            let user = store_call(state, move |s| s.create_user(&username, unix_now())).await?;
            tracing::info!(username = %user.username, "user created");
            Ok((StatusCode::CREATED, user_json(&user)))
        }
        AdminCall::ListUsers => {
            let users = store_call(state, |s| s.list_users()).await?;
            Ok((
                StatusCode::OK,
                json!(users.iter().map(user_json).collect::<Vec<_>>()),
            ))
        }
        AdminCall::CreatePolicy(body) => {
            let (status, created) = create_policy(state, parse_json(&body)?).await?;
            let mut event = actor.event(
                AuditOutcome::PolicyCreated,
                created["username"].as_str().unwrap_or_default(),
            );
            event.provider = created["provider"].as_str().map(str::to_string);
            event.policy_id = created["id"].as_u64();
            record_action(state, event).await;
            Ok((status, created))
        }
        AdminCall::ListPolicies(username) => {
            let policies = store_call(state, move |s| s.list_policies(username.as_deref())).await?;
            Ok((
                StatusCode::OK,
                json!(policies.iter().map(policy_json).collect::<Vec<_>>()),
            ))
        }
        AdminCall::GetPolicy(id) => {
            let policy = store_call(state, move |s| s.get_policy(id))
                .await?
                .ok_or_else(|| ApiError::not_found(format!("policy {id} not found")))?;
            Ok((StatusCode::OK, policy_json(&policy)))
        }
        AdminCall::DeletePolicy(id) => {
            let policy = store_call(state, move |s| s.get_policy(id)).await?;
            let revoked = store_call(state, move |s| s.delete_policy(id, unix_now())).await?;
            tracing::info!(policy_id = id, keys_revoked = revoked, "policy deleted");
            let mut event = actor.event(
                AuditOutcome::PolicyDeleted,
                policy.as_ref().map_or("", |p| p.username.as_str()),
            );
            event.provider = policy.map(|p| p.provider);
            event.policy_id = Some(id);
            event.detail = Some(format!("{revoked} live keys revoked"));
            record_action(state, event).await;
            Ok((StatusCode::NO_CONTENT, Value::Null))
        }
        AdminCall::RenewPolicy(id) => {
            let policy = store_call(state, move |s| s.renew_policy(id, unix_now())).await?;
            let mut event = actor.event(AuditOutcome::PolicyRenewed, &policy.username);
            event.provider = Some(policy.provider.clone());
            event.policy_id = Some(id);
            record_action(state, event).await;
            Ok((StatusCode::OK, policy_json(&policy)))
        }
        AdminCall::ListEvaluators => {
            let list: Vec<Value> = state
                .registry
                .providers()
                .iter()
                .map(|p| {
                    let active = p.evaluator();
                    let info = active.evaluator.info();
                    json!({
                        "provider": p.name,
                        "name": info.name,
                        "version": info.version,
                        "digest": format!("sha256:{}", active.evaluator.digest()),
                        "issuers": info.issuers,
                        "active_since": humantime::format_rfc3339_seconds(active.active_since).to_string(),
                        "previous_digest": p.previous_digest().map(|d| format!("sha256:{d}")),
                        "jwks_fetches": p.jwks.fetch_count(),
                    })
                })
                .collect();
            Ok((StatusCode::OK, json!(list)))
        }
        AdminCall::DeployEvaluator(provider, body) => {
            let registry = state.registry.clone();
            let deployed = blocking(move || {
                registry.deploy(&provider, body.to_vec(), crate::deploy::DeployOrigin::Api)
            })
            .await?
            .map_err(deploy_error)?;
            record_action(
                state,
                evaluator_event(actor, AuditOutcome::EvaluatorDeployed, &deployed),
            )
            .await;
            Ok((StatusCode::OK, deployed_json(&deployed)))
        }
        AdminCall::RollbackEvaluator(provider) => {
            let registry = state.registry.clone();
            let deployed = blocking(move || registry.rollback(&provider))
                .await?
                .map_err(deploy_error)?;
            record_action(
                state,
                evaluator_event(actor, AuditOutcome::EvaluatorRolledBack, &deployed),
            )
            .await;
            Ok((StatusCode::OK, deployed_json(&deployed)))
        }
        AdminCall::Audit {
            username,
            kind,
            limit,
        } => {
            let events = store_call(state, move |s| {
                s.list_audit_of(username.as_deref(), kind, limit.min(1000))
            })
            .await?;
            let list: Vec<Value> = events
                .iter()
                .map(|e| {
                    let mut v = json!(e);
                    v["at"] = json!(rfc3339(e.at));
                    v
                })
                .collect();
            Ok((StatusCode::OK, json!(list)))
        }
    }
}

/// Evaluator changes belong to no user: the record names the provider.
fn evaluator_event(
    actor: &Actor,
    outcome: AuditOutcome,
    deployed: &crate::deploy::Deployed,
) -> AuditEvent {
    let mut event = actor.event(outcome, "");
    event.provider = Some(deployed.provider.clone());
    event.evaluator_digest = Some(deployed.digest.clone());
    event.detail = Some(format!(
        "version {}{}",
        deployed.version,
        if deployed.unchanged {
            " (already active)"
        } else {
            ""
        }
    ));
    event
}

fn deploy_error(e: crate::deploy::DeployError) -> ApiError {
    use crate::deploy::DeployError;
    match e {
        DeployError::UnknownProvider(_) => ApiError::not_found(e.to_string()),
        DeployError::Rejected(_) => ApiError::bad_request(e.to_string()),
        DeployError::NoPrevious(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        DeployError::Internal(_) => ApiError::internal(e),
    }
}

fn deployed_json(d: &crate::deploy::Deployed) -> Value {
    json!({
        "provider": d.provider,
        "digest": format!("sha256:{}", d.digest),
        "version": d.version,
        "previous_digest": d.previous_digest.as_ref().map(|p| format!("sha256:{p}")),
        "unchanged": d.unchanged,
    })
}

/// Parsed after authentication, so a stranger learns nothing from a 400.
fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    username: String,
    provider: String,
    owner: String,
    criteria: Value,
    #[serde(default)]
    scopes: Vec<Scope>,
}

async fn create_policy(state: &AppState, body: Value) -> Result<(StatusCode, Value), ApiError> {
    let body: PolicyBody = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!(
            "expected {{\"username\", \"provider\", \"owner\", \"criteria\": {{...}}, \"scopes\"?: [{{\"packages\", \"actions\"}}]}}: {e}"
        ))
    })?;
    validate_name("owner", &body.owner)?;
    for scope in &body.scopes {
        crate::names::check_scope(&scope.packages, &scope.actions)
            .map_err(ApiError::bad_request)?;
    }
    let provider = state
        .registry
        .get(&body.provider)
        .ok_or_else(|| ApiError::bad_request(format!("unknown provider '{}'", body.provider)))?;
    let active = provider.evaluator();
    let raw = body.criteria.to_string();
    let verdict = blocking(move || active.evaluator.check_criteria(&raw))
        .await?
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the {} evaluator failed: {e}", provider.name),
            )
        })?;
    let criteria =
        verdict.map_err(|message| ApiError::bad_request(format!("invalid criteria: {message}")))?;
    let new = NewPolicy {
        username: body.username,
        provider: body.provider,
        owner: body.owner,
        criteria,
        scopes: body.scopes,
    };
    let policy = store_call(state, move |s| s.create_policy(&new, unix_now())).await?;
    tracing::info!(policy_id = policy.id, username = %policy.username, provider = %policy.provider, "policy created");
    Ok((StatusCode::CREATED, policy_json(&policy)))
}

fn validate_name(what: &str, name: &str) -> Result<(), ApiError> {
    crate::names::check_name(what, name).map_err(ApiError::bad_request)
}

/// `GET /healthz`: the store answers and every provider has an evaluator.
pub async fn healthz(state: Arc<AppState>) -> Result<Response, std::convert::Infallible> {
    let store = state.store.clone();
    let store_ok = tokio::task::spawn_blocking(move || store.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let providers: Vec<Value> = state
        .registry
        .providers()
        .iter()
        .map(|p| json!({"name": p.name, "digest": p.evaluator().evaluator.digest(), "keys": p.jwks.snapshot().len()}))
        .collect();
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(json_reply(
        status,
        &json!({"status": if store_ok { "ok" } else { "unavailable" }, "storage": store_ok, "providers": providers}),
    ))
}

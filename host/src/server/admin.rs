//! `/admin/*`: the operator API over HTTP. Each handler parses its request,
//! calls the [`OperatorService`](crate::operator::OperatorService) and
//! renders the result; the route has already checked the admin token.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use super::AppState;
use super::error::ApiError;
use crate::operator::{Actor, AuditQuery, PolicyRequest, views};
use crate::store::AuditKind;

fn json(status: StatusCode, body: &Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

fn ok(body: &Value) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, body))
}

/// Parsed after authentication, so a stranger learns nothing from a 400.
fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("expected {expected}: {e}")))
}

#[derive(Deserialize)]
struct UserBody {
    username: String,
}

/// `?username=` of `GET /admin/policies`.
#[derive(Debug, Deserialize)]
pub struct PolicyListQuery {
    pub username: Option<String>,
}

/// `?username=&kind=&limit=` of `GET /admin/audit`. Lenient: an unknown
/// kind lists exchanges (as before `kind` existed), a bad limit is 100.
#[derive(Debug, Deserialize)]
pub struct AuditListQuery {
    pub username: Option<String>,
    pub kind: Option<String>,
    pub limit: Option<String>,
}

impl From<AuditListQuery> for AuditQuery {
    fn from(q: AuditListQuery) -> Self {
        Self {
            username: q.username,
            kind: q
                .kind
                .as_deref()
                .and_then(AuditKind::parse)
                .unwrap_or_default(),
            limit: q.limit.and_then(|l| l.parse().ok()).unwrap_or(100),
        }
    }
}

pub async fn create_user(
    state: Arc<AppState>,
    _: Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: UserBody = parse_json(&body, "{\"username\": \"...\"}")?;
    let user = state.operator.create_user(body.username).await?;
    Ok(json(StatusCode::CREATED, &views::user(&user)))
}

pub async fn list_users(state: Arc<AppState>, _: Actor) -> Result<Response, ApiError> {
    ok(&views::list(
        &state.operator.list_users().await?,
        views::user,
    ))
}

pub async fn create_policy(
    state: Arc<AppState>,
    actor: Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: PolicyRequest = parse_json(
        &body,
        "{\"username\", \"provider\", \"owner\", \"criteria\": {...}, \"scopes\"?: [{\"packages\", \"actions\"}]}",
    )?;
    let policy = state.operator.create_policy(request, &actor).await?;
    Ok(json(StatusCode::CREATED, &views::policy(&policy)))
}

pub async fn list_policies(
    state: Arc<AppState>,
    _: Actor,
    query: PolicyListQuery,
) -> Result<Response, ApiError> {
    ok(&views::list(
        &state.operator.list_policies(query.username).await?,
        views::policy,
    ))
}

pub async fn get_policy(id: u64, state: Arc<AppState>, _: Actor) -> Result<Response, ApiError> {
    ok(&views::policy(&state.operator.get_policy(id).await?))
}

pub async fn delete_policy(
    id: u64,
    state: Arc<AppState>,
    actor: Actor,
) -> Result<Response, ApiError> {
    state.operator.delete_policy(id, &actor).await?;
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

pub async fn renew_policy(
    id: u64,
    state: Arc<AppState>,
    actor: Actor,
) -> Result<Response, ApiError> {
    ok(&views::policy(
        &state.operator.renew_policy(id, &actor).await?,
    ))
}

pub async fn list_evaluators(state: Arc<AppState>, _: Actor) -> Result<Response, ApiError> {
    ok(&views::list(&state.operator.evaluators(), views::evaluator))
}

/// The component is the body; its signature, when the operator requires
/// one, is the `X-Trustpub-Signature` header (base64).
pub async fn deploy_evaluator(
    provider: String,
    state: Arc<AppState>,
    actor: Actor,
    signature: Option<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let deployed = state
        .operator
        .deploy_evaluator(
            provider,
            body.to_vec(),
            signature.map(String::into_bytes),
            &actor,
        )
        .await?;
    ok(&views::deployed(&deployed))
}

pub async fn rollback_evaluator(
    provider: String,
    state: Arc<AppState>,
    actor: Actor,
) -> Result<Response, ApiError> {
    ok(&views::deployed(
        &state.operator.rollback_evaluator(provider, &actor).await?,
    ))
}

pub async fn audit(
    state: Arc<AppState>,
    _: Actor,
    query: AuditListQuery,
) -> Result<Response, ApiError> {
    ok(&views::list(
        &state.operator.audit(query.into()).await?,
        views::audit_event,
    ))
}

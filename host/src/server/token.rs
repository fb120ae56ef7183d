//! `/api/v2/token`: the exchange (CI jobs), introspection (the registry's
//! push endpoint) and revocation (whoever holds a key).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use warp::Reply;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::AppState;
use super::auth::{API_KEY_HEADER, bearer, client_ip, same_secret, single_header};
use super::error::ApiError;
use crate::api_key::parse_key;
use crate::exchange::ExchangeRequest;
use crate::operator::Actor;

/// The request body in either of its documented namings.
#[derive(Deserialize)]
struct ExchangeBody {
    username: Option<serde_json::Value>,
    #[serde(rename = "tokenType")]
    token_type_camel: Option<serde_json::Value>,
    token_type: Option<serde_json::Value>,
}

/// The answer uses the naming of the request.
#[derive(Clone, Copy)]
pub(crate) enum Naming {
    /// `{"username", "tokenType": "ApiKey"}` — NuGet/login.
    Camel,
    /// `{"username", "token_type": "api_key"}` — the seed draft.
    Snake,
}

/// `POST /api/v2/token`: an OIDC token in, a short-lived API key out.
pub async fn exchange(
    state: Arc<AppState>,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let headers = &headers;
    // Cheap checks first, before any work: rate, other credentials, size, shape.
    let client = client_ip(headers, remote, state.client_ip_header.as_deref());
    state.limits.check_address(client)?;
    if headers.contains_key(API_KEY_HEADER) || headers.contains_key("cookie") {
        return Err(ApiError::bad_request(
            "the token exchange takes the OIDC token as its only credential: remove the X-NuGet-ApiKey header and cookies",
        ));
    }
    let token = bearer(headers)?.ok_or_else(|| {
        ApiError::unauthorized(
            "missing credentials: send the OIDC token as 'Authorization: Bearer <token>'",
        )
    })?;
    if token.len() > state.max_token_bytes {
        return Err(ApiError::too_large(format!(
            "the token is longer than {} bytes",
            state.max_token_bytes
        )));
    }
    if state
        .admin_token
        .as_deref()
        .is_some_and(|admin| same_secret(admin, token))
    {
        return Err(ApiError::unauthorized(
            "the admin token is not accepted here: send a CI job's OIDC token",
        ));
    }
    if !is_json(headers) {
        return Err(ApiError::bad_request(
            "the request body must be JSON (Content-Type: application/json)",
        ));
    }
    let (username, naming) = parse_body(&body)?;
    if let Some(username) = &username {
        state.limits.check_username(username)?;
    }
    let _in_flight = state.limits.enter()?;

    let minted = state
        .exchange
        .exchange(ExchangeRequest {
            token: token.to_string(),
            username,
            client_addr: client.map(|ip| ip.to_string()),
        })
        .await?;
    let expires =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(minted.expires_at))
            .to_string();
    tracing::info!(provider = %minted.provider, policy_id = minted.policy_id, "api key minted");
    let body = match naming {
        Naming::Camel => {
            json!({"tokenType": "ApiKey", "expires": expires, "apiKey": minted.key.expose()})
        }
        Naming::Snake => {
            json!({"token_type": "api_key", "expires": expires, "api_key": minted.key.expose()})
        }
    };
    Ok(no_store(warp::reply::json(&body).into_response()))
}

/// The username is optional: without it the policies are found by the
/// token's index key across all users.
pub(crate) fn parse_body(body: &[u8]) -> Result<(Option<String>, Naming), ApiError> {
    let parsed: ExchangeBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the request body is not a valid JSON object: {e}"))
    })?;
    let username = match parsed.username {
        Some(serde_json::Value::String(u)) if !u.trim().is_empty() => {
            crate::names::check_name("username", &u).map_err(ApiError::bad_request)?;
            Some(u)
        }
        Some(serde_json::Value::String(_)) => {
            return Err(ApiError::bad_request(
                "username, when given, must not be empty (leave it out to be found by your token)",
            ));
        }
        None | Some(serde_json::Value::Null) => None,
        Some(_) => return Err(ApiError::bad_request("username must be a string")),
    };
    let (naming, value, expected) = match (parsed.token_type_camel, parsed.token_type) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "send either tokenType or token_type, not both",
            ));
        }
        (Some(v), None) => (Naming::Camel, v, "ApiKey"),
        (None, Some(v)) => (Naming::Snake, v, "api_key"),
        (None, None) => return Err(ApiError::bad_request("tokenType is required (\"ApiKey\")")),
    };
    if value.as_str() != Some(expected) {
        return Err(ApiError::bad_request(format!(
            "unknown token type {value}: the only one is \"{expected}\""
        )));
    }
    Ok((username, naming))
}

#[derive(Deserialize)]
struct IntrospectBody {
    token: String,
}

/// `POST /api/v2/token/introspect` (RFC 7662 shape), for the registry.
/// The route has already checked the admin token.
pub async fn introspect(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let parsed: IntrospectBody = if is_json(&headers) {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("expected {{\"token\": \"...\"}}: {e}")))?
    } else {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::bad_request(format!("expected the form field token: {e}")))?
    };
    let inactive = || Ok(warp::reply::json(&json!({"active": false})).into_response());
    // A string that is not a key cannot be active: no lookup needed.
    let Ok(hash) = parse_key(&parsed.token) else {
        return inactive();
    };
    let Some(key) = state.operator.live_key(hash).await? else {
        return inactive();
    };
    let scopes = if key.scopes.is_empty() {
        json!([{"packages": "*", "actions": ["*"]}])
    } else {
        json!(key.scopes)
    };
    Ok(no_store(
        warp::reply::json(&json!({
            "active": true,
            "token_type": "api_key",
            "username": key.username,
            "owner": key.owner,
            "scopes": scopes,
            "iat": key.created_at,
            "exp": key.expires_at,
            "policy_id": key.policy_id,
            "provider": key.provider,
        }))
        .into_response(),
    ))
}

/// `DELETE /api/v2/token` with `X-NuGet-ApiKey`: revokes that key. Answers
/// 204 for any well-formed key, so it tells nothing about unknown ones.
pub async fn revoke(
    state: Arc<AppState>,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
) -> Result<Response, ApiError> {
    let presented = single_header(&headers, API_KEY_HEADER)?.ok_or_else(|| {
        ApiError::bad_request("send the key to revoke in the X-NuGet-ApiKey header")
    })?;
    let hash = parse_key(presented.trim()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    state
        .operator
        .revoke_key(hash, &Actor::key_holder(remote))
        .await?;
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Answers holding a secret must not be cached anywhere.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        "cache-control",
        warp::http::HeaderValue::from_static("no-store"),
    );
    response
}

//! `/api/v2/token`: the exchange (CI jobs), introspection (the registry's
//! push endpoint) and revocation (whoever holds a key).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use warp::Reply;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use super::{AppState, store_call};
use crate::exchange::{ExchangeError, ExchangeRequest, unix_now};
use crate::keys::parse_key;

pub const API_KEY_HEADER: &str = "x-nuget-apikey";

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
enum Naming {
    /// `{"username", "tokenType": "ApiKey"}` — NuGet/login.
    Camel,
    /// `{"username", "token_type": "api_key"}` — the seed draft.
    Snake,
}

pub async fn exchange(
    state: Arc<AppState>,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
    body: Bytes,
) -> Result<Response, std::convert::Infallible> {
    Ok(super::error::respond(
        exchange_inner(&state, &headers, remote, &body).await,
    ))
}

async fn exchange_inner(
    state: &AppState,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
    body: &[u8],
) -> Result<Response, ApiError> {
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
        .is_some_and(|admin| super::admin::same_secret(admin, token))
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
    let (username, naming) = parse_body(body)?;
    state.limits.check_username(&username)?;
    let _in_flight = state.limits.enter()?;

    let minted = state
        .exchange
        .exchange(ExchangeRequest {
            token: token.to_string(),
            username,
            client_addr: client.map(|ip| ip.to_string()),
        })
        .await
        .map_err(|e| match e {
            ExchangeError::BadToken(_)
            | ExchangeError::Unauthorized
            | ExchangeError::Replay
            | ExchangeError::RenewalRequired(_) => ApiError::unauthorized(e.to_string()),
            ExchangeError::EvaluatorFailed => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            ExchangeError::Internal(detail) => ApiError::internal(detail),
        })?;
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

fn parse_body(body: &[u8]) -> Result<(String, Naming), ApiError> {
    let parsed: ExchangeBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the request body is not a valid JSON object: {e}"))
    })?;
    let username = match parsed.username {
        Some(serde_json::Value::String(u)) if !u.trim().is_empty() => {
            crate::names::check_name("username", &u).map_err(ApiError::bad_request)?;
            u
        }
        Some(serde_json::Value::String(_)) | None => {
            return Err(ApiError::bad_request("username is required"));
        }
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

/// `POST /api/v2/token/introspect` (RFC 7662 shape), for the registry.
/// The route has already checked the admin token.
pub async fn introspect(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, std::convert::Infallible> {
    Ok(super::error::respond(
        introspect_inner(&state, &headers, &body).await,
    ))
}

#[derive(Deserialize)]
struct IntrospectBody {
    token: String,
}

async fn introspect_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let parsed: IntrospectBody = if is_json(headers) {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("expected {{\"token\": \"...\"}}: {e}")))?
    } else {
        serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::bad_request(format!("expected the form field token: {e}")))?
    };
    let inactive = || Ok(warp::reply::json(&json!({"active": false})).into_response());
    // A string that is not a key cannot be active: no lookup needed.
    let Ok(hash) = parse_key(&parsed.token) else {
        return inactive();
    };
    let record = store_call(state, move |s| s.find_key(&hash)).await?;
    let Some(key) = record.filter(|k| k.revoked_at.is_none() && k.expires_at > unix_now()) else {
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
) -> Result<Response, std::convert::Infallible> {
    Ok(super::error::respond(
        revoke_inner(&state, &headers, remote).await,
    ))
}

async fn revoke_inner(
    state: &AppState,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
) -> Result<Response, ApiError> {
    let presented = single_header(headers, API_KEY_HEADER)?.ok_or_else(|| {
        ApiError::bad_request("send the key to revoke in the X-NuGet-ApiKey header")
    })?;
    let hash = parse_key(presented.trim()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let lookup = hash.clone();
    let key = store_call(state, move |s| s.find_key(&lookup)).await?;
    let revoked = store_call(state, move |s| s.revoke_key(&hash, unix_now())).await?;
    if let (true, Some(key)) = (revoked, key) {
        tracing::info!("api key revoked by its holder");
        let event = crate::store::AuditEvent {
            at: unix_now(),
            provider: Some(key.provider),
            username: key.username,
            outcome: crate::store::AuditOutcome::KeyRevoked,
            detail: None,
            policy_id: Some(key.policy_id),
            evaluator_digest: None,
            subject: Some("key-holder".into()),
            client_addr: remote.map(|a| a.ip().to_string()),
        };
        if let Err(e) = store_call(state, move |s| s.record_audit(&event)).await {
            tracing::error!(error = %e.message, "cannot record the audit event of a revocation");
        }
    }
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

/// The credential of an `Authorization: Bearer` header; none when the header
/// is absent or not a bearer credential. Two `Authorization` headers are
/// ambiguous (which one did a proxy check?), so they are refused, not chosen
/// between.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = single_header(headers, "authorization")? else {
        return Ok(None);
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    let token = token.trim();
    Ok((scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token))
}

/// The client's address: the last one in the configured proxy header when
/// there is a valid one (a client can prepend anything; only what the
/// trusted proxy appended last is trusted), else the connection's.
fn client_ip(
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
    header: Option<&str>,
) -> Option<IpAddr> {
    let from_proxy = header.and_then(|name| {
        let last_value = headers.get_all(name).iter().next_back()?;
        let last = last_value.to_str().ok()?.rsplit(',').next()?;
        last.trim().parse::<IpAddr>().ok()
    });
    from_proxy.or(remote.map(|a| a.ip()))
}

/// A header that may appear at most once; `None` when absent or not text.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::bad_request(format!(
            "the request has more than one {name} header: send exactly one"
        )));
    }
    Ok(first.and_then(|v| v.to_str().ok()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn the_client_is_the_last_address_the_trusted_proxy_appended() {
        let remote = Some(SocketAddr::from(([10, 0, 0, 9], 443)));
        let proxy = Some("x-forwarded-for");
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
        ]);
        // The client wrote 1.1.1.1 and 6.6.6.6 itself; the proxy appended the last.
        assert_eq!(client_ip(&h, remote, proxy), Some([203, 0, 113, 7].into()));
        // Without the setting the header is ignored.
        assert_eq!(client_ip(&h, remote, None), Some([10, 0, 0, 9].into()));
        // Missing or garbage: the connection's address.
        assert_eq!(
            client_ip(&headers(&[]), remote, proxy),
            Some([10, 0, 0, 9].into())
        );
        let garbage = headers(&[("x-forwarded-for", "203.0.113.7, not-an-ip")]);
        assert_eq!(
            client_ip(&garbage, remote, proxy),
            Some([10, 0, 0, 9].into())
        );
    }

    #[test]
    fn one_authorization_header_is_read_and_two_are_refused() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])).expect("one"),
            Some("abc")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "Basic abc")])).expect("one"),
            None
        );
        assert_eq!(bearer(&headers(&[])).expect("none"), None);
        let two = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer a")]);
        assert_eq!(
            bearer(&two).expect_err("two").status,
            StatusCode::BAD_REQUEST
        );
    }
}

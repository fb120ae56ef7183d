//! Which path goes where. Bodies are size-limited before they are read.

use std::collections::HashMap;
use std::sync::Arc;

use warp::{Filter, Reply};

use super::admin::{self, AdminCall};
use super::{AppState, error, token};

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible>
+ Clone
+ Send
+ Sync
+ 'static {
    let max_body = state.max_body_bytes as u64;
    let with_state = {
        let state = state.clone();
        warp::any().map(move || state.clone())
    };
    let body = move || warp::body::content_length_limit(max_body).and(warp::body::bytes());

    let exchange = warp::path!("api" / "v2" / "token")
        .and(warp::post())
        .and(with_state.clone())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(body())
        .and_then(token::exchange);
    let revoke = warp::path!("api" / "v2" / "token")
        .and(warp::delete())
        .and(with_state.clone())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and_then(token::revoke);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state.clone())
        .map(|state: Arc<AppState>| {
            let metrics = state.registry.metrics();
            for p in state.registry.providers() {
                metrics.set_jwks_fetches(&p.name, p.jwks.fetch_count());
            }
            warp::reply::with_header(
                metrics.render(),
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .into_response()
        });
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and(with_state.clone())
        .and_then(admin::healthz);

    // The operator's token is checked before any body is read or parsed.
    let admin_auth = with_state
        .clone()
        .and(warp::header::headers_cloned())
        .and_then(
            |state: Arc<AppState>, headers: warp::http::HeaderMap| async move {
                admin::require_admin(&state, &headers)
                    .map(|()| state)
                    .map_err(warp::reject::custom)
            },
        );
    let introspect = warp::path!("api" / "v2" / "token" / "introspect")
        .and(warp::post())
        .and(admin_auth.clone())
        .and(warp::header::headers_cloned())
        .and(body())
        .and_then(token::introspect);

    let admin = {
        let users_post = warp::path!("admin" / "users")
            .and(warp::post())
            .and(admin_auth.clone())
            .and(body())
            .map(|s, b| (s, AdminCall::CreateUser(b)));
        let users_get = warp::path!("admin" / "users")
            .and(warp::get())
            .and(admin_auth.clone())
            .map(|s| (s, AdminCall::ListUsers));
        let policies_post = warp::path!("admin" / "policies")
            .and(warp::post())
            .and(admin_auth.clone())
            .and(body())
            .map(|s, b| (s, AdminCall::CreatePolicy(b)));
        let policies_get = warp::path!("admin" / "policies")
            .and(warp::get())
            .and(admin_auth.clone())
            .and(warp::query::<HashMap<String, String>>())
            .map(|s, q: HashMap<String, String>| {
                (s, AdminCall::ListPolicies(q.get("username").cloned()))
            });
        let policy_get = warp::path!("admin" / "policies" / u64)
            .and(warp::get())
            .and(admin_auth.clone())
            .map(|id, s| (s, AdminCall::GetPolicy(id)));
        let policy_delete = warp::path!("admin" / "policies" / u64)
            .and(warp::delete())
            .and(admin_auth.clone())
            .map(|id, s| (s, AdminCall::DeletePolicy(id)));
        let policy_renew = warp::path!("admin" / "policies" / u64 / "renew")
            .and(warp::post())
            .and(admin_auth.clone())
            .map(|id, s| (s, AdminCall::RenewPolicy(id)));
        let evaluators = warp::path!("admin" / "evaluators")
            .and(warp::get())
            .and(admin_auth.clone())
            .map(|s| (s, AdminCall::ListEvaluators));
        let max_component = state.max_component_bytes as u64;
        let deploy = warp::path!("admin" / "evaluators" / String)
            .and(warp::put())
            .and(admin_auth.clone())
            .and(warp::body::content_length_limit(max_component))
            .and(warp::body::bytes())
            .map(|provider, s, b| (s, AdminCall::DeployEvaluator(provider, b)));
        let rollback = warp::path!("admin" / "evaluators" / String / "rollback")
            .and(warp::post())
            .and(admin_auth.clone())
            .map(|provider, s| (s, AdminCall::RollbackEvaluator(provider)));
        let audit = warp::path!("admin" / "audit")
            .and(warp::get())
            .and(admin_auth.clone())
            .and(warp::query::<HashMap<String, String>>())
            .map(|s, q: HashMap<String, String>| {
                (
                    s,
                    AdminCall::Audit {
                        username: q.get("username").cloned(),
                        // Unknown kinds list exchanges, as before `kind` existed.
                        kind: q
                            .get("kind")
                            .and_then(|k| crate::store::AuditKind::parse(k))
                            .unwrap_or_default(),
                        limit: q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100),
                    },
                )
            });
        users_post
            .or(users_get)
            .unify()
            .or(policies_post)
            .unify()
            .or(policies_get)
            .unify()
            .or(policy_renew)
            .unify()
            .or(policy_get)
            .unify()
            .or(policy_delete)
            .unify()
            .or(evaluators)
            .unify()
            .or(deploy)
            .unify()
            .or(rollback)
            .unify()
            .or(audit)
            .unify()
            .and(warp::addr::remote())
            .and_then(|(state, call): (Arc<AppState>, AdminCall), remote| {
                admin::handle(state, call, remote)
            })
    };

    exchange
        .or(revoke)
        .unify()
        .or(introspect)
        .unify()
        .or(healthz)
        .unify()
        .or(metrics)
        .unify()
        .or(admin)
        .unify()
        .recover(error::recover)
        .unify()
        .with(warp::log::custom(|info| {
            // Method, path and status only: headers and bodies carry secrets.
            tracing::info!(
                method = %info.method(),
                path = info.path(),
                status = info.status().as_u16(),
                elapsed_ms = info.elapsed().as_millis() as u64,
                "request"
            );
        }))
}

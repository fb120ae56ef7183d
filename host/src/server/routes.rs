//! Which path goes where: one filter per endpoint, each named by its route.
//! Bodies are size-limited before they are read, and the operator's token is
//! checked before an admin body is read or parsed. Every handler answers
//! `Result<Response, ApiError>`, made a reply by [`error::respond`].

use std::net::SocketAddr;
use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::HeaderMap;
use warp::reply::Response;

use super::auth::{ConnectionAddr, require_admin};
use super::{AppState, admin, error, status, token};
use crate::evaluators::signature::SIGNATURE_HEADER;
use crate::operator::Actor;

type Route = BoxedFilter<(Response,)>;

/// The connection's address, as the listener recorded it.
fn client_addr()
-> impl Filter<Extract = (Option<SocketAddr>,), Error = std::convert::Infallible> + Clone {
    warp::ext::optional::<ConnectionAddr>().map(|addr: Option<ConnectionAddr>| addr.map(|a| a.0))
}

pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = std::convert::Infallible>
+ Clone
+ Send
+ Sync
+ 'static {
    let max_body = state.max_body_bytes as u64;
    let max_component = state.max_component_bytes as u64;
    // /console/* — the operator console's pages (see `crate::console`).
    let console: Route = crate::console::routes(state.clone());
    let with_state = warp::any().map(move || state.clone());
    let body = move || warp::body::content_length_limit(max_body).and(warp::body::bytes());
    // The operator's token, checked first; extracts the state and who asked.
    let admin = with_state
        .clone()
        .and(warp::header::headers_cloned())
        .and(client_addr())
        .and_then(
            |state: Arc<AppState>, headers: HeaderMap, remote: Option<SocketAddr>| async move {
                require_admin(state.admin_token.as_deref(), &headers)
                    .map(|()| (state, Actor::admin_api(remote)))
                    .map_err(warp::reject::custom)
            },
        )
        .untuple_one();

    // POST /api/v2/token — the exchange: an OIDC token in, an API key out.
    let exchange: Route = warp::path!("api" / "v2" / "token")
        .and(warp::post())
        .and(with_state.clone())
        .and(warp::header::headers_cloned())
        .and(client_addr())
        .and(body())
        .then(token::exchange)
        .map(error::respond)
        .boxed();
    // DELETE /api/v2/token — the holder of a key revokes it.
    let revoke: Route = warp::path!("api" / "v2" / "token")
        .and(warp::delete())
        .and(with_state.clone())
        .and(warp::header::headers_cloned())
        .and(client_addr())
        .then(token::revoke)
        .map(error::respond)
        .boxed();
    // POST /api/v2/token/introspect — the registry asks what a key may do.
    let introspect: Route = warp::path!("api" / "v2" / "token" / "introspect")
        .and(warp::post())
        .and(admin.clone())
        .and(warp::header::headers_cloned())
        .and(body())
        .then(|state, _: Actor, headers, body| token::introspect(state, headers, body))
        .map(error::respond)
        .boxed();
    // GET /healthz
    let healthz: Route = warp::path!("healthz")
        .and(warp::get())
        .and(with_state.clone())
        .then(status::healthz)
        .boxed();
    // GET /metrics
    let metrics: Route = warp::path!("metrics")
        .and(warp::get())
        .and(with_state.clone())
        .map(status::metrics)
        .boxed();

    // POST /admin/users
    let create_user: Route = warp::path!("admin" / "users")
        .and(warp::post())
        .and(admin.clone())
        .and(body())
        .then(admin::create_user)
        .map(error::respond)
        .boxed();
    // GET /admin/users
    let list_users: Route = warp::path!("admin" / "users")
        .and(warp::get())
        .and(admin.clone())
        .then(admin::list_users)
        .map(error::respond)
        .boxed();
    // POST /admin/policies
    let create_policy: Route = warp::path!("admin" / "policies")
        .and(warp::post())
        .and(admin.clone())
        .and(body())
        .then(admin::create_policy)
        .map(error::respond)
        .boxed();
    // GET /admin/policies?username=
    let list_policies: Route = warp::path!("admin" / "policies")
        .and(warp::get())
        .and(admin.clone())
        .and(warp::query::<admin::PolicyListQuery>())
        .then(admin::list_policies)
        .map(error::respond)
        .boxed();
    // GET /admin/policies/{id}
    let get_policy: Route = warp::path!("admin" / "policies" / u64)
        .and(warp::get())
        .and(admin.clone())
        .then(admin::get_policy)
        .map(error::respond)
        .boxed();
    // DELETE /admin/policies/{id}
    let delete_policy: Route = warp::path!("admin" / "policies" / u64)
        .and(warp::delete())
        .and(admin.clone())
        .then(admin::delete_policy)
        .map(error::respond)
        .boxed();
    // POST /admin/policies/{id}/renew
    let renew_policy: Route = warp::path!("admin" / "policies" / u64 / "renew")
        .and(warp::post())
        .and(admin.clone())
        .then(admin::renew_policy)
        .map(error::respond)
        .boxed();
    // GET /admin/evaluators
    let list_evaluators: Route = warp::path!("admin" / "evaluators")
        .and(warp::get())
        .and(admin.clone())
        .then(admin::list_evaluators)
        .map(error::respond)
        .boxed();
    // PUT /admin/evaluators/{provider} — the body is the component, its
    // signature (when required) the X-Trustpub-Signature header.
    let deploy_evaluator: Route = warp::path!("admin" / "evaluators" / String)
        .and(warp::put())
        .and(admin.clone())
        .and(warp::header::optional::<String>(SIGNATURE_HEADER))
        .and(warp::body::content_length_limit(max_component))
        .and(warp::body::bytes())
        .then(admin::deploy_evaluator)
        .map(error::respond)
        .boxed();
    // POST /admin/evaluators/{provider}/rollback
    let rollback_evaluator: Route = warp::path!("admin" / "evaluators" / String / "rollback")
        .and(warp::post())
        .and(admin.clone())
        .then(admin::rollback_evaluator)
        .map(error::respond)
        .boxed();
    // GET /admin/audit?username=&kind=&limit=
    let audit: Route = warp::path!("admin" / "audit")
        .and(warp::get())
        .and(admin.clone())
        .and(warp::query::<admin::AuditListQuery>())
        .then(admin::audit)
        .map(error::respond)
        .boxed();

    let endpoints = [
        revoke,
        introspect,
        healthz,
        metrics,
        create_user,
        list_users,
        create_policy,
        list_policies,
        get_policy,
        delete_policy,
        renew_policy,
        list_evaluators,
        deploy_evaluator,
        rollback_evaluator,
        audit,
        console,
    ];
    endpoints
        .into_iter()
        .fold(exchange, |all, next| all.or(next).unify().boxed())
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

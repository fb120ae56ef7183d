//! `GET /healthz` and `GET /metrics`: what a load balancer and a scraper ask.

use std::sync::Arc;

use serde_json::json;
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use super::AppState;
use crate::blocking::run_blocking;

/// The store answers and every provider has an evaluator.
pub async fn healthz(state: Arc<AppState>) -> Response {
    let store = state.store.clone();
    let store_ok = run_blocking(move || store.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let providers: Vec<_> = state
        .registry
        .providers()
        .iter()
        .map(|p| json!({"name": p.name, "digest": p.evaluator().evaluator.digest(), "keys": p.key_caches().map(|k| k.snapshot().len()).sum::<usize>()}))
        .collect();
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({"status": if store_ok { "ok" } else { "unavailable" }, "storage": store_ok, "providers": providers});
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

/// Prometheus text format.
pub fn metrics(state: Arc<AppState>) -> Response {
    let metrics = state.registry.metrics();
    for p in state.registry.providers() {
        metrics.set_jwks_fetches(&p.name, p.key_caches().map(|k| k.fetch_count()).sum());
    }
    warp::reply::with_header(
        metrics.render(),
        "content-type",
        "text/plain; version=0.0.4; charset=utf-8",
    )
    .into_response()
}

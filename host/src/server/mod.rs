//! The HTTP API (warp): the token exchange for CI jobs, key introspection
//! and revocation for the registry, and the operator API.
//!
//! - [`routes`]: which path goes where;
//! - [`token`]: `/api/v2/token` (exchange, introspect, revoke);
//! - [`admin`]: `/admin/*` and `/healthz`;
//! - [`error`]: the JSON error shape;
//! - [`rate_limit`]: requests per address and username, exchanges in flight.

pub mod admin;
mod error;
mod rate_limit;
mod routes;
mod running;
mod token;

use std::sync::Arc;

pub use error::ApiError;
pub use rate_limit::{ExchangeLimits, LimitSettings};
pub use routes::routes;
pub use running::{RunningServer, StartupError, build_state, start};

use crate::exchange::TokenExchange;
use crate::registry::EvaluatorRegistry;
use crate::store::Store;

/// Everything a handler needs.
pub struct AppState {
    pub exchange: TokenExchange,
    pub store: Arc<dyn Store>,
    pub registry: Arc<EvaluatorRegistry>,
    pub admin_token: Option<String>,
    pub max_token_bytes: usize,
    pub max_body_bytes: usize,
    pub max_component_bytes: usize,
    pub limits: ExchangeLimits,
    /// A header whose last address is the client's, set by a trusted proxy.
    pub client_ip_header: Option<String>,
}

/// Runs blocking work (SQLite, compiling, the sandbox) off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

/// One store call off the async threads, its errors mapped to HTTP.
pub(super) async fn store_call<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    Ok(blocking(move || f(store.as_ref())).await??)
}

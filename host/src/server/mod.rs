//! The HTTP API (warp): the token exchange for CI jobs, key introspection
//! and revocation for the registry, and the operator API.
//!
//! - [`routes`]: which path goes where, one filter per endpoint;
//! - [`token`]: `/api/v2/token` (exchange, introspect, revoke);
//! - [`admin`]: `/admin/*`, thin callers of the operator service;
//! - [`status`]: `/healthz` and `/metrics`;
//! - [`auth`]: bearer credentials, the admin token, the client's address;
//! - [`error`]: every failure's status and the JSON error shape;
//! - [`rate_limit`]: requests per address and username, exchanges in flight;
//! - [`listener`]: accepting connections, with deadlines for slow clients;
//! - [`running`]: building the state, starting and stopping.

mod admin;
mod auth;
mod error;
mod listener;
mod parse_errors;
mod rate_limit;
mod routes;
mod running;
mod status;
pub(crate) mod token;

use std::sync::Arc;

pub use auth::{ConnectionAddr, client_ip, same_secret};
pub use error::ApiError;
pub use listener::Deadlines;
pub use rate_limit::{ExchangeLimits, LimitSettings};
pub use routes::routes;
pub use running::{
    RunningServer, StartupError, build_state, build_state_with_clock, start, start_with_state,
};

use crate::audit_log::AuditLog;
use crate::clock::Clock;
use crate::evaluators::EvaluatorRegistry;
use crate::exchange::TokenExchange;
use crate::operator::OperatorService;
use crate::store::Store;

/// Everything a handler needs.
pub struct AppState {
    pub exchange: TokenExchange,
    pub operator: OperatorService,
    pub store: Arc<dyn Store>,
    pub registry: Arc<EvaluatorRegistry>,
    pub audit_log: AuditLog,
    pub clock: Arc<dyn Clock>,
    pub admin_token: Option<String>,
    pub max_token_bytes: usize,
    pub max_body_bytes: usize,
    pub max_component_bytes: usize,
    pub limits: ExchangeLimits,
    /// A header whose last address is the client's, set by a trusted proxy.
    pub client_ip_header: Option<String>,
    /// The operator console's signed-in sessions.
    pub console_sessions: crate::console::Sessions,
}

//! The one place that turns failures into HTTP answers: every domain error
//! (exchange, operator, store) gets its status here, every error is JSON
//! `{"error": "..."}`, every 401 carries `WWW-Authenticate: Bearer`, every
//! 429 a `Retry-After`.

use std::convert::Infallible;

use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

use crate::blocking::BlockingTaskFailed;
use crate::exchange::ExchangeError;
use crate::operator::OperatorError;
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (429, and 503 when busy).
    pub retry_after: Option<u64>,
}

impl Reject for ApiError {}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// A server-side failure: the details go to the log, not the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The database is unreachable: 503 with a retry hint; the detail
    /// (which host, which error) goes to the log only.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "database unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            crate::exchange::STORE_UNAVAILABLE_MESSAGE,
        )
        .with_retry_after(1)
    }

    pub fn into_response(self) -> warp::reply::Response {
        let body = warp::reply::json(&serde_json::json!({ "error": self.message }));
        let mut response = warp::reply::with_status(body, self.status).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                warp::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", warp::http::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        OperatorError::from(e).into()
    }
}

impl From<BlockingTaskFailed> for ApiError {
    fn from(e: BlockingTaskFailed) -> Self {
        Self::internal(e)
    }
}

/// What the client is told about a refused exchange is the error's own
/// message; only server-side failures are hidden.
impl From<ExchangeError> for ApiError {
    fn from(e: ExchangeError) -> Self {
        match e {
            ExchangeError::BadToken(_)
            | ExchangeError::Unauthorized
            | ExchangeError::Ambiguous
            | ExchangeError::Replay
            | ExchangeError::RenewalRequired(_) => Self::unauthorized(e.to_string()),
            ExchangeError::UsernameRequired(_) => Self::bad_request(e.to_string()),
            ExchangeError::EvaluatorFailed => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            ExchangeError::Unavailable(detail) => Self::unavailable(detail),
            ExchangeError::Internal(detail) => Self::internal(detail),
        }
    }
}

impl From<OperatorError> for ApiError {
    fn from(e: OperatorError) -> Self {
        match e {
            OperatorError::Invalid(message) => Self::bad_request(message),
            OperatorError::NotFound(message) => Self::not_found(message),
            OperatorError::Conflict(message) => Self::new(StatusCode::CONFLICT, message),
            OperatorError::EvaluatorFailed(message) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
            }
            OperatorError::Unavailable(detail) => Self::unavailable(detail),
            OperatorError::Internal(detail) => Self::internal(detail),
        }
    }
}

/// Handlers return `Result<Response, ApiError>`; this makes that a reply
/// (routes end in `.map(respond)`).
pub fn respond(result: Result<warp::reply::Response, ApiError>) -> warp::reply::Response {
    result.unwrap_or_else(ApiError::into_response)
}

/// Maps warp's own rejections (no route, wrong method, body limits) to the
/// same JSON shape.
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    let error = if let Some(e) = rejection.find::<ApiError>() {
        e.clone()
    } else if rejection.is_not_found() {
        ApiError::not_found("no such endpoint")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::too_large("the request body is too large")
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::bad_request("a Content-Length header is required")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        ApiError::bad_request("invalid query string")
    } else {
        ApiError::bad_request("invalid request")
    };
    Ok(error.into_response())
}

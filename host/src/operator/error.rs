//! What an operator call can fail with; the HTTP layer maps each to a
//! status in `server::error`, the CLI prints the message.

use crate::blocking::BlockingTaskFailed;
use crate::evaluators::deploy::DeployError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The request is wrong: a bad name, scope, criteria or component.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// It clashes with what exists (a user twice, no version to roll back to).
    #[error("{0}")]
    Conflict(String),
    /// The provider's evaluator misbehaved while checking criteria.
    #[error("{0}")]
    EvaluatorFailed(String),
    /// The database is down or timed out; nothing was changed.
    #[error("{}", crate::exchange::STORE_UNAVAILABLE_MESSAGE)]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for OperatorError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Unavailable(detail) => Self::Unavailable(detail),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<DeployError> for OperatorError {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::UnknownProvider(_) => Self::NotFound(e.to_string()),
            DeployError::Rejected(_) | DeployError::Unreadable(_) => Self::Invalid(e.to_string()),
            DeployError::NoPrevious(_) => Self::Conflict(e.to_string()),
            DeployError::Internal(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<BlockingTaskFailed> for OperatorError {
    fn from(e: BlockingTaskFailed) -> Self {
        Self::Internal(e.to_string())
    }
}

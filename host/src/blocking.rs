//! The one way to run blocking work (SQLite, compiling, the sandbox) from
//! async code: on tokio's blocking threads, so a slow call never stalls the
//! threads that accept and answer requests.

/// The blocking task panicked or was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("a blocking task failed: {0}")]
pub struct BlockingTaskFailed(String);

pub async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BlockingTaskFailed> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlockingTaskFailed(e.to_string()))
}

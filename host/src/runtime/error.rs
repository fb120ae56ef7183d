//! Errors of loading and running evaluator components.

/// A component that cannot serve as an evaluator.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the WebAssembly engine could not be set up: {0}")]
    Engine(String),
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    #[error("the component does not fit the trustpub:evaluator world: {0}")]
    World(String),
    #[error("the evaluator's info() failed: {0}")]
    Info(#[source] EvalError),
    #[error("the evaluator's info() is unusable: {0}")]
    BadInfo(String),
    #[error("the compiled cache directory {path} is unusable: {source}")]
    Cache {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A misbehaving evaluator (never a verdict about the token).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("the evaluator ran past its time limit of {0} ms")]
    Timeout(u128),
    #[error("the evaluator trapped: {0}")]
    Trap(String),
    #[error("the evaluator could not be instantiated: {0}")]
    Instantiate(String),
    #[error("the request is too large for the sandbox ({size} bytes, limit {limit})")]
    RequestTooLarge { size: usize, limit: usize },
    #[error("the evaluator returned an invalid result: {0}")]
    InvalidResult(String),
}

impl EvalError {
    pub(crate) fn from_call(error: wasmtime::Error, timeout_ms: u128) -> Self {
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => Self::Timeout(timeout_ms),
            Some(trap) => Self::Trap(trap.to_string()),
            None => Self::Trap(format!("{error:#}")),
        }
    }
}

//! What one evaluation may use.

use std::time::Duration;

/// Per-evaluation sandbox limits. The defaults are generous for a real
/// evaluator (which needs well under 2 MiB and a millisecond) and still stop
/// a hostile one quickly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Linear memory cap per instance.
    pub memory_bytes: usize,
    /// Wall-clock budget per call, enforced by epoch interruption.
    pub timeout: Duration,
    /// Largest token `verify-jws` accepts.
    pub max_token_bytes: usize,
    /// Largest request handed to the guest (token + policies + config).
    pub max_request_bytes: usize,
    /// Largest string the guest may return in a result.
    pub max_result_bytes: usize,
    /// Evaluations that may run at the same time (pooling allocator slots).
    pub max_concurrent: u32,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            timeout: Duration::from_millis(500),
            max_token_bytes: crate::jws::DEFAULT_MAX_TOKEN_BYTES,
            max_request_bytes: 4 << 20,
            max_result_bytes: 64 << 10,
            max_concurrent: 64,
        }
    }
}

/// How often the epoch ticks; deadlines are whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

impl SandboxLimits {
    pub fn deadline_ticks(&self) -> u64 {
        (self.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}

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
            max_token_bytes: crate::jose::jws::DEFAULT_MAX_TOKEN_BYTES,
            max_request_bytes: 4 << 20,
            max_result_bytes: 64 << 10,
            max_concurrent: 64,
        }
    }
}

/// A provider's own limits over the runtime's; unset fields keep the
/// runtime's value, and memory never exceeds the engine's cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    pub timeout: Option<Duration>,
    pub memory_bytes: Option<usize>,
    pub max_request_bytes: Option<usize>,
    pub max_result_bytes: Option<usize>,
}

impl SandboxLimits {
    pub fn with_overrides(&self, o: &LimitOverrides) -> Self {
        Self {
            timeout: o.timeout.unwrap_or(self.timeout),
            memory_bytes: o
                .memory_bytes
                .map_or(self.memory_bytes, |m| m.min(self.memory_bytes)),
            max_request_bytes: o.max_request_bytes.unwrap_or(self.max_request_bytes),
            max_result_bytes: o.max_result_bytes.unwrap_or(self.max_result_bytes),
            ..self.clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_tighten_and_memory_never_exceeds_the_engine() {
        let base = SandboxLimits::default();
        let o = LimitOverrides {
            timeout: Some(Duration::from_millis(50)),
            memory_bytes: Some(base.memory_bytes * 4),
            max_request_bytes: Some(1024),
            max_result_bytes: None,
        };
        let limits = base.with_overrides(&o);
        assert_eq!(limits.timeout, Duration::from_millis(50));
        assert_eq!(
            limits.memory_bytes, base.memory_bytes,
            "capped at the engine's"
        );
        assert_eq!(limits.max_request_bytes, 1024);
        assert_eq!(limits.max_result_bytes, base.max_result_bytes);
        assert_eq!(base.with_overrides(&LimitOverrides::default()), base);
    }
}

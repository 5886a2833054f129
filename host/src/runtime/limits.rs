//! Per-call and per-instance limits, and the memory limiter that enforces
//! the cap and remembers what it refused (so a trap that follows a refused
//! allocation is reported as "out of memory", not as a bare `unreachable`).

use std::time::Duration;
use wasmtime::ResourceLimiter;

/// Limits applied to every call of a target's connector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallLimits {
    /// Wall time a call may take before it is interrupted.
    pub timeout: Duration,
    /// Linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Largest result, in (approximate) bytes, the host accepts from one call.
    pub max_output_bytes: usize,
    /// Log lines an instance may write: a token bucket of this many a
    /// second on average, in bursts of `log_burst`.
    pub log_lines_per_second: f64,
    pub log_burst: u32,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            timeout: Duration::from_secs(30),
            memory_bytes: 256 << 20,
            max_output_bytes: 16 << 20,
            log_lines_per_second: 100.0,
            log_burst: 200,
        }
    }
}

/// Table elements a guest may grow to. Rust guests use a few hundred.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The `ResourceLimiter` of one instance's store.
pub struct GuestLimiter {
    memory_limit: usize,
    refused: Option<usize>,
}

impl GuestLimiter {
    pub fn new(memory_limit: usize) -> Self {
        GuestLimiter {
            memory_limit,
            refused: None,
        }
    }

    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// The size of the last refused growth, since the last reset.
    pub fn refused(&self) -> Option<usize> {
        self.refused
    }

    pub fn reset(&mut self) {
        self.refused = None;
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

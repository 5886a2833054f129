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
    /// Bytes a connector can make the host hold for it within one call
    /// (query results, directory entries it asked for), counted as they
    /// arrive.
    pub max_host_bytes: usize,
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
            max_host_bytes: 64 << 20,
            log_lines_per_second: 100.0,
            log_burst: 200,
        }
    }
}

/// Table elements a guest may grow to. Rust guests use a few hundred.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The `ResourceLimiter` of one instance's store. The cap holds for the
/// instance's memories together: a component with several cannot have
/// each grow to the cap.
pub struct GuestLimiter {
    memory_limit: usize,
    /// Bytes of every memory of the instance, as last grown.
    total: usize,
    refused: Option<usize>,
}

impl GuestLimiter {
    pub fn new(memory_limit: usize) -> Self {
        GuestLimiter {
            memory_limit,
            total: 0,
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
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.memory_limit {
            self.refused = Some(total);
            return Ok(false);
        }
        self.total = total;
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

/// What a connector has made the host hold for it in the call in progress.
#[derive(Debug)]
pub struct HostBudget {
    limit: usize,
    used: usize,
}

/// The call asked the host to hold more than [`CallLimits::max_host_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    pub limit: usize,
}

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "output-limit: the call asked the host to hold more than {} bytes for it (max_host_bytes)",
            self.limit
        )
    }
}

impl HostBudget {
    pub fn new(limit: usize) -> Self {
        HostBudget { limit, used: 0 }
    }

    /// A new call starts with the whole budget.
    pub fn reset(&mut self) {
        self.used = 0;
    }

    /// Counts `bytes` more, or refuses them when they pass the limit.
    pub fn take(&mut self, bytes: usize) -> Result<(), OverBudget> {
        let used = self.used.saturating_add(bytes);
        if used > self.limit {
            return Err(OverBudget { limit: self.limit });
        }
        self.used = used;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_cap_holds_for_every_memory_together() {
        let mut limiter = GuestLimiter::new(100);
        assert!(
            limiter.memory_growing(0, 60, None).unwrap(),
            "the first memory"
        );
        assert!(
            !limiter.memory_growing(0, 60, None).unwrap(),
            "a second memory past the cap"
        );
        assert_eq!(limiter.refused(), Some(120));
        assert!(
            limiter.memory_growing(60, 90, None).unwrap(),
            "the first grows within the cap"
        );
        assert!(!limiter.memory_growing(90, 101, None).unwrap());
    }

    #[test]
    fn the_host_budget_counts_as_it_goes() {
        let mut budget = HostBudget::new(10);
        assert!(budget.take(6).is_ok());
        assert_eq!(budget.take(5), Err(OverBudget { limit: 10 }));
        budget.reset();
        assert!(budget.take(10).is_ok());
    }
}

//! `provisio:connector/log`: a connector's messages into the host's
//! tracing, tagged with the target and the connector (every contract
//! version imports it, so it is always linked; see `runtime/bindings`).

use std::time::{Duration, Instant};

/// Longest message kept; longer ones are cut, never refused.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// Severity, independent of the contract version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// How many lines one instance may log: a token bucket, so a connector
/// that logs in a loop fills no disk. Lines past it are counted, and the
/// count is said once per second (and when the call ends).
#[derive(Debug)]
pub struct LogBudget {
    per_second: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    reported: Instant,
}

impl LogBudget {
    pub fn new(per_second: f64, burst: u32) -> Self {
        let now = Instant::now();
        LogBudget {
            per_second,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            refilled: now,
            dropped: 0,
            reported: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Lines dropped since the last report, when it is time to say so.
    fn due_report(&mut self, now: Instant, force: bool) -> Option<u64> {
        if self.dropped == 0 || (!force && now.duration_since(self.reported) < REPORT_EVERY) {
            return None;
        }
        self.reported = now;
        Some(std::mem::take(&mut self.dropped))
    }
}

/// How often dropped lines are reported while a connector keeps logging.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Who is speaking, for every line one instance logs.
pub struct LogCtxView<'a> {
    pub target: &'a str,
    /// `name@version` of the connector.
    pub connector: &'a str,
    /// The target's secrets, replaced by `***` in every line.
    pub scrubber: &'a crate::runtime::Scrubber,
    pub budget: &'a mut LogBudget,
}

/// State that can lend the `log` capability.
pub trait LogView: Send {
    fn log(&mut self) -> LogCtxView<'_>;
}

impl LogCtxView<'_> {
    /// Emits one guest message, within the instance's budget.
    pub fn record(&mut self, level: Level, mut message: String) {
        let now = Instant::now();
        let allowed = self.budget.take(now);
        self.report_dropped(now, false);
        if !allowed {
            return;
        }
        metrics::counter!("provisio_connector_log_lines_total", "target" => self.target.to_owned())
            .increment(1);
        self.scrubber.scrub(&mut message);
        truncate_on_char_boundary(&mut message, MAX_MESSAGE_BYTES);
        let (target, connector) = (self.target, self.connector);
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(target: "provisio::connector", target, connector, "{message}")
            };
        }
        match level {
            Level::Trace => emit!(trace),
            Level::Debug => emit!(debug),
            Level::Info => emit!(info),
            Level::Warn => emit!(warn),
            Level::Error => emit!(error),
        }
    }
}

impl LogCtxView<'_> {
    /// Says how many lines were dropped, once per interval (or now, with
    /// `force`, when a call ends).
    pub fn report_dropped(&mut self, now: Instant, force: bool) {
        if let Some(dropped) = self.budget.due_report(now, force) {
            metrics::counter!("provisio_connector_log_lines_dropped_total", "target" => self.target.to_owned())
                .increment(dropped);
            tracing::warn!(target: "provisio::connector", target = self.target, connector = self.connector,
                dropped, "connector log lines dropped over the target's log rate (log_rate)");
        }
    }
}

fn truncate_on_char_boundary(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push_str("… (truncated)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_lets_a_burst_through_then_counts_the_rest() {
        let start = Instant::now();
        let mut budget = LogBudget::new(10.0, 3);
        let allowed = (0..100).filter(|_| budget.take(start)).count();
        assert_eq!(allowed, 3);
        assert_eq!(budget.due_report(start, false), None, "not yet time to say");
        assert_eq!(budget.due_report(start, true), Some(97));
        assert!(
            budget.take(start + Duration::from_millis(100)),
            "refilled at 10/s"
        );
        assert!(!budget.take(start + Duration::from_millis(100)));
    }

    #[test]
    fn truncates_without_splitting_characters() {
        let mut s = "é".repeat(10);
        truncate_on_char_boundary(&mut s, 5);
        assert_eq!(s, "éé… (truncated)");
    }
}

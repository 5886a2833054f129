//! `provisio:connector/log`: a connector's messages into the host's
//! tracing, tagged with the target and the connector (every contract
//! version imports it, so it is always linked; see `runtime/bindings`).

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

/// Who is speaking, for every line one instance logs.
pub struct LogCtxView<'a> {
    pub target: &'a str,
    /// `name@version` of the connector.
    pub connector: &'a str,
}

/// State that can lend the `log` capability.
pub trait LogView: Send {
    fn log(&mut self) -> LogCtxView<'_>;
}

impl LogCtxView<'_> {
    /// Emits one guest message.
    pub fn record(&self, level: Level, mut message: String) {
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
    #[test]
    fn truncates_without_splitting_characters() {
        let mut s = "é".repeat(10);
        super::truncate_on_char_boundary(&mut s, 5);
        assert_eq!(s, "éé… (truncated)");
    }
}

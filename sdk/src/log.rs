//! Logging into the host's tracing. Messages are tagged by the host with the
//! target and the connector, so connectors only say what happened.

pub use crate::bindings::provisio::connector::log::Level;

/// Sends one message to the host. Prefer the [`info!`](crate::info) family.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::provisio::connector::log::log(level, message);
    // A native build (a connector's unit tests) keeps it in the fake.
    #[cfg(not(target_arch = "wasm32"))]
    crate::native::log_host::log(level, message);
}

/// Logs at trace level: `provisio_sdk::trace!("read {} rows", n)`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+)) };
}

/// Logs at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+)) };
}

/// Logs at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+)) };
}

/// Logs at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+)) };
}

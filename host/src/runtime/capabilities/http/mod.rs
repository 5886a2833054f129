//! Outgoing HTTP (`wasi:http`), only to the origins the operator grants a
//! target: scheme, host and port, and optionally a path prefix. Anything
//! else is refused before a connection is opened, and logged. The operator
//! also bounds the time of a request and the size of its bodies.
//!
//! Configured by `[targets.<name>.grants.http]` ([`HttpGrantConfig`]).

mod config;
mod hooks;
mod origin;
mod recorded;

pub use config::HttpGrantConfig;
pub use hooks::{HttpGrant, HttpHooks};
pub use origin::AllowedOrigin;

use wasmtime::component::Linker;
use wasmtime_wasi_http::WasiHttpView;

/// Imports of outgoing HTTP start with this, whatever their version.
pub const IMPORT_PREFIX: &str = "wasi:http/";

pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

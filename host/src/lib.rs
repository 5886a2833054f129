//! Provisio's host: the sandboxed connector runtime and the `provisio`
//! binary. Data flows one way: the CLI (and later the HTTP API) drive the
//! runtime, which runs connector components.

pub mod api;
pub mod bundled;
pub mod cli;
pub mod config;
pub mod engine;
pub mod keys;
pub mod model;
pub mod runtime;
pub mod server;
pub mod store;

//! Provisio's host: the library behind the `provisio` binary.
//!
//! Data flows one way: [`api`] (HTTP) → [`identity`] (identities, roles and
//! policy maps, turned into plans) → [`engine`] (durable queue, order,
//! retries, policies) → [`runtime`] (the wasmtime sandbox) → connector
//! components, with [`store`] (operations, links, the audit log) beside the
//! engine, and the `registry` of connector versions between the engine and
//! the runtime. `watch` is a second way in beside the API (connector files
//! dropped in a directory). [`server`] assembles them from a [`config`];
//! [`cli`] is the command line. `secret`, `setting` and [`expr`] (policy
//! expressions) are leaves every layer may use. Modules that are not `pub` are used only inside the
//! crate, so the compiler reports their dead code.

#![deny(unsafe_code)]

pub mod api;
pub mod bundled;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod engine;
pub mod expr;
pub mod identity;
pub mod keys;
pub mod model;
pub mod recon;
mod registry;
pub mod runtime;
mod secret;
pub mod server;
mod setting;
pub mod store;
mod watch;

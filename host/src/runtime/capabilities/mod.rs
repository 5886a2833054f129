//! What the host lends a connector, one module per capability. Each is
//! granted per target by the operator; a connector gets nothing else.
//!
//! - `log`: always granted; messages go to the host's tracing.
//! - `config`: always granted; the target's settings and secrets.
//! - `directory`: a host directory preopened at [`directory::GUEST_PATH`],
//!   only when the target grants one (file connectors).
//! - `http`: outgoing `wasi:http` requests, only to the granted origins.
//! - `sql`: named databases behind host-owned pools (`provisio:sql`), only
//!   those the target grants.
//! - `ldap`: directory connections the host owns and binds (`provisio:ldap`),
//!   only to the URLs the target grants.
//!
//! WASI 0.2 is linked for every connector because Rust's std imports it
//! even for pure computation, but with no preopens, no environment, no
//! arguments, no sockets and no name lookups unless granted above.

pub mod config;
pub mod directory;
pub mod http;
pub mod ldap;
pub mod log;
pub mod sql;

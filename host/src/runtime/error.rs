//! What can go wrong loading a connector or calling it.

use crate::model::ConnectorError;
use std::fmt;
use std::time::Duration;

/// A connector file the host refuses to load. Each case names the cause so an
/// operator (or the upload API) can say exactly what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not a WebAssembly file: it does not start with the `\\0asm` magic bytes")]
    NotWasm,
    #[error(
        "a core WebAssembly module, not a component: build the connector with \
         `cargo build --target wasm32-wasip2` (or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "the component does not implement the connector world: it exports no \
         `provisio:connector/connector` interface (it exports: {exports})"
    )]
    NotAConnector { exports: String },
    #[error("built against provisio:connector@{found}, but this host supports {supported}")]
    UnsupportedContract { found: String, supported: String },
    #[error("the connector's `{export}` export does not match the contract {contract}: {detail}")]
    ContractMismatch {
        export: String,
        contract: String,
        detail: String,
    },
    #[error("the connector imports {import}, which this host does not provide")]
    UnknownImport { import: String },
    #[error("the connector's imports do not match what this host provides: {detail}")]
    ImportMismatch { detail: String },
    #[error("the connector could not be instantiated: {0}")]
    Instantiate(String),
    #[error("the connector's `info` call failed: {0}")]
    Info(Box<CallError>),
    #[error("the connector declares an invalid {field}: {reason}")]
    BadInfo { field: &'static str, reason: String },
    #[error("the host could not prepare the connector: {0}")]
    Host(String),
}

/// The operations of the contract, for errors, logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Creating an instance, outside any contract operation.
    Instantiate,
    Info,
    Schema,
    Test,
    Create,
    Get,
    Update,
    Delete,
    Search,
    Sync,
    LatestSyncToken,
    Count,
}

impl Operation {
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Instantiate => "instantiate",
            Operation::Info => "info",
            Operation::Schema => "schema",
            Operation::Test => "test",
            Operation::Create => "create",
            Operation::Get => "get",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Search => "search",
            Operation::Sync => "sync",
            Operation::LatestSyncToken => "latest-sync-token",
            Operation::Count => "count",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call, with which connector, target and operation it was.
#[derive(Debug, thiserror::Error)]
#[error("connector {connector} (target {target}): {operation}: {kind}")]
pub struct CallError {
    /// `name@version` of the connector.
    pub connector: String,
    pub target: String,
    pub operation: Operation,
    pub kind: CallErrorKind,
}

impl CallError {
    /// The connector's own error, when it returned one (as opposed to
    /// misbehaving or being stopped by the host).
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match &self.kind {
            CallErrorKind::Connector(e) => Some(e),
            _ => None,
        }
    }

    /// True when the engine may retry the operation: a retryable connector
    /// error, or the host having no instance free right now. A plugin that
    /// trapped or ran out of time or memory is not retried: it would do the
    /// same again.
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            CallErrorKind::Connector(e) => e.is_retryable(),
            CallErrorKind::Busy => true,
            _ => false,
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallErrorKind {
    /// The connector ran and returned an error.
    #[error("{0}")]
    Connector(ConnectorError),
    /// The connector does not declare this operation in its capabilities.
    #[error("the connector does not support this operation")]
    NotSupported,
    #[error("timed out after {0:?}; the instance was discarded")]
    Timeout(Duration),
    #[error(
        "tried to grow its memory to {requested} bytes, over the limit of {limit} bytes; \
         the instance was discarded"
    )]
    MemoryLimit { requested: usize, limit: usize },
    #[error("panicked: {message}; the instance was discarded")]
    Panic { message: String },
    #[error("trapped: {message}; the instance was discarded")]
    Trap { message: String },
    #[error("returned about {size} bytes, over the limit of {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
    #[error("no instance is free: the host's instance limit is reached")]
    Busy,
    #[error("host error: {0}")]
    Host(String),
}

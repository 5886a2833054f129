//! What the engine refuses, typed: callers (the API, the CLI) map each
//! case to their own answer.

use super::request::RequestError;
use super::switch::SwitchError;
use crate::registry::RegistryError;
use crate::runtime::CallError;
use crate::store::{Status, StoreError};

/// The engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("target {target}: {reason}")]
    Target { target: String, reason: String },
    #[error("the connector registry cannot open")]
    Registry(#[source] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a request on an operation or a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no target named `{0}`")]
    UnknownTarget(String),
    #[error("no operation {0}")]
    UnknownOperation(String),
    #[error(transparent)]
    Invalid(#[from] RequestError),
    #[error("operation {id} is {current}: {reason}")]
    WrongState {
        id: String,
        current: Status,
        reason: String,
    },
    #[error("{0}")]
    Connector(#[from] CallError),
    #[error("{0}")]
    Refused(String),
    /// The caller may not do this to this operation (four eyes).
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Switch(#[from] SwitchError),
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// The target has no such account (linking one).
    #[error("{0}")]
    UnknownAccount(String),
    /// The operation addresses a protected account.
    #[error("{0}")]
    Protected(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => EngineError::UnknownOperation(id),
            e @ StoreError::IdempotencyKeyReused { .. } => {
                EngineError::IdempotencyKeyReused(e.to_string())
            }
            e => EngineError::Store(e),
        }
    }
}

//! What can go wrong with a reconciliation request.

use crate::engine::EngineError;
use crate::identity::IdentityError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReconError {
    #[error("there is no target `{0}`")]
    UnknownTarget(String),
    #[error("there is no reconciliation run {0}")]
    UnknownRun(String),
    #[error("a reconciliation of target {target} is in progress ({id}); wait for it to end")]
    Busy { target: String, id: String },
    #[error("run {id} is {state}; only a run that is {expected} can be")]
    WrongState {
        id: String,
        state: &'static str,
        expected: &'static str,
    },
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("the host is stopping; the run resumes when it starts again")]
    Stopping,
    #[error("the target could not be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

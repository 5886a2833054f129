//! What can go wrong with an identity request.

use super::model::InvalidIdentity;
use super::plan::PlanError;
use crate::engine::EngineError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity {0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Invalid(#[from] InvalidIdentity),
    #[error("the plan could not be made: {0}")]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

//! What a target grants its connector and how it limits it.

use crate::runtime::capabilities::Grants;
use crate::runtime::limits::CallLimits;

/// What a target grants its connector and how it limits it: the input of
/// `LoadedComponent::start`, then shared by the target's instances.
#[derive(Debug, Clone)]
pub struct TargetSettings {
    /// The target's name, in logs and errors.
    pub name: String,
    pub grants: Grants,
    pub limits: CallLimits,
    /// Instances (and so concurrent calls) at most.
    pub max_instances: usize,
}

impl TargetSettings {
    /// Nothing granted, default limits.
    pub fn new(name: impl Into<String>) -> Self {
        TargetSettings {
            name: name.into(),
            grants: Grants::default(),
            limits: CallLimits::default(),
            max_instances: 4,
        }
    }
}

//! The provisioning engine: accepts operations durably, runs them through
//! each target's connector in order per account and in parallel across
//! accounts, retries what the target says is temporary, applies the
//! target's policies, and records every step in the audit log.

//!
//! One file per concern: `boot` loads the targets and restores what the
//! store remembers; `submit` records an operation and starts or queues it;
//! `dispatch` runs each target's queue and `execute` one attempt;
//! `decide` holds operators' decisions; `read` the read side (schema,
//! test, search, count, link); `quarantine` and `policy` pace a target;
//! `catalog`, `switch`, `canary` and `deployment` manage connector
//! versions. `mod.rs` holds the [`Engine`] and its shared state.

mod approval;
mod batch;
mod boot;
mod canary;
mod catalog;
mod completion;
mod decide;
mod deployment;
mod dispatch;
mod error;
mod execute;
mod group_names;
mod health;
mod initial_password;
mod monitor;
mod policy;
mod protection;
mod quarantine;
mod queue;
mod read;
mod reload;
mod request;
mod submit;
mod switch;
mod sync;
mod target;

pub use deployment::{Role as VersionRole, VersionStatus};
pub use error::{BootError, EngineError};
pub use health::Health;
pub use read::{Count, CountedBy};
pub use reload::PolicyError;
pub use request::{OperationKind, OperationRequest, RequestError};
pub use switch::{SwitchError, SwitchReport};
pub use target::{CanaryStatus, Held, TargetStatus};

use crate::keys::HostKey;
use crate::registry::Registry;
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use target::Target;

/// Who asks: a token's name, for the audit log.
pub type Actor = str;

/// State shared by the engine's tasks.
pub(crate) struct Shared {
    store: Arc<dyn Store>,
    registry: Registry,
    key: HostKey,
    shutting_down: AtomicBool,
    /// Wakes the engine's timers (health checks) when it stops.
    stopping: tokio::sync::Notify,
    completions: completion::Completions,
}

impl Shared {
    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

/// The running engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    targets: Arc<BTreeMap<String, Arc<Target>>>,
}

impl Engine {
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    fn target(&self, name: &str) -> Result<&Arc<Target>, EngineError> {
        self.targets
            .get(name)
            .ok_or_else(|| EngineError::UnknownTarget(name.to_owned()))
    }

    pub fn target_names(&self) -> Vec<String> {
        self.targets.keys().cloned().collect()
    }

    pub fn targets(&self) -> Vec<TargetStatus> {
        self.targets.values().map(|t| t.status()).collect()
    }

    pub fn target_status(&self, name: &str) -> Result<TargetStatus, EngineError> {
        Ok(self.target(name)?.status())
    }

    /// Stops taking new attempts; running ones finish.
    pub fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        self.shared.stopping.notify_waiters();
        for target in self.targets.values() {
            target.wake.notify_waiters();
        }
    }
}

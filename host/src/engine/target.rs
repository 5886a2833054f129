//! A configured target while the host runs: its connector versions, its
//! queue and its pacing state.

use super::approval::ApprovalRule;
use super::deployment::{Deployed, Lease, Previous, Purpose, Role, VersionStatus, Versions};
use super::health::{Health, HealthState};
use super::policy::{FailureWindow, TokenBucket};
use super::protection::{Check, Protection};
use super::queue::Queue;
use super::sync::{lock, read, write};
use crate::config::TargetConfig;
use crate::model::ObjectSchema;
use crate::runtime::{CallError, TargetSettings};
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::{Notify, Semaphore};

pub struct Target {
    pub name: String,
    /// What a configuration reload may change; read it once per decision
    /// so that one decision sees one policy.
    policy: RwLock<Arc<Policy>>,
    /// What every version of the connector is granted on this target.
    pub(super) settings: TargetSettings,
    pub(super) versions: RwLock<Versions>,
    /// Held while a switch prepares and swaps, so switches do not interleave.
    pub(super) switching: tokio::sync::Mutex<()>,
    pub(super) schema: Mutex<Option<ObjectSchema>>,
    pub(super) queue: Mutex<Queue>,
    /// Group names membership changes resolved to uids.
    pub(super) group_names: Mutex<super::group_names::GroupNames>,
    /// Membership changes of a group waiting to be made together.
    pub(super) batches: super::batch::Batches,
    /// Wakes the dispatcher: new work, a finished attempt, a lifted quarantine.
    pub(super) wake: Notify,
    pub(super) permits: Arc<Semaphore>,
    pub(super) failures: Mutex<FailureWindow>,
    pub(super) quarantine: Mutex<Option<String>>,
    pub(super) health: Mutex<HealthState>,
}

/// A target's configuration with what is built from it: the part a
/// configuration reload swaps whole.
pub(super) struct Policy {
    pub config: TargetConfig,
    pub protection: Option<Arc<Protection>>,
    pub approval: ApprovalRule,
    pub bucket: Option<Arc<Mutex<TokenBucket>>>,
}

impl Policy {
    pub(super) fn new(config: TargetConfig) -> Self {
        Policy {
            protection: config
                .protected
                .as_deref()
                .map(|filter| Arc::new(Protection::new(filter))),
            approval: ApprovalRule::new(&config.approval),
            bucket: config
                .rate_limit
                .map(|r| Arc::new(Mutex::new(TokenBucket::new(r.per_second, r.burst)))),
            config,
        }
    }

    /// The policy `config` makes, keeping what this one has already
    /// learnt where the setting is unchanged: a protected filter's check
    /// against the schema, the rate limit's tokens.
    pub(super) fn succeeded_by(&self, config: TargetConfig) -> Self {
        let mut next = Policy::new(config);
        if next.config.protected == self.config.protected {
            next.protection = self.protection.clone();
        }
        if next.config.rate_limit == self.config.rate_limit {
            next.bucket = self.bucket.clone();
        }
        next
    }
}

/// Why a target's operations wait, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Held {
    /// `quarantine` or `protection`.
    pub by: &'static str,
    pub reason: String,
}

/// A canary as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CanaryStatus {
    pub connector: String,
    pub sha256: String,
    pub share: f64,
    pub reads_only: bool,
}

/// A target as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetStatus {
    pub name: String,
    pub description: String,
    /// `name@version` of the active connector version.
    pub connector: String,
    /// sha256 of the active version.
    pub sha256: String,
    pub contract: String,
    /// `name@version` a rollback returns to.
    pub previous: Option<String>,
    /// The canary, when one runs: `name@version`, its share, whether only
    /// reads go to it.
    pub canary: Option<CanaryStatus>,
    /// When the active version was switched to (RFC 3339).
    pub switched_at: String,
    /// The active, previous and draining versions.
    pub versions: Vec<VersionStatus>,
    pub capabilities: Vec<&'static str>,
    pub class: String,
    pub approval: bool,
    /// `quarantined`, or what the last test of the target said: `ok`,
    /// `degraded`, `failing`, or `unknown` (not tested yet, or the
    /// connector has no test).
    pub health: &'static str,
    /// Why it is not `ok`.
    pub health_reason: Option<String>,
    /// When the target was last tested (RFC 3339).
    pub health_checked_at: Option<String>,
    pub quarantine_reason: Option<String>,
    /// Why its operations wait, when they do.
    pub held: Option<Held>,
    /// Operations not yet final.
    pub queue_depth: usize,
    pub running: usize,
    pub concurrency: usize,
    pub instances_created: u64,
    pub instances_discarded: u64,
}

impl Target {
    pub(super) fn new(
        name: String,
        config: TargetConfig,
        settings: TargetSettings,
        versions: Versions,
    ) -> Self {
        Target {
            permits: Arc::new(Semaphore::new(config.concurrency)),
            failures: Mutex::new(FailureWindow::new(config.quarantine)),
            name,
            settings,
            versions: RwLock::new(versions),
            switching: tokio::sync::Mutex::new(()),
            policy: RwLock::new(Arc::new(Policy::new(config))),
            schema: Mutex::new(None),
            queue: Mutex::new(Queue::default()),
            group_names: Mutex::default(),
            batches: super::batch::Batches::default(),
            wake: Notify::new(),
            quarantine: Mutex::new(None),
            health: Mutex::new(HealthState::default()),
        }
    }

    /// The active version, held until the lease drops.
    pub(super) fn lease(&self) -> Lease {
        Lease::take(&read(&self.versions).active)
    }

    /// A version for `work`: the canary's share of it goes to the canary.
    pub(super) fn lease_for(&self, purpose: Purpose) -> Lease {
        let versions = read(&self.versions);
        if let Some(canary) = &versions.canary
            && (purpose == Purpose::Read || !canary.reads_only)
            && rand::random::<f64>() < canary.share
        {
            return Lease::take(&canary.deployed);
        }
        Lease::take(&versions.active)
    }

    /// The active version (for reading what it is, not for calling it).
    pub(super) fn active(&self) -> Arc<Deployed> {
        read(&self.versions).active.clone()
    }

    pub(super) fn queue(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    pub(super) fn policy(&self) -> Arc<Policy> {
        read(&self.policy).clone()
    }

    /// Puts `policy` in force; what it changes applies to the next
    /// decision (a submission, an attempt, a retry's delay).
    pub(super) fn set_policy(&self, policy: Policy) {
        if policy.config.quarantine != self.policy().config.quarantine {
            *lock(&self.failures) = FailureWindow::new(policy.config.quarantine);
        }
        *write(&self.policy) = Arc::new(policy);
        self.wake.notify_one();
    }

    pub fn schema(&self) -> Option<ObjectSchema> {
        lock(&self.schema).clone()
    }

    /// `class` (or the default class) as this target spells it.
    pub(super) fn class_name(&self, class: Option<&str>) -> String {
        let schema = self.schema();
        let policy = self.policy();
        super::request::Rules {
            default_class: &policy.config.class,
            schema: schema.as_ref(),
            max_attributes: policy.config.max_attributes,
        }
        .class_name(class.unwrap_or(&policy.config.class))
    }

    pub(super) fn set_schema(&self, schema: ObjectSchema) {
        let policy = self.policy();
        if let Some(protection) = &policy.protection {
            protection.verify(&schema, &policy.config.class);
        }
        *lock(&self.schema) = Some(schema);
        // A protected filter just checked may release held operations.
        self.wake.notify_one();
    }

    /// Reads the schema from the active connector and keeps it; answers
    /// what it says of the protected filter (`Verified` without one).
    pub(super) async fn read_schema(&self) -> Result<Check, CallError> {
        let lease = self.lease();
        let schema = lease.connector.schema().await?;
        drop(lease);
        self.set_schema(schema);
        Ok(self
            .policy()
            .protection
            .as_ref()
            .map_or(Check::Verified, |p| p.check()))
    }

    pub fn quarantine_reason(&self) -> Option<String> {
        lock(&self.quarantine).clone()
    }

    /// Ends a quarantine (recorded by the caller) and lets work run.
    pub(super) fn clear_quarantine(&self) {
        lock(&self.failures).clear();
        *lock(&self.quarantine) = None;
        metrics::gauge!("provisio_quarantined", "target" => self.name.clone()).set(0.0);
        self.wake.notify_one();
    }

    /// Whether the schema should be read (again): it is unknown, or a
    /// protected filter is not yet known to hold.
    pub(super) fn needs_schema(&self) -> bool {
        lock(&self.schema).is_none()
            || self
                .policy()
                .protection
                .as_ref()
                .is_some_and(|p| p.check() != Check::Verified)
    }

    /// Why the target's operations wait, when they do: a quarantine, or a
    /// protected filter not yet checked against the schema.
    pub fn held(&self) -> Option<Held> {
        if let Some(reason) = self.quarantine_reason() {
            return Some(Held {
                by: "quarantine",
                reason,
            });
        }
        self.policy()
            .protection
            .as_ref()
            .and_then(|p| p.hold_reason())
            .map(|reason| Held {
                by: "protection",
                reason,
            })
    }

    pub fn status(&self) -> TargetStatus {
        let (depth, running) = {
            let queue = self.queue();
            (queue.len(), queue.running())
        };
        let reason = self.quarantine_reason();
        let policy = self.policy();
        let health = lock(&self.health).clone();
        let (active, previous, mut versions, switched_at, canary) = {
            let v = read(&self.versions);
            let mut versions = vec![v.active.status(Role::Active)];
            versions.extend(v.canary.iter().map(|c| c.deployed.status(Role::Canary)));
            let previous = match &v.previous {
                Some(Previous::Started(d)) => {
                    versions.push(d.status(Role::Previous));
                    Some(d.label())
                }
                Some(Previous::Stored(sha)) => Some(sha.clone()),
                None => None,
            };
            versions.extend(v.draining.iter().map(|d| d.status(Role::Draining)));
            let canary = v.canary.as_ref().map(|c| CanaryStatus {
                connector: c.deployed.label(),
                sha256: c.deployed.version.sha256.clone(),
                share: c.share,
                reads_only: c.reads_only,
            });
            (v.active.clone(), previous, versions, v.switched_at, canary)
        };
        versions.dedup_by(|a, b| a.sha256 == b.sha256 && a.role == Role::Draining);
        let info = active.connector.info();
        let stats = active.connector.stats();
        TargetStatus {
            name: self.name.clone(),
            description: policy.config.description.clone(),
            connector: active.label(),
            sha256: active.version.sha256.clone(),
            contract: format!("provisio:connector@{}", active.version.contract),
            previous,
            canary,
            switched_at: crate::store::rfc3339(switched_at),
            versions,
            capabilities: info.capabilities.names(),
            class: policy.config.class.clone(),
            approval: policy.approval.is_on(),
            health: if reason.is_some() {
                "quarantined"
            } else {
                match health.health {
                    Health::Ok => "ok",
                    Health::Degraded => "degraded",
                    Health::Failing => "failing",
                    Health::Unknown => "unknown",
                }
            },
            health_reason: reason.clone().or(health.reason),
            health_checked_at: health.checked_at.map(crate::store::rfc3339),
            quarantine_reason: reason,
            held: self.held(),
            queue_depth: depth,
            running,
            concurrency: policy.config.concurrency,
            instances_created: stats.instantiated,
            instances_discarded: stats.discarded,
        }
    }
}

//! A configured target while the host runs: its connector, its queue and
//! its pacing state.

use super::policy::{FailureWindow, TokenBucket};
use super::queue::Queue;
use crate::config::TargetConfig;
use crate::model::ObjectSchema;
use crate::runtime::Connector;
use provisio_filter::Filter;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore};

pub struct Target {
    pub name: String,
    pub config: TargetConfig,
    pub connector: Connector,
    pub protected: Option<Filter>,
    pub(super) schema: Mutex<Option<ObjectSchema>>,
    pub(super) queue: Mutex<Queue>,
    /// Wakes the dispatcher: new work, a finished attempt, a lifted quarantine.
    pub(super) wake: Notify,
    pub(super) permits: Arc<Semaphore>,
    pub(super) bucket: Option<Mutex<TokenBucket>>,
    pub(super) failures: Mutex<FailureWindow>,
    pub(super) quarantine: Mutex<Option<String>>,
}

/// A target as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TargetStatus {
    pub name: String,
    pub description: String,
    /// `name@version` of the connector.
    pub connector: String,
    pub contract: String,
    pub capabilities: Vec<&'static str>,
    pub class: String,
    pub approval: bool,
    /// `ok`, or `quarantined`.
    pub health: &'static str,
    pub quarantine_reason: Option<String>,
    /// Operations not yet final.
    pub queue_depth: usize,
    pub running: usize,
    pub concurrency: usize,
    pub instances_created: u64,
    pub instances_discarded: u64,
}

impl Target {
    pub fn new(name: String, config: TargetConfig, connector: Connector) -> Self {
        let protected = config
            .protected
            .as_deref()
            .map(|f| provisio_filter::parse(f).expect("the configuration checked the filter"));
        let bucket = config
            .rate_limit
            .map(|r| Mutex::new(TokenBucket::new(r.per_second, r.burst)));
        Target {
            permits: Arc::new(Semaphore::new(config.concurrency)),
            failures: Mutex::new(FailureWindow::new(config.quarantine)),
            name,
            protected,
            bucket,
            connector,
            config,
            schema: Mutex::new(None),
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            quarantine: Mutex::new(None),
        }
    }

    pub(super) fn queue(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    pub fn schema(&self) -> Option<ObjectSchema> {
        lock(&self.schema).clone()
    }

    pub(super) fn set_schema(&self, schema: ObjectSchema) {
        *lock(&self.schema) = Some(schema);
    }

    pub fn quarantine_reason(&self) -> Option<String> {
        lock(&self.quarantine).clone()
    }

    pub fn status(&self) -> TargetStatus {
        let (depth, running) = {
            let queue = self.queue();
            (queue.len(), queue.running())
        };
        let reason = self.quarantine_reason();
        let info = self.connector.info();
        let stats = self.connector.stats();
        TargetStatus {
            name: self.name.clone(),
            description: self.config.description.clone(),
            connector: self.connector.component().label(),
            contract: format!(
                "provisio:connector@{}",
                self.connector.component().facts.contract
            ),
            capabilities: info.capabilities.names(),
            class: self.config.class.clone(),
            approval: self.config.approval,
            health: if reason.is_some() {
                "quarantined"
            } else {
                "ok"
            },
            quarantine_reason: reason,
            queue_depth: depth,
            running,
            concurrency: self.config.concurrency,
            instances_created: stats.instantiated,
            instances_discarded: stats.discarded,
        }
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

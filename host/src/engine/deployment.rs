//! The connector versions of one target while the host runs: the active
//! one (new operations lease it), the previous one (what a rollback returns
//! to), and older ones still draining.
//!
//! An attempt holds a [`Lease`] on the version it started with for its
//! whole life, so a switch never moves work mid-attempt; a version whose
//! leases are gone drops its idle instances.

use crate::runtime::Connector;
use crate::store::ConnectorVersion;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// One version started for one target.
pub(super) struct Deployed {
    pub connector: Connector,
    pub version: ConnectorVersion,
    in_flight: AtomicUsize,
    calls: AtomicU64,
    failed_calls: AtomicU64,
    idle: Notify,
    /// Built once: leases update metrics on every attempt.
    labels: [(&'static str, String); 2],
}

impl Deployed {
    pub fn new(connector: Connector, version: ConnectorVersion) -> Arc<Deployed> {
        let labels = [
            ("target", connector.target().to_owned()),
            ("connector", version.label()),
        ];
        Arc::new(Deployed {
            labels,
            connector,
            version,
            in_flight: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            failed_calls: AtomicU64::new(0),
            idle: Notify::new(),
        })
    }

    /// `name@version`.
    pub fn label(&self) -> String {
        self.version.label()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Counts connector calls made on this version; `failed` are those that
    /// failed because of the target or the connector, not the request.
    pub fn record_calls(&self, calls: u64, failed: u64) {
        self.calls.fetch_add(calls, Ordering::Relaxed);
        self.failed_calls.fetch_add(failed, Ordering::Relaxed);
        let labels = self.labels();
        metrics::counter!("provisio_connector_calls_total", labels).increment(calls);
        metrics::counter!("provisio_connector_failed_calls_total", labels).increment(failed);
    }

    /// The metric labels of this version on its target.
    fn labels(&self) -> &[(&'static str, String); 2] {
        &self.labels
    }

    /// Waits until no attempt holds this version.
    pub async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            if self.in_flight() == 0 {
                return;
            }
            idle.await;
        }
    }

    pub fn status(&self, role: Role) -> VersionStatus {
        let calls = self.calls.load(Ordering::Relaxed);
        let failed = self.failed_calls.load(Ordering::Relaxed);
        let stats = self.connector.stats();
        VersionStatus {
            role,
            connector: self.label(),
            sha256: self.version.sha256.clone(),
            contract: format!("provisio:connector@{}", self.version.contract),
            in_flight: self.in_flight(),
            idle_instances: stats.idle,
            instances_created: stats.instantiated,
            instances_discarded: stats.discarded,
            calls,
            failed_calls: failed,
            error_rate: if calls == 0 {
                0.0
            } else {
                failed as f64 / calls as f64
            },
        }
    }
}

/// A version's use by one attempt; released on drop.
pub(super) struct Lease(Arc<Deployed>);

impl Lease {
    /// Must be taken while the version cannot be switched away (under the
    /// target's versions lock), so a drain never misses it.
    pub fn take(deployed: &Arc<Deployed>) -> Lease {
        deployed.in_flight.fetch_add(1, Ordering::AcqRel);
        metrics::gauge!("provisio_connector_in_flight", deployed.labels()).increment(1.0);
        Lease(deployed.clone())
    }
}

impl std::ops::Deref for Lease {
    type Target = Deployed;
    fn deref(&self) -> &Deployed {
        &self.0
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        metrics::gauge!("provisio_connector_in_flight", self.0.labels()).decrement(1.0);
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// What a version is to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Active,
    /// Serving a share of the operations before a switch.
    Canary,
    Previous,
    /// Replaced, and still finishing attempts that started on it.
    Draining,
}

/// A version of a target's connector, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionStatus {
    pub role: Role,
    /// `name@version`.
    pub connector: String,
    pub sha256: String,
    pub contract: String,
    /// Attempts running on this version now.
    pub in_flight: usize,
    pub idle_instances: usize,
    pub instances_created: u64,
    pub instances_discarded: u64,
    /// Connector calls since this version started on the target.
    pub calls: u64,
    /// Calls that failed because of the target or the connector (down,
    /// refusing, crashing), not because of the request.
    pub failed_calls: u64,
    pub error_rate: f64,
}

/// The versions of one target.
pub(super) struct Versions {
    pub active: Arc<Deployed>,
    /// The version a rollback returns to: started when it has run in this
    /// process, otherwise only its sha256 (loaded on rollback).
    pub previous: Option<Previous>,
    /// Replaced versions with attempts still running.
    pub draining: Vec<Arc<Deployed>>,
    /// When the active version was switched to (Unix ms).
    pub switched_at: i64,
    /// sha256 of the connector the configuration names.
    pub configured: String,
    /// A version trying a share of the work before it is activated.
    pub canary: Option<Canary>,
}

impl Versions {
    /// Lists a version that stopped serving as draining while attempts
    /// still hold it.
    pub fn retire(&mut self, deployed: &Arc<Deployed>) {
        if deployed.in_flight() > 0 {
            self.draining.push(deployed.clone());
        }
    }
}

pub(super) struct Canary {
    pub deployed: Arc<Deployed>,
    /// The share of leases it takes, in (0, 1].
    pub share: f64,
    /// Only reads (search, get, count) go to it; operations stay on the
    /// active version.
    pub reads_only: bool,
}

/// What a lease is for, which decides whether a canary may take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// A provisioning operation's attempt.
    Operation,
    /// A read on the API's behalf (search, get, count).
    Read,
}

pub(super) enum Previous {
    Started(Arc<Deployed>),
    Stored(String),
}

impl Previous {
    pub fn sha256(&self) -> &str {
        match self {
            Previous::Started(d) => &d.version.sha256,
            Previous::Stored(sha) => sha,
        }
    }
}

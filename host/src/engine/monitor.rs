//! Runs each target's `test` at start and on an interval. The same loop
//! probes a quarantined target on an escalating interval and lifts the
//! quarantine when it answers again, and reads the schema when it could
//! not be read before (submission checks and the protected filter depend
//! on it).

use super::Shared;
use super::health::{Health, HealthState, assess};
use super::sync::lock;
use super::target::Target;
use crate::runtime::CallError;
use crate::store::{AuditEvent, now_ms};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Tests the target now and keeps the result as its health; a passing
/// test also reads a schema still unknown.
pub(super) async fn test(target: &Target) -> Result<(), CallError> {
    let lease = target.lease();
    let reports_schema = lease.connector.info().capabilities.schema;
    let result = lease.connector.test().await;
    drop(lease);
    let (health, reason) = assess(&result);
    let passed = health == Health::Ok;
    {
        let mut state = lock(&target.health);
        if state.health != health {
            match health {
                Health::Ok => tracing::info!(target = %target.name, "target healthy"),
                _ => tracing::warn!(
                    target = %target.name,
                    "target {}: {}",
                    serde_json::to_value(health).unwrap_or_default(),
                    reason.as_deref().unwrap_or("")
                ),
            }
        }
        *state = HealthState {
            health,
            reason,
            checked_at: Some(now_ms()),
        };
    }
    metrics::gauge!("provisio_target_healthy", "target" => target.name.clone()).set(if passed {
        1.0
    } else {
        0.0
    });
    if passed && reports_schema && target.needs_schema() {
        match target.read_schema().await {
            Ok(_) => tracing::info!(target = %target.name, "schema read"),
            Err(e) => tracing::warn!(target = %target.name, "cannot read the schema: {e}"),
        }
    }
    result
}

/// Runs until the engine stops: a test at start, then one per
/// `health.interval`; while the target is quarantined, probes from
/// `quarantine.probe_interval`, doubling to `max_probe_interval`, and
/// lifts the quarantine at the first that passes (`lift_on_test`).
pub(super) async fn monitor(target: Arc<Target>, shared: Arc<Shared>) {
    let mut probe = target.policy().config.quarantine.probe_interval;
    let mut wait = Duration::ZERO;
    loop {
        let stopping = shared.stopping.notified();
        tokio::pin!(stopping);
        stopping.as_mut().enable();
        if shared.is_shutting_down() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopping => return,
        }
        let policy = target.policy().config.quarantine;
        let quarantined = target.quarantine_reason().is_some();
        let passed = test(&target).await.is_ok();
        if quarantined && passed && policy.lift_on_test {
            shared.lift_after_probe(&target).await;
        }
        probe = match (quarantined, passed) {
            (true, false) => (probe * 2).min(policy.max_probe_interval),
            _ => policy.probe_interval,
        };
        wait = if target.quarantine_reason().is_some() {
            probe
        } else {
            target.policy().config.health.interval
        };
    }
}

impl Shared {
    /// Lifts a quarantine because a probe passed.
    async fn lift_after_probe(&self, target: &Target) {
        let Some(reason) = target.quarantine_reason() else {
            return;
        };
        let audit = AuditEvent {
            actor: "engine".into(),
            target: Some(target.name.clone()),
            operation_id: None,
            event: "quarantine-lifted".into(),
            detail: json!({"reason": reason, "because": "the connector's test passed"}),
        };
        if let Err(e) = self.store.set_quarantine(&target.name, None, audit).await {
            tracing::error!(target = %target.name, "cannot record the lifted quarantine: {e}");
            return;
        }
        tracing::info!(target = %target.name, "quarantine lifted: the connector's test passed");
        target.clear_quarantine();
    }
}

//! A configuration reload, the engine's half: every target's policies
//! (approval, protected filter, retry, quarantine, rate limit, deletion,
//! membership, health) swapped at once, after all of them are known to be
//! valid. The caller has already checked that nothing else changed.

use super::Engine;
use super::protection::Check;
use crate::config::Config;
use crate::store::AuditEvent;
use serde_json::json;
use std::sync::Arc;

/// Why the new policies were not applied; nothing of them was.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct PolicyError {
    /// The configuration key at fault, e.g. `targets.hr.protected`.
    pub key: String,
    pub reason: String,
}

impl Engine {
    /// Puts the policies of `config` in force on every target, or none of
    /// them; records the reload (`changed`: the keys it changes) in the
    /// audit log.
    pub async fn apply_policies(
        &self,
        config: &Config,
        actor: &str,
        changed: &[String],
    ) -> Result<(), PolicyError> {
        let mut next = Vec::with_capacity(self.targets.len());
        for (name, target) in self.targets.iter() {
            let Some(target_config) = config.targets.get(name) else {
                return Err(PolicyError {
                    key: format!("targets.{name}"),
                    reason: "a target cannot be removed without a restart".into(),
                });
            };
            let current = target.policy();
            let policy = current.succeeded_by(target_config.clone());
            if let Some(protection) = &policy.protection
                && !current
                    .protection
                    .as_ref()
                    .is_some_and(|p| Arc::ptr_eq(p, protection))
            {
                let fail = |reason: String| PolicyError {
                    key: format!("targets.{name}.protected"),
                    reason,
                };
                let lease = target.lease();
                if !lease.connector.info().capabilities.schema {
                    return Err(fail(format!(
                        "connector {} does not report a schema, so Provisio cannot check that \
                         the filter names attributes the target has",
                        lease.label()
                    )));
                }
                drop(lease);
                // Without a schema yet, the filter waits to be checked as
                // at start: the target's changes hold until it is.
                if let Some(schema) = target.schema()
                    && let Check::Invalid(reason) = protection.verify(&schema, &policy.config.class)
                {
                    return Err(fail(format!("the filter {reason}")));
                }
            }
            next.push((target, policy));
        }
        for (target, policy) in next {
            target.set_policy(policy);
        }
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: None,
            operation_id: None,
            event: "config-reloaded".into(),
            detail: json!({"file": config.file.display().to_string(), "changed": changed}),
        };
        if let Err(e) = self.shared.store.append_audit(vec![audit]).await {
            tracing::error!("cannot audit a configuration reload: {e}");
        }
        Ok(())
    }

    /// Records a reload that was refused, and why; the host keeps its
    /// configuration.
    pub async fn audit_refused_reload(&self, actor: &str, file: &str, reason: &str) {
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: None,
            operation_id: None,
            event: "config-reload-refused".into(),
            detail: json!({"file": file, "error": reason}),
        };
        if let Err(e) = self.shared.store.append_audit(vec![audit]).await {
            tracing::error!("cannot audit a refused configuration reload: {e}");
        }
    }
}

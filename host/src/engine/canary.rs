//! Canaries: a share of a target's work sent to a version before it is
//! activated.

use super::deployment::Canary;
use super::switch::{SwitchError, drain, prepare};
use super::sync::{read, write};
use super::target::CanaryStatus;
use super::{Engine, EngineError};
use crate::registry::VersionRef;
use crate::store::AuditEvent;
use serde_json::json;

impl Engine {
    /// Sends a share of the target's work to a version before activating
    /// it, after the same checks as an activation. Its error rate shows
    /// beside the active version's; `activate` with it promotes it,
    /// [`Engine::stop_canary`] ends it. A restart ends it too.
    pub async fn start_canary(
        &self,
        name: &str,
        reference: &VersionRef,
        share: f64,
        reads_only: bool,
        actor: &str,
    ) -> Result<CanaryStatus, EngineError> {
        if !(share > 0.0 && share <= 1.0) {
            return Err(EngineError::Invalid(super::RequestError {
                field: "share".into(),
                message: format!("{share} is not a share in (0, 1]"),
            }));
        }
        let target = self.target(name)?.clone();
        let _switching = target.switching.lock().await;
        let active = target.active();
        let candidate = self.candidate(&target, &active, reference, false).await?;
        let deployed = prepare(&target, candidate, true).await?;
        let status = CanaryStatus {
            connector: deployed.label(),
            sha256: deployed.version.sha256.clone(),
            share,
            reads_only,
        };
        self.shared
            .store
            .append_audit(vec![AuditEvent {
                actor: actor.to_owned(),
                target: Some(target.name.clone()),
                operation_id: None,
                event: "canary-started".into(),
                detail: json!({
                    "active": active.label(),
                    "canary": status.connector,
                    "canary_sha256": status.sha256,
                    "share": share,
                    "reads_only": reads_only,
                }),
            }])
            .await
            .map_err(SwitchError::from)?;
        let old = write(&target.versions).canary.replace(Canary {
            deployed,
            share,
            reads_only,
        });
        if let Some(old) = old {
            tokio::spawn(drain(target.clone(), old.deployed));
        }
        tracing::info!(target = %target.name, canary = %status.connector, share, reads_only, "canary started");
        Ok(status)
    }

    /// Ends a canary: its share goes back to the active version and it drains.
    pub async fn stop_canary(&self, name: &str, actor: &str) -> Result<(), EngineError> {
        let target = self.target(name)?.clone();
        let _switching = target.switching.lock().await;
        let Some(label) = read(&target.versions)
            .canary
            .as_ref()
            .map(|c| c.deployed.label())
        else {
            return Err(EngineError::Refused(format!("target {name} has no canary")));
        };
        self.shared
            .store
            .append_audit(vec![AuditEvent {
                actor: actor.to_owned(),
                target: Some(target.name.clone()),
                operation_id: None,
                event: "canary-stopped".into(),
                detail: json!({"canary": label}),
            }])
            .await
            .map_err(SwitchError::from)?;
        let stopped = {
            let mut versions = write(&target.versions);
            let stopped = versions.canary.take();
            if let Some(canary) = &stopped {
                versions.retire(&canary.deployed);
            }
            stopped
        };
        if let Some(canary) = stopped {
            tokio::spawn(drain(target.clone(), canary.deployed));
        }
        Ok(())
    }
}

//! The registered connector versions: uploads, the list, removal.

use super::switch::SwitchError;
use super::sync::read;
use super::{Engine, EngineError};
use crate::registry::{RegistryError, Source, VersionRef};
use crate::store::{AuditEvent, ConnectorVersion};
use serde_json::json;
use std::sync::Arc;

impl Engine {
    /// Validates, compiles and records a connector upload.
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        actor: &str,
    ) -> Result<(ConnectorVersion, bool), EngineError> {
        let size = bytes.len();
        let added = self
            .shared
            .registry
            .add(Arc::from(bytes), None, Source::Upload, actor)
            .await
            .map_err(|e| EngineError::from(SwitchError::from(e)));
        match added {
            Ok(added) => Ok((added.loaded.version, added.new)),
            Err(error) => {
                self.audit_refusal(actor, None, "upload-refused", json!({"size": size}), &error)
                    .await;
                Err(error)
            }
        }
    }

    /// Records a refused change of the host's connectors: who asked, what,
    /// and why it was refused. An audit row that cannot be written is
    /// logged; the refusal stands either way.
    pub(super) async fn audit_refusal(
        &self,
        actor: &str,
        target: Option<&str>,
        event: &str,
        mut detail: serde_json::Value,
        error: &EngineError,
    ) {
        detail["error"] = json!(error.to_string());
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: target.map(str::to_owned),
            operation_id: None,
            event: event.to_owned(),
            detail,
        };
        if let Err(e) = self.shared.store.append_audit(vec![audit]).await {
            tracing::error!("cannot audit a refused {event}: {e}");
        }
    }

    /// Every registered connector version, oldest first.
    pub async fn connector_versions(&self) -> Result<Vec<ConnectorVersion>, EngineError> {
        Ok(self
            .shared
            .registry
            .versions()
            .await
            .map_err(SwitchError::from)?)
    }

    /// Removes a registered version no target needs: not active, canary,
    /// previous (what a rollback returns to), draining, or the one the
    /// configuration names, on any target, including the recorded state of
    /// targets no longer configured. Every target's switch lock is held
    /// meanwhile, so no switch can pick the version up halfway.
    pub async fn remove_version(
        &self,
        reference: &str,
        actor: &str,
    ) -> Result<ConnectorVersion, EngineError> {
        let reference = VersionRef::new(reference);
        if !reference.is_qualified() {
            return Err(SwitchError::Unqualified(reference.as_str().to_owned()).into());
        }
        let registry = &self.shared.registry;
        let versions = registry.versions().await.map_err(SwitchError::from)?;
        let sha256 = reference
            .resolve(&versions, "")
            .map_err(SwitchError::from)?;
        let label = versions
            .iter()
            .find(|v| v.sha256 == sha256)
            .map(|v| format!("{} ({})", v.label(), &sha256[..12]))
            .unwrap_or_else(|| sha256.clone());
        let mut held = Vec::with_capacity(self.targets.len());
        for target in self.targets.values() {
            held.push(target.switching.lock().await);
        }
        let mut uses = Vec::new();
        for target in self.targets.values() {
            let versions = read(&target.versions);
            let mut role = |role: &str, sha: &str| {
                if sha == sha256 {
                    uses.push(format!("{role} on target {}", target.name));
                }
            };
            role("active", &versions.active.version.sha256);
            if let Some(canary) = &versions.canary {
                role("canary", &canary.deployed.version.sha256);
            }
            if let Some(previous) = &versions.previous {
                role("previous", previous.sha256());
            }
            for draining in &versions.draining {
                role("draining", &draining.version.sha256);
            }
            role("configured", &versions.configured);
        }
        for recorded in self
            .shared
            .store
            .deployments()
            .await
            .map_err(SwitchError::from)?
        {
            if self.targets.contains_key(&recorded.target) {
                continue;
            }
            let unconfigured = |role: &str| {
                format!(
                    "{role} in the record of target {}, no longer configured",
                    recorded.target
                )
            };
            if recorded.active == sha256 {
                uses.push(unconfigured("active"));
            }
            if recorded.previous.as_deref() == Some(sha256.as_str()) {
                uses.push(unconfigured("previous"));
            }
        }
        if !uses.is_empty() {
            return Err(SwitchError::InUse {
                version: label,
                uses: uses.join("; "),
            }
            .into());
        }
        let removed = registry
            .remove(&sha256, actor)
            .await
            .map_err(SwitchError::from)?;
        drop(held);
        removed.ok_or_else(|| SwitchError::Registry(RegistryError::Unknown(sha256)).into())
    }
}

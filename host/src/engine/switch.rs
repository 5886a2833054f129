//! Connector versions on targets: the version each target starts on,
//! uploads, activation after the host proves a version compatible, and
//! rollback — all while operations keep flowing.
//!
//! A switch prepares the new version completely (loaded, started with the
//! target's grants, one instance warm, its `test` passed) before it swaps
//! the target's active version under a short write lock. Attempts that
//! already leased the old version finish on it; it drops its idle
//! instances once its last lease ends, and stays ready for a rollback.

use super::deployment::{Deployed, Previous};
use super::sync::{read, write};
use super::target::Target;
use super::{Engine, EngineError};
use crate::registry::{Loaded, RegistryError, VersionRef};
use crate::runtime::{CallError, StartError};
use crate::store::{AuditEvent, Deployment, StoreError, now_ms};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// Why a version was not activated. The active version keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("target {target} runs connector `{expected}`; {candidate} is another connector")]
    WrongConnector {
        target: String,
        expected: String,
        candidate: String,
    },
    #[error(
        "{candidate} is lower than the active {active} on target {target}; pass force to downgrade, or use rollback"
    )]
    Downgrade {
        target: String,
        candidate: String,
        active: String,
    },
    #[error("{0}")]
    Start(#[from] StartError),
    #[error("{candidate} failed its test against target {target}: {error}")]
    TestFailed {
        target: String,
        candidate: String,
        error: Box<CallError>,
    },
    #[error("{candidate} could not be started: {error}")]
    Prewarm {
        candidate: String,
        error: Box<CallError>,
    },
    #[error("{candidate} is already active on target {target}")]
    AlreadyActive { target: String, candidate: String },
    #[error("target {0} has no previous version to roll back to")]
    NoPrevious(String),
    #[error("{version} is in use ({uses}); a version can be removed once no target needs it")]
    InUse { version: String, uses: String },
    #[error(
        "{0:?} does not name one version on its own; give its sha256 (or a prefix of 8 or more \
         hex digits) or name@version"
    )]
    Unqualified(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a switch did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SwitchReport {
    pub target: String,
    /// `name@version` replaced.
    pub from: String,
    pub from_sha256: String,
    /// `name@version` now active.
    pub to: String,
    pub to_sha256: String,
    /// From the request to the new version serving, preparation included.
    pub took_ms: f64,
    /// The swap alone (under the target's lock).
    pub swap_us: f64,
}

impl Engine {
    /// Makes `reference` the target's active version, once it proves
    /// compatible: the same connector, not a lower semver (unless `force`),
    /// no capability the target does not grant, and its `test` passing.
    /// A refused activation is audited with why.
    pub async fn activate(
        &self,
        name: &str,
        reference: &VersionRef,
        force: bool,
        actor: &str,
    ) -> Result<SwitchReport, EngineError> {
        let result = self.try_activate(name, reference, force, actor).await;
        if let Err(error) = &result {
            self.audit_refusal(
                actor,
                Some(name),
                "activation-refused",
                json!({"version": reference.as_str(), "force": force}),
                error,
            )
            .await;
        }
        result
    }

    async fn try_activate(
        &self,
        name: &str,
        reference: &VersionRef,
        force: bool,
        actor: &str,
    ) -> Result<SwitchReport, EngineError> {
        let started = Instant::now();
        let target = self.target(name)?.clone();
        let _switching = target.switching.lock().await;
        let active = target.active();
        let candidate = self.candidate(&target, &active, reference, force).await?;
        let sha256 = candidate.version.sha256.clone();
        // A canary of this version has proven itself on the target already.
        let canary = read(&target.versions)
            .canary
            .as_ref()
            .filter(|c| c.deployed.version.sha256 == sha256)
            .map(|c| c.deployed.clone());
        let (deployed, event) = match canary {
            Some(canary) => (canary, "canary-promoted"),
            None => (
                prepare(&target, candidate, true).await?,
                if force {
                    "connector-forced"
                } else {
                    "connector-activated"
                },
            ),
        };
        Ok(self
            .switch(&target, deployed, event, actor, started)
            .await?)
    }

    /// Returns the target to its previous version. A refused rollback is
    /// audited with why.
    pub async fn rollback(&self, name: &str, actor: &str) -> Result<SwitchReport, EngineError> {
        let result = self.try_rollback(name, actor).await;
        if let Err(error) = &result {
            self.audit_refusal(actor, Some(name), "rollback-refused", json!({}), error)
                .await;
        }
        result
    }

    async fn try_rollback(&self, name: &str, actor: &str) -> Result<SwitchReport, EngineError> {
        let started = Instant::now();
        let target = self.target(name)?.clone();
        let _switching = target.switching.lock().await;
        let previous = match &read(&target.versions).previous {
            Some(Previous::Started(deployed)) => Ok(deployed.clone()),
            Some(Previous::Stored(sha256)) => Err(sha256.clone()),
            None => return Err(SwitchError::NoPrevious(name.to_owned()).into()),
        };
        // A version that served here before is trusted again without a
        // test: rolling back must not depend on the target being healthy.
        let deployed = match previous {
            Ok(deployed) => deployed,
            Err(sha256) => {
                let loaded = self
                    .shared
                    .registry
                    .load(&sha256)
                    .await
                    .map_err(SwitchError::from)?;
                prepare(&target, loaded, false).await?
            }
        };
        Ok(self
            .switch(&target, deployed, "connector-rolled-back", actor, started)
            .await?)
    }

    /// The registered version `reference` names, loaded and checked against
    /// the target's active version.
    pub(super) async fn candidate(
        &self,
        target: &Target,
        active: &Deployed,
        reference: &VersionRef,
        force: bool,
    ) -> Result<Loaded, SwitchError> {
        let registry = &self.shared.registry;
        let sha256 = registry.resolve(reference, &active.version.name).await?;
        let candidate = registry.load(&sha256).await?;
        check_candidate(target, active, &candidate, force)?;
        Ok(candidate)
    }

    /// Records the switch, then swaps the active version.
    async fn switch(
        &self,
        target: &Arc<Target>,
        next: Arc<Deployed>,
        event: &str,
        actor: &str,
        started: Instant,
    ) -> Result<SwitchReport, SwitchError> {
        let (current, configured) = {
            let versions = read(&target.versions);
            (versions.active.clone(), versions.configured.clone())
        };
        let switched_at = now_ms();
        let deployment = Deployment {
            target: target.name.clone(),
            active: next.version.sha256.clone(),
            previous: Some(current.version.sha256.clone()),
            configured,
            switched_at,
            switched_by: actor.to_owned(),
        };
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: Some(target.name.clone()),
            operation_id: None,
            event: event.to_owned(),
            detail: json!({
                "from": current.label(),
                "from_sha256": current.version.sha256,
                "to": next.label(),
                "to_sha256": next.version.sha256,
            }),
        };
        self.shared.store.set_deployment(deployment, audit).await?;

        let swap = Instant::now();
        let mut stopped_canary = None;
        let replaced = {
            let mut versions = write(&target.versions);
            let replaced = std::mem::replace(&mut versions.active, next.clone());
            versions.previous = Some(Previous::Started(replaced.clone()));
            versions.switched_at = switched_at;
            // A switch ends any canary; one not promoted drains.
            if let Some(canary) = versions.canary.take()
                && !Arc::ptr_eq(&canary.deployed, &next)
            {
                versions.retire(&canary.deployed);
                stopped_canary = Some(canary.deployed);
            }
            versions
                .draining
                .retain(|d| d.in_flight() > 0 && d.version.sha256 != next.version.sha256);
            versions.retire(&replaced);
            replaced
        };
        let swap_us = swap.elapsed().as_secs_f64() * 1e6;
        let took_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(target = %target.name, from = %replaced.label(), to = %next.label(),
            took_ms, "{event}");
        metrics::counter!("provisio_connector_switches_total", "target" => target.name.clone())
            .increment(1);
        metrics::gauge!("provisio_connector_last_switch_seconds", "target" => target.name.clone())
            .set(switched_at as f64 / 1000.0);
        tokio::spawn(drain(target.clone(), replaced.clone()));
        if let Some(canary) = stopped_canary {
            tokio::spawn(drain(target.clone(), canary));
        }
        refresh_schema(target.clone());
        target.wake.notify_one();
        Ok(SwitchReport {
            target: target.name.clone(),
            from: replaced.label(),
            from_sha256: replaced.version.sha256.clone(),
            to: next.label(),
            to_sha256: next.version.sha256.clone(),
            took_ms,
            swap_us,
        })
    }
}

/// The checks that need the target: the same connector, and no downgrade
/// unless forced. (Grants are checked when the version starts.)
fn check_candidate(
    target: &Target,
    active: &Deployed,
    candidate: &Loaded,
    force: bool,
) -> Result<(), SwitchError> {
    let version = &candidate.version;
    if version.sha256 == active.version.sha256 {
        return Err(SwitchError::AlreadyActive {
            target: target.name.clone(),
            candidate: version.label(),
        });
    }
    if version.name != active.version.name {
        return Err(SwitchError::WrongConnector {
            target: target.name.clone(),
            expected: active.version.name.clone(),
            candidate: version.label(),
        });
    }
    let semver = |v: &str| semver::Version::parse(v).expect("the registry holds semver");
    if !force && semver(&version.version) < semver(&active.version.version) {
        return Err(SwitchError::Downgrade {
            target: target.name.clone(),
            candidate: version.label(),
            active: active.label(),
        });
    }
    Ok(())
}

/// Starts a version with the target's grants, warms one instance, and
/// (when `test`) runs its `test` against the target.
pub(super) async fn prepare(
    target: &Target,
    loaded: Loaded,
    test: bool,
) -> Result<Arc<Deployed>, SwitchError> {
    let label = loaded.version.label();
    let connector = loaded.component.start(target.settings.clone())?;
    connector
        .prewarm(1)
        .await
        .map_err(|error| SwitchError::Prewarm {
            candidate: label.clone(),
            error: Box::new(error),
        })?;
    if test && connector.info().capabilities.test {
        connector
            .test()
            .await
            .map_err(|error| SwitchError::TestFailed {
                target: target.name.clone(),
                candidate: label.clone(),
                error: Box::new(error),
            })?;
    }
    Ok(Deployed::new(connector, loaded.version))
}

/// Frees a replaced version's instances once its last attempt ends.
pub(super) async fn drain(target: Arc<Target>, replaced: Arc<Deployed>) {
    replaced.drained().await;
    // Rolled back to (or made a canary) before its attempts ended: it
    // serves again.
    {
        let versions = read(&target.versions);
        if Arc::ptr_eq(&versions.active, &replaced)
            || versions
                .canary
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(&c.deployed, &replaced))
        {
            return;
        }
    }
    let freed = replaced.connector.release_idle();
    write(&target.versions)
        .draining
        .retain(|d| !Arc::ptr_eq(d, &replaced));
    tracing::debug!(target = %target.name, connector = %replaced.label(), freed, "drained");
}

/// Reads the new version's schema, which submissions are checked against.
fn refresh_schema(target: Arc<Target>) {
    tokio::spawn(async move {
        let lease = target.lease();
        if !lease.connector.info().capabilities.schema {
            return;
        }
        match lease.connector.schema().await {
            Ok(schema) => target.set_schema(schema),
            Err(e) => tracing::warn!(target = %target.name, "cannot read the schema: {e}"),
        }
    });
}

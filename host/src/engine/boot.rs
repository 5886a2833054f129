//! Start-up: every target's connector loaded with its grants, and what
//! the store remembers (open operations, quarantines, deployments) put
//! back in place before dispatching starts.

use super::completion::Completions;
use super::deployment::{Deployed, Previous, Versions};
use super::error::BootError;
use super::monitor;
use super::protection::Check;
use super::queue::Entry;
use super::sync::lock;
use super::target::Target;
use super::{Engine, Shared, dispatch};
use crate::bundled;
use crate::config::{Config, TargetConfig};
use crate::keys::HostKey;
use crate::registry::{Loaded, Registry, Source};
use crate::runtime::{Runtime, TargetSettings};
use crate::store::{AuditEvent, Deployment, Store, now_ms};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

impl Engine {
    /// Loads every target's connector, restores open operations and
    /// quarantines from the store, and starts dispatching.
    pub async fn start(
        config: &Config,
        runtime: &Runtime,
        store: Arc<dyn Store>,
        key: HostKey,
    ) -> Result<Engine, BootError> {
        let registry = Registry::open(
            runtime.clone(),
            store.clone(),
            config.resolve(&config.server.registry_dir),
        )
        .map_err(BootError::Registry)?;
        let mut deployments: BTreeMap<String, Deployment> = store
            .deployments()
            .await?
            .into_iter()
            .map(|d| (d.target.clone(), d))
            .collect();
        let mut targets = BTreeMap::new();
        for (name, target_config) in &config.targets {
            let fail = |reason: String| BootError::Target {
                target: name.clone(),
                reason,
            };
            let mut settings = target_config
                .settings(name, &config.base_dir)
                .map_err(|e| fail(e.to_string()))?;
            settings.grants.config.values.insert(
                crate::runtime::capabilities::config::HOST_RUN_KEY.to_owned(),
                store.host_run().to_owned(),
            );
            let versions = versions_at_start(
                &registry,
                store.as_ref(),
                name,
                target_config,
                &config.base_dir,
                &settings,
                deployments.remove(name),
            )
            .await
            .map_err(fail)?;
            let target = Arc::new(Target::new(
                name.clone(),
                target_config.clone(),
                settings,
                versions,
            ));
            let lease = target.lease();
            let reports_schema = lease.connector.info().capabilities.schema;
            if target.policy().protection.is_some() && !reports_schema {
                return Err(fail(format!(
                    "protected: connector {} does not report a schema, so Provisio cannot check \
                     that the filter names attributes the target has (a filter that names none \
                     protects nothing)",
                    lease.label()
                )));
            }
            drop(lease);
            if reports_schema {
                match target.read_schema().await {
                    Ok(Check::Invalid(reason)) => {
                        return Err(fail(format!("protected: the filter {reason}")));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(
                        target = %name,
                        "cannot read the schema: attributes are not checked at submission{} until it is read: {e}",
                        if target.policy().protection.is_some() { ", and changes wait for the protected filter to be checked" } else { "" }
                    ),
                }
            }
            targets.insert(name.clone(), target);
        }

        for (name, reason) in store.quarantines().await? {
            if let Some(target) = targets.get(&name) {
                tracing::warn!(target = %name, "target is quarantined: {reason}");
                *lock(&target.quarantine) = Some(reason);
            }
        }
        let mut orphans = 0;
        for record in store.open_operations().await? {
            match targets.get(&record.target) {
                Some(target) => target.queue().push(
                    (record.class.clone(), record.identity.clone()),
                    Entry {
                        id: record.id.clone(),
                        status: record.status,
                        due_at: record.next_attempt_at,
                    },
                ),
                None => orphans += 1,
            }
        }
        if orphans > 0 {
            tracing::warn!(
                "{orphans} open operations belong to targets no longer configured; they wait"
            );
        }

        let shared = Arc::new(Shared {
            store,
            registry,
            key,
            shutting_down: AtomicBool::new(false),
            stopping: tokio::sync::Notify::new(),
            completions: Completions::default(),
        });
        for target in targets.values() {
            tokio::spawn(dispatch::dispatch(target.clone(), shared.clone()));
            tokio::spawn(monitor::monitor(target.clone(), shared.clone()));
        }
        Ok(Engine {
            shared,
            targets: Arc::new(targets),
        })
    }
}

/// The versions a target starts on. The configuration's connector is
/// registered; when the configuration still names what it named at the
/// last switch, the target comes back on the version last activated (and
/// its previous one); otherwise the configured connector is a deploy.
pub(super) async fn versions_at_start(
    registry: &Registry,
    store: &dyn Store,
    name: &str,
    config: &TargetConfig,
    base: &Path,
    settings: &TargetSettings,
    stored: Option<Deployment>,
) -> Result<Versions, String> {
    let configured = add_configured(registry, base, &config.connector).await?;
    let configured_sha = configured.version.sha256.clone();
    let (active, previous, switched_at) = match stored {
        Some(d) if d.configured == configured_sha => {
            let active = if d.active == configured_sha {
                configured
            } else {
                registry.load(&d.active).await.map_err(|e| {
                    format!(
                        "its active connector version {} cannot be loaded: {e}",
                        d.active
                    )
                })?
            };
            (active, d.previous.map(Previous::Stored), d.switched_at)
        }
        stored => {
            let switched_at = now_ms();
            let previous = stored.as_ref().map(|d| d.active.clone());
            let audit = AuditEvent {
                actor: "config".into(),
                target: Some(name.to_owned()),
                operation_id: None,
                event: "connector-activated".into(),
                detail: json!({
                    "from_sha256": previous,
                    "to": configured.version.label(),
                    "to_sha256": configured_sha,
                    "source": config.connector,
                }),
            };
            let deployment = Deployment {
                target: name.to_owned(),
                active: configured_sha.clone(),
                previous: previous.clone(),
                configured: configured_sha.clone(),
                switched_at,
                switched_by: "config".into(),
            };
            store
                .set_deployment(deployment, audit)
                .await
                .map_err(|e| e.to_string())?;
            (configured, previous.map(Previous::Stored), switched_at)
        }
    };
    let previous = previous.filter(|p| p.sha256() != active.version.sha256);
    let connector = active
        .component
        .start(settings.clone())
        .map_err(|e| e.to_string())?;
    Ok(Versions {
        active: Deployed::new(connector, active.version),
        previous,
        draining: Vec::new(),
        switched_at,
        configured: configured_sha,
        canary: None,
    })
}

/// Registers the connector a target's configuration names.
async fn add_configured(registry: &Registry, base: &Path, source: &str) -> Result<Loaded, String> {
    let added = if let Some(name) = source.strip_prefix(bundled::PREFIX) {
        let bundled = bundled::get(name).ok_or_else(|| {
            format!(
                "no bundled connector `{name}` (bundled: {})",
                bundled::names().join(", ")
            )
        })?;
        registry
            .add(
                Arc::from(bundled.bytes),
                Some(bundled.sha256),
                Source::Bundled,
                "config",
            )
            .await
    } else {
        let path = crate::config::resolve(base, Path::new(source));
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        registry
            .add(Arc::from(bytes), None, Source::Config, "config")
            .await
    };
    added
        .map(|added| added.loaded)
        .map_err(|e| match source.strip_prefix(bundled::PREFIX) {
            Some(_) => e.to_string(),
            None => format!(
                "{}: {e}",
                crate::config::resolve(base, Path::new(source)).display()
            ),
        })
}

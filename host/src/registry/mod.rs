//! The connector registry: every connector version the host has loaded,
//! kept by content (the `.wasm` in a content-addressed directory, its facts
//! in the store), so that a target can be switched to any of them and a
//! restart comes back on exactly the same bytes.
//!
//! A version's identity is its sha256. An uploaded `name@version` is
//! immutable: uploading other bytes under a label already taken is refused,
//! so a label in the audit log names one build.

mod files;
mod reference;

pub use reference::VersionRef;

use crate::runtime::{LoadError, LoadedComponent, Runtime, content_hash};
use crate::store::{AuditEvent, ConnectorVersion, Store, StoreError, now_ms};
use files::Files;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where a version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `POST /v1/connectors` or `provisio connector upload`.
    Upload,
    /// A file named by a target's `connector` in the configuration.
    Config,
    /// A connector inside the binary (`bundled:<name>`).
    Bundled,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Upload => "upload",
            Source::Config => "config",
            Source::Bundled => "bundled",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("not a connector this host can load: {0}")]
    Load(#[from] LoadError),
    #[error(
        "{label} is already registered with sha256 {existing}; a released version is immutable, \
         so give the new build a new version"
    )]
    VersionTaken { label: String, existing: String },
    #[error("no connector version {0}")]
    Unknown(String),
    #[error("{reference} matches several connector versions ({matches}); give more of the sha256")]
    Ambiguous { reference: String, matches: String },
    #[error("connector version {sha256} cannot be read: {reason}")]
    Unreadable { sha256: String, reason: String },
    #[error("the registry directory failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A version and its loaded (compiled, probed) component.
#[derive(Clone)]
pub struct Loaded {
    pub version: ConnectorVersion,
    pub component: Arc<LoadedComponent>,
}

/// The result of adding bytes to the registry.
pub struct Added {
    pub loaded: Loaded,
    /// False when these exact bytes were already registered.
    pub new: bool,
}

pub struct Registry {
    runtime: Runtime,
    store: Arc<dyn Store>,
    files: Files,
    loaded: Mutex<HashMap<String, Arc<LoadedComponent>>>,
}

impl Registry {
    /// A registry keeping its files in `dir` (created if missing).
    pub fn open(
        runtime: Runtime,
        store: Arc<dyn Store>,
        dir: PathBuf,
    ) -> Result<Registry, RegistryError> {
        Ok(Registry {
            runtime,
            store,
            files: Files::open(dir)?,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// Validates, compiles and records a connector. `sha256` is passed when
    /// the caller already knows it (bundled connectors); otherwise the bytes
    /// are hashed.
    pub async fn add(
        &self,
        bytes: Arc<[u8]>,
        sha256: Option<&str>,
        source: Source,
        actor: &str,
    ) -> Result<Added, RegistryError> {
        let runtime = self.runtime.clone();
        let known = sha256.map(str::to_owned);
        let work = bytes.clone();
        let (sha256, component) = tokio::task::spawn_blocking(move || {
            let sha256 = known.unwrap_or_else(|| content_hash(&work));
            runtime
                .load_hashed(&work, &sha256)
                .map(|component| (sha256, component))
        })
        .await
        .map_err(|e| LoadError::Host(format!("the loading thread failed: {e}")))??;

        if let Some(existing) = self.store.connector_version(&sha256).await? {
            self.files.put(&sha256, &bytes)?;
            self.remember(&component);
            return Ok(Added {
                loaded: Loaded {
                    version: existing,
                    component,
                },
                new: false,
            });
        }
        let version = ConnectorVersion {
            sha256: sha256.clone(),
            name: component.info.name.clone(),
            version: component.info.version.clone(),
            contract: component.facts.contract.to_string(),
            size: bytes.len() as u64,
            source: source.as_str().to_owned(),
            added_by: actor.to_owned(),
            added_at: now_ms(),
        };
        if source == Source::Upload
            && let Some(taken) = self
                .store
                .connector_versions()
                .await?
                .into_iter()
                .find(|v| v.name == version.name && v.version == version.version)
        {
            return Err(RegistryError::VersionTaken {
                label: version.label(),
                existing: taken.sha256,
            });
        }
        self.files.put(&sha256, &bytes)?;
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: None,
            operation_id: None,
            event: "connector-added".into(),
            detail: json!({
                "connector": version.label(),
                "sha256": version.sha256,
                "contract": version.contract,
                "size": version.size,
                "source": version.source,
            }),
        };
        let new = self
            .store
            .put_connector_version(version.clone(), audit)
            .await?;
        self.remember(&component);
        Ok(Added {
            loaded: Loaded { version, component },
            new,
        })
    }

    /// A registered version, loaded (from memory, or its file and the
    /// compile cache).
    pub async fn load(&self, sha256: &str) -> Result<Loaded, RegistryError> {
        let version = self
            .store
            .connector_version(sha256)
            .await?
            .ok_or_else(|| RegistryError::Unknown(sha256.to_owned()))?;
        if let Some(component) = self.lock().get(sha256).cloned() {
            return Ok(Loaded { version, component });
        }
        let unreadable = |reason: String| RegistryError::Unreadable {
            sha256: sha256.to_owned(),
            reason,
        };
        let bytes = self.files.get(sha256).map_err(unreadable)?;
        let runtime = self.runtime.clone();
        let hash = sha256.to_owned();
        let component = tokio::task::spawn_blocking(move || runtime.load_hashed(&bytes, &hash))
            .await
            .map_err(|e| unreadable(format!("the loading thread failed: {e}")))??;
        self.remember(&component);
        Ok(Loaded { version, component })
    }

    /// The sha256 a reference names among the versions of connector `name`.
    pub async fn resolve(
        &self,
        reference: &VersionRef,
        name: &str,
    ) -> Result<String, RegistryError> {
        let versions = self.store.connector_versions().await?;
        reference.resolve(&versions, name)
    }

    /// Forgets a version: its record (with a `connector-removed` audit
    /// event), its file and its compiled forms. The caller has checked that
    /// no target uses it. Returns the record, or `None` if it was unknown.
    pub async fn remove(
        &self,
        sha256: &str,
        actor: &str,
    ) -> Result<Option<ConnectorVersion>, RegistryError> {
        let Some(version) = self.store.connector_version(sha256).await? else {
            return Ok(None);
        };
        let audit = AuditEvent {
            actor: actor.to_owned(),
            target: None,
            operation_id: None,
            event: "connector-removed".into(),
            detail: json!({
                "connector": version.label(),
                "sha256": version.sha256,
                "size": version.size,
                "source": version.source,
            }),
        };
        if !self.store.remove_connector_version(sha256, audit).await? {
            return Ok(None);
        }
        self.lock().remove(sha256);
        self.runtime.forget(sha256);
        self.files.remove(sha256)?;
        Ok(Some(version))
    }

    /// Every registered version, oldest first.
    pub async fn versions(&self) -> Result<Vec<ConnectorVersion>, RegistryError> {
        Ok(self.store.connector_versions().await?)
    }

    fn remember(&self, component: &Arc<LoadedComponent>) {
        self.lock()
            .insert(component.hash.clone(), component.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LoadedComponent>>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

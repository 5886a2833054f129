//! The sandbox: loads connector components into wasmtime and runs their
//! calls under limits.
//!
//! - One [`Runtime`] (one wasmtime `Engine`) per process, with epoch
//!   interruption driven by a ticker thread and the pooling allocator.
//! - [`Runtime::load`] validates a `.wasm` (a component, of a contract
//!   version this host binds, whose imports the host provides), compiles it
//!   once (cached on disk by content hash and engine hash) and reads its
//!   `info`.
//! - [`LoadedComponent::start`] binds it to a target's grants and limits,
//!   giving a [`Connector`] backed by a bounded pool of warm instances.
//! - A call that traps, panics, runs past its deadline or grows memory past
//!   its cap fails alone with a [`CallError`] naming the cause; its
//!   instance is dropped and every other call goes on.

mod bindings;
mod block;
mod cache;
pub mod capabilities;
mod connector;
mod engine;
mod error;
mod inspect;
mod limits;
mod pool;
pub mod recording;
mod scrub;
mod size;
mod state;
mod target;

pub use crate::secret::Secret;
pub use bindings::{SUPPORTED as SUPPORTED_CONTRACTS, supported_description};
pub use cache::{CompileSource, content_hash};
pub use capabilities::Grants;
pub use capabilities::config::ConfigGrant;
pub use capabilities::directory::{DirectoryGrant, GUEST_PATH};
pub use connector::{Blocking, Connector, LoadedComponent, StartError};
pub use engine::EngineSettings;
pub use error::{CallError, CallErrorKind, LoadError, Operation};
pub use inspect::{CONNECTOR_EXPORT, CONNECTOR_PACKAGE, ComponentFacts};
pub use limits::{CallLimits, HostBudget, OverBudget};
pub use pool::PoolStats;
pub use scrub::Scrubber;
pub use target::TargetSettings;

use bindings::BindingsPre;
use cache::CompileCache;
use engine::EpochTicker;
use pool::InstancePool;
use state::InstanceState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// How the runtime is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    pub engine: EngineSettings,
    /// Where compiled components are cached; `None` keeps them in memory only.
    pub cache_dir: Option<PathBuf>,
}

/// The runtime could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the WebAssembly runtime: {0}")]
pub struct RuntimeInitError(String);

/// The process-wide sandbox. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<InstanceState>,
    cache: CompileCache,
    settings: EngineSettings,
    _ticker: EpochTicker,
}

/// Time a connector's `info` may take at load.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeInitError> {
        let fail = |e: &dyn std::fmt::Display| RuntimeInitError(e.to_string());
        let engine = engine::build(&config.engine).map_err(|e| fail(&e))?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker).map_err(|e| fail(&e))?;
        bindings::add_to_linker(&mut linker).map_err(|e| fail(&e))?;
        let cache = CompileCache::new(&engine, config.cache_dir).map_err(|e| fail(&e))?;
        let ticker = EpochTicker::start(engine.clone(), config.engine.epoch_tick);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache,
                settings: config.engine,
                _ticker: ticker,
            }),
        })
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// Loads a connector file.
    pub fn load_file(&self, path: &Path) -> Result<Arc<LoadedComponent>, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.load(&bytes)
    }

    /// Validates, compiles (or reads from the cache) and probes a connector.
    ///
    /// Blocking: it hashes the file (sha256, a few ms per MB on CPUs without
    /// SHA extensions) and may compile it (up to a second or two); call it
    /// from a thread that may block. See [`Runtime::load_hashed`] for bytes
    /// whose hash is already known.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<LoadedComponent>, LoadError> {
        self.load_hashed(bytes, &content_hash(bytes))
    }

    /// Forgets the compiled component of the connector whose sha256 is
    /// `hash`, in memory and in the disk cache. Connectors already started
    /// keep their own reference and run on.
    pub fn forget(&self, hash: &str) {
        self.inner.cache.forget(&hash.to_ascii_lowercase());
    }

    /// [`Runtime::load`] for bytes whose sha256 the caller already knows and
    /// vouches for: connectors bundled in the binary (hashed at build time)
    /// and content-addressed files the host wrote itself. Skips re-hashing,
    /// which dominates a load from the disk cache.
    pub fn load_hashed(
        &self,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<Arc<LoadedComponent>, LoadError> {
        let inner = &self.inner;
        inspect::check_binary(bytes)?;
        let hash = sha256.to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LoadError::Host(format!(
                "{sha256:?} is not a sha256 in hex"
            )));
        }
        let (component, source) = inner
            .cache
            .get_or_compile(&inner.engine, &hash, bytes)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        let facts = inspect::facts(&inner.engine, &component)?;
        let binding = bindings::binding_for(&facts.contract).expect("facts checked the version");

        let instance_pre = inner.linker.instantiate_pre(&component).map_err(|e| {
            match facts.imports.iter().find(|import| !provides(import)) {
                Some(import) => LoadError::UnknownImport {
                    import: format!("`{import}`"),
                },
                // Every import is of an interface the host serves, so one
                // is of a version or shape it does not: wasmtime says which.
                None => LoadError::ImportMismatch {
                    detail: format!("{e:#}"),
                },
            }
        })?;
        let pre =
            BindingsPre::new(binding, instance_pre).map_err(|e| LoadError::ContractMismatch {
                export: format!("{CONNECTOR_EXPORT}@{}", facts.contract),
                contract: format!("provisio:connector@{binding}"),
                detail: format!("{e:#}"),
            })?;

        let info = self.probe_info(&pre)?;
        validate_info(&info)?;
        Ok(Arc::new(LoadedComponent {
            hash,
            info,
            facts,
            source,
            engine: inner.engine.clone(),
            pre,
            max_memory_bytes: inner.settings.max_memory_bytes,
        }))
    }

    /// Calls `info` on a throwaway instance with no grants at all.
    fn probe_info(&self, pre: &BindingsPre) -> Result<crate::model::ConnectorInfo, LoadError> {
        let target = TargetSettings {
            limits: CallLimits {
                timeout: INFO_TIMEOUT,
                ..CallLimits::default()
            },
            max_instances: 1,
            ..TargetSettings::new("(load)")
        };
        let pool = InstancePool::new(
            self.inner.engine.clone(),
            pre.clone(),
            Arc::new(target),
            "(loading)".into(),
            Arc::new(Scrubber::default()),
        );
        block::block_on(pool.call(|b, s| Box::pin(async move { b.info(s).await.map(Ok) }))).map_err(
            |kind| match kind {
                CallErrorKind::Instantiate(message) => LoadError::Instantiate(message),
                kind => LoadError::Info(Box::new(CallError {
                    connector: "(loading)".into(),
                    target: "(load)".into(),
                    operation: Operation::Info,
                    kind,
                })),
            },
        )
    }
}

fn validate_info(info: &crate::model::ConnectorInfo) -> Result<(), LoadError> {
    let name_ok = !info.name.is_empty()
        && info.name.len() <= 64
        && info
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !name_ok {
        return Err(LoadError::BadInfo {
            field: "name",
            reason: format!(
                "{:?} must be 1 to 64 lowercase letters, digits, `-` or `_`",
                info.name
            ),
        });
    }
    semver::Version::parse(&info.version).map_err(|e| LoadError::BadInfo {
        field: "version",
        reason: format!("{:?} is not semver: {e}", info.version),
    })?;
    Ok(())
}

/// Whether the host links some version of the interface `import` names.
fn provides(import: &str) -> bool {
    import.starts_with(CONNECTOR_PACKAGE) || capabilities::provides(import)
}

#[cfg(test)]
mod tests {
    #[test]
    fn knows_which_interfaces_the_host_serves() {
        for served in [
            "provisio:connector/config@0.2.0",
            "provisio:ldap/client@0.1.0",
            "provisio:sql/client@0.1.0",
            "wasi:http/types@0.2.12",
            "wasi:filesystem/preopens@0.2.3",
            "wasi:cli/stderr@0.2.0",
        ] {
            assert!(super::provides(served), "{served}");
        }
        for unknown in ["example:vault/secrets@1.0.0", "wasi:keyvalue/store@0.2.0"] {
            assert!(!super::provides(unknown), "{unknown}");
        }
    }
}

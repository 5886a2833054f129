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
mod output;
mod pool;
mod size;
mod state;

pub use bindings::{SUPPORTED as SUPPORTED_CONTRACTS, supported_description};
pub use cache::{CompileSource, content_hash};
pub use capabilities::config::{ConfigGrant, Secret};
pub use capabilities::directory::{DirectoryGrant, GUEST_PATH};
pub use connector::{Blocking, Connector, LoadedComponent, StartError, TargetSettings};
pub use engine::EngineSettings;
pub use error::{CallError, CallErrorKind, LoadError, Operation};
pub use inspect::{CONNECTOR_EXPORT, ComponentFacts};
pub use limits::CallLimits;
pub use pool::PoolStats;

use bindings::BindingsPre;
use cache::CompileCache;
use engine::EpochTicker;
use pool::InstancePool;
use state::{PluginState, TargetContext};
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
    linker: Linker<PluginState>,
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
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| fail(&e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(|e| fail(&e))?;
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

        let instance_pre =
            inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::UnknownImport {
                    import: unknown_import(&format!("{e:#}")),
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
        let context = Arc::new(TargetContext {
            name: "(load)".into(),
            connector: "(loading)".into(),
            config: ConfigGrant::default(),
            directory: None,
            sql: None,
            http: None,
            ldap: None,
            limits: CallLimits {
                timeout: INFO_TIMEOUT,
                ..CallLimits::default()
            },
        });
        let pool = InstancePool::new(self.inner.engine.clone(), pre.clone(), context, 1);
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

/// The import named in wasmtime's "component imports instance `x`, but a
/// matching implementation was not found" message, with the reason.
fn unknown_import(message: &str) -> String {
    let name = message
        .split('`')
        .nth(1)
        .map(|name| format!("`{name}`"))
        .unwrap_or_else(|| message.to_owned());
    // The first line of the chain is wasmtime's "not found in the linker";
    // the cause after it matters when the host has the interface with other
    // signatures, not when it lacks it altogether.
    match message.split_once("in the linker: ") {
        Some((_, cause)) if !cause.contains("implementation is missing") => {
            format!("{name} ({cause})")
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_missing_import() {
        let m = "component imports instance `provisio:ldap/client@0.1.0`, but a matching implementation was not found in the linker";
        assert_eq!(super::unknown_import(m), "`provisio:ldap/client@0.1.0`");
        let missing = format!(
            "{m}: instance export `bind` has the wrong type: function implementation is missing"
        );
        assert_eq!(
            super::unknown_import(&missing),
            "`provisio:ldap/client@0.1.0`"
        );
        let mismatch =
            format!("{m}: instance export `log` has the wrong type: expected func, found u32");
        assert_eq!(
            super::unknown_import(&mismatch),
            "`provisio:ldap/client@0.1.0` (instance export `log` has the wrong type: expected func, found u32)"
        );
    }
}

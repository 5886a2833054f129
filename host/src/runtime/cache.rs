//! Compiled components cached on disk, keyed by the sha256 of the `.wasm`
//! and the engine's compatibility hash (wasmtime version, target, settings),
//! so a restart or a second target on the same connector skips Cranelift.
//! A process-wide map also keeps each compiled component once in memory.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from, for the cold-load benchmark and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    Memory,
    Disk,
    Compiled,
}

pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
    loaded: Mutex<HashMap<String, Component>>,
}

/// The sha256 of a connector file, in hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CompileCache {
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> std::io::Result<Self> {
        if let Some(dir) = &dir {
            fs::create_dir_all(dir)?;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// The compiled component for `bytes` (whose hash is `hash`).
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        hash: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CompileSource)> {
        if let Some(c) = self.lock().get(hash) {
            return Ok((c.clone(), CompileSource::Memory));
        }
        let path = self.path_for(hash);
        if let Some(path) = &path
            && path.is_file()
        {
            // SAFETY: the file was written by `store` below from
            // `Component::serialize` of this same engine configuration (the
            // engine hash is in its name), in a directory the host owns.
            #[allow(unsafe_code)]
            let deserialized = unsafe { Component::deserialize_file(engine, path) };
            match deserialized {
                Ok(component) => {
                    self.remember(hash, &component);
                    return Ok((component, CompileSource::Disk));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), "discarding unreadable cached component: {e}");
                    let _ = fs::remove_file(path);
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Some(path) = &path
            && let Err(e) = store(path, &component)
        {
            tracing::warn!(path = %path.display(), "cannot cache the compiled component: {e}");
        }
        self.remember(hash, &component);
        Ok((component, CompileSource::Compiled))
    }

    /// Drops the compiled component of `hash` from memory and from the
    /// disk cache (a version removed from the registry).
    pub fn forget(&self, hash: &str) {
        self.lock().remove(hash);
        if let Some(path) = self.path_for(hash)
            && let Err(e) = fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), "cannot remove the cached component: {e}");
        }
    }

    fn path_for(&self, hash: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{hash}-{}.cwasm", self.engine_key)))
    }

    fn remember(&self, hash: &str, component: &Component) {
        self.lock().insert(hash.to_owned(), component.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Component>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes atomically: a crash never leaves a truncated file under the final name.
fn store(path: &Path, component: &Component) -> wasmtime::Result<()> {
    let bytes = component.serialize()?;
    let dir = path.parent().expect("cache files live in a directory");
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)?;
    Ok(())
}

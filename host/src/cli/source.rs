//! Where a connector comes from: a file, or `bundled:<name>`.

use crate::bundled;
use crate::runtime::{EngineSettings, LoadedComponent, Runtime, RuntimeConfig};
use anyhow::{Context, anyhow};
use std::path::PathBuf;
use std::sync::Arc;

/// The bytes of a connector, and whether their hash is already known.
pub enum Source {
    Bundled(&'static bundled::Bundled),
    File(String, Vec<u8>),
}

impl Source {
    pub fn open(source: &str) -> anyhow::Result<Source> {
        if let Some(name) = source.strip_prefix(bundled::PREFIX) {
            return bundled::get(name).map(Source::Bundled).ok_or_else(|| {
                anyhow!(
                    "no bundled connector `{name}` (bundled: {})",
                    bundled::names().join(", ")
                )
            });
        }
        let bytes = std::fs::read(source).with_context(|| format!("cannot read {source}"))?;
        Ok(Source::File(source.to_owned(), bytes))
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        match self {
            Source::Bundled(b) => b.bytes.len(),
            Source::File(_, bytes) => bytes.len(),
        }
    }

    pub fn load(&self, runtime: &Runtime) -> anyhow::Result<Arc<LoadedComponent>> {
        match self {
            Source::Bundled(b) => b
                .load(runtime)
                .with_context(|| format!("cannot load the bundled connector `{}`", b.name)),
            Source::File(name, bytes) => runtime
                .load(bytes)
                .with_context(|| format!("cannot load connector {name}")),
        }
    }
}

pub fn runtime(cache_dir: Option<PathBuf>) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig {
        engine: EngineSettings::default(),
        cache_dir,
    })?)
}

pub fn load(runtime: &Runtime, source: &str) -> anyhow::Result<Arc<LoadedComponent>> {
    Source::open(source)?.load(runtime)
}

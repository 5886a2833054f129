//! Where a connector comes from: a file, or `bundled:<name>`.

use crate::bundled;
use crate::runtime::{EngineSettings, LoadedComponent, Runtime, RuntimeConfig};
use anyhow::{Context, anyhow};
use std::path::PathBuf;
use std::sync::Arc;

pub fn read(source: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(name) = source.strip_prefix(bundled::PREFIX) {
        return bundled::get(name).map(<[u8]>::to_vec).ok_or_else(|| {
            anyhow!(
                "no bundled connector `{name}` (bundled: {})",
                bundled::names().join(", ")
            )
        });
    }
    std::fs::read(source).with_context(|| format!("cannot read {source}"))
}

pub fn runtime(cache_dir: Option<PathBuf>) -> anyhow::Result<Runtime> {
    Ok(Runtime::new(RuntimeConfig {
        engine: EngineSettings::default(),
        cache_dir,
    })?)
}

pub fn load(runtime: &Runtime, source: &str) -> anyhow::Result<Arc<LoadedComponent>> {
    let bytes = read(source)?;
    runtime
        .load(&bytes)
        .with_context(|| format!("cannot load connector {source}"))
}

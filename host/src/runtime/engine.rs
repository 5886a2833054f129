//! The one wasmtime `Engine` of the process: epoch interruption driven by a
//! ticker thread, and the pooling allocator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

/// Settings of the process-wide engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How often the epoch advances; deadlines are rounded up to it.
    pub epoch_tick: Duration,
    /// Connector instances alive at once, across every target.
    pub max_instances: u32,
    /// The largest memory cap any target may set.
    pub max_memory_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            epoch_tick: Duration::from_millis(10),
            max_instances: 256,
            max_memory_bytes: 1 << 30,
        }
    }
}

/// Set (to anything) to have `perf report` name the functions of connectors.
pub const PERF_MAP_VAR: &str = "PROVISIO_PERF_MAP";

pub(crate) fn build(settings: &EngineSettings) -> wasmtime::Result<Engine> {
    let n = settings.max_instances;
    let mut pool = PoolingAllocationConfig::new();
    // A Rust wasm32-wasip2 component holds its main module plus small shim
    // modules for indirect calls: a few core instances and tables, one
    // memory. Each memory slot reserves 4 GiB of address space.
    pool.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n)
        .total_tables(n * 8)
        .max_core_instances_per_component(16)
        .max_memories_per_component(4)
        .max_tables_per_component(16)
        .max_memory_size(settings.max_memory_bytes);

    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // `perf` names connector code only from the map file this writes
    // (/tmp/perf-<pid>.map); nothing else changes.
    if std::env::var_os(PERF_MAP_VAR).is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    Engine::new(&config)
}

/// Advances the engine's epoch every tick until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        thread::Builder::new()
            .name("provisio-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawn the epoch ticker thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

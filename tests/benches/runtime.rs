//! Runtime benchmark: what the sandbox costs, as ratios against a baseline
//! measured in the same run.
//!
//! (a) a `get` and a `create` of a 1-, 10- and 100-attribute object through
//!     the host into a trivial connector, against the same Rust logic called
//!     natively (arguments cloned, as the host keeps its own copy);
//! (b) instantiation from the `InstancePre` with the pooling allocator;
//! (c) loading a connector from the on-disk cache against compiling it.
//!
//! Run: `cargo bench -p provisio-tests --bench runtime [-- calls instantiation loads]`
//! (the sections to run; all by default).

use fixture_sandbox::Sandbox;
use provisio_host::model::{Attribute, Value};
use provisio_host::runtime::{
    CallLimits, Connector, EngineSettings, Runtime, RuntimeConfig, TargetSettings,
};
use provisio_tests::fixtures;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const ROUNDS: usize = 15;

/// The median over rounds of the mean time per iteration.
fn per_call(iterations: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let mut rounds: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed() / iterations as u32
        })
        .collect();
    rounds.sort();
    rounds[ROUNDS / 2]
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.2} µs", d.as_nanos() as f64 / 1000.0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_nanos() as f64 / 1e6)
}

fn host_attributes(n: usize) -> Vec<Attribute> {
    (0..n)
        .map(|i| {
            Attribute::single(
                format!("attribute{i}"),
                Value::Text(format!("value number {i}")),
            )
        })
        .collect()
}

fn sdk_attributes(n: usize) -> Vec<provisio_sdk::Attribute> {
    (0..n)
        .map(|i| {
            provisio_sdk::Attribute::single(format!("attribute{i}"), format!("value number {i}"))
        })
        .collect()
}

fn calls(connector: &Connector) {
    println!(
        "## (a) per-call cost, trivial connector, the calling thread driving the call (Connector::blocking)\n"
    );
    println!("| operation | attributes | through the host | native | ratio | overhead |");
    println!("|---|---:|---:|---:|---:|---:|");
    let blocking = connector.blocking();
    for n in [1usize, 10, 100] {
        let iterations = if n == 100 { 20_000 } else { 100_000 };
        let names: Vec<String> = (0..n).map(|i| format!("attribute{i}")).collect();
        let wasm = per_call(iterations, || {
            black_box(blocking.get("account", "u1", black_box(&names)).unwrap());
        });
        let native = per_call(iterations, || {
            let names = black_box(&names).clone();
            black_box(Sandbox::echo_get("account", "u1", &names));
        });
        row("get", n, wasm, native);

        let attributes = host_attributes(n);
        let sdk = sdk_attributes(n);
        let wasm = per_call(iterations, || {
            black_box(
                blocking
                    .create("account", black_box(&attributes).clone())
                    .unwrap(),
            );
        });
        let native = per_call(iterations, || {
            black_box(Sandbox::echo_create("account", black_box(&sdk).clone()));
        });
        row("create", n, wasm, native);
    }
    println!();
}

fn row(operation: &str, n: usize, wasm: Duration, native: Duration) {
    println!(
        "| {operation} | {n} | {} | {} | {:.1}× | {} |",
        us(wasm),
        us(native),
        wasm.as_nanos() as f64 / native.as_nanos().max(1) as f64,
        us(wasm.saturating_sub(native))
    );
}

fn instantiation(connector: &Connector) {
    let mut samples: Vec<Duration> = (0..2_000)
        .map(|_| {
            connector.release_idle();
            let start = Instant::now();
            connector.blocking().prewarm(1).unwrap();
            start.elapsed()
        })
        .collect();
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    println!("## (b) instantiation from InstancePre (pooling allocator), 2,000 samples\n");
    println!(
        "| p50 | p99 |\n|---:|---:|\n| {} | {} |\n",
        us(p50),
        us(p99)
    );
}

fn loads(bytes: &[u8], label: &str) {
    let cache = tempfile::tempdir().unwrap();
    let fresh = |cache_dir: Option<std::path::PathBuf>| {
        Runtime::new(RuntimeConfig {
            engine: EngineSettings::default(),
            cache_dir,
        })
        .unwrap()
    };
    let sha256 = provisio_host::runtime::content_hash(bytes);
    // Fill the disk cache once.
    fresh(Some(cache.path().to_path_buf())).load(bytes).unwrap();

    let sample = |runs: usize, cache_dir: Option<&Path>, known_hash: bool| {
        let mut samples: Vec<Duration> = (0..runs)
            .map(|_| {
                let runtime = fresh(cache_dir.map(Path::to_path_buf));
                let start = Instant::now();
                if known_hash {
                    runtime.load_hashed(bytes, &sha256).unwrap();
                } else {
                    runtime.load(bytes).unwrap();
                }
                start.elapsed()
            })
            .collect();
        percentile(&mut samples, 0.5)
    };
    let compiled = sample(5, None, false);
    let cached_hashing = sample(30, Some(cache.path()), false);
    let cached = sample(30, Some(cache.path()), true);
    println!(
        "| {label} ({} KB) | {} | {} | {} | {:.0}× |",
        bytes.len() / 1024,
        ms(compiled),
        ms(cached_hashing),
        ms(cached),
        compiled.as_secs_f64() / cached.as_secs_f64()
    );
}

fn main() {
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let sandbox = fixtures::bytes(fixtures::SANDBOX);
    let mut settings = TargetSettings::new("bench");
    settings.limits = CallLimits {
        timeout: Duration::from_secs(10),
        ..CallLimits::default()
    };
    settings.max_instances = 1;
    let connector = runtime.load(&sandbox).unwrap().start(settings).unwrap();

    println!("# Provisio runtime benchmark\n");
    if wanted("calls") {
        calls(&connector);
    }
    if wanted("instantiation") {
        instantiation(&connector);
    }
    if !wanted("loads") {
        return;
    }
    println!(
        "## (c) loading a connector (validate, compile or read the cache, instantiate, call `info`), p50\n"
    );
    println!(
        "| connector | compiled (no cache) | disk cache, hashing the file | disk cache, hash known | compiled / cached |"
    );
    println!("|---|---:|---:|---:|---:|");
    loads(&sandbox, "sandbox fixture");
    loads(provisio_host::bundled::CSV.bytes, "csv");
}

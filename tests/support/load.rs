//! Driving a load for the benchmarks: `clients` concurrent tasks, each
//! running one operation at a time, and the rate and latencies they saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Run {
    pub ops: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort();
        self.latencies[((self.latencies.len() - 1) as f64 * p).round() as usize]
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `clients` tasks run `ops` operations in all (operation `i` for each
/// `i` in `0..ops`), each one at a time.
pub async fn drive<F, Fut>(clients: usize, ops: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops {
                    return latencies;
                }
                let t = Instant::now();
                op(i).await;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    Run {
        ops,
        elapsed: started.elapsed(),
        latencies,
    }
}

/// Submits `operation` to `target` with `Prefer: wait=60` as the test
/// provisioner and returns the operation as the answer shows it.
pub async fn submit_and_wait(
    http: &reqwest::Client,
    base: &str,
    target: &str,
    operation: &serde_json::Value,
) -> serde_json::Value {
    http.post(format!("{base}/v1/targets/{target}/operations"))
        .bearer_auth(crate::host::PROVISIONER)
        .header("prefer", "wait=60")
        .json(operation)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A benchmark's size from the environment, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// VmHWM (peak resident memory) of this process, in MiB.
pub fn peak_mib() -> f64 {
    status_mib("VmHWM:")
}

/// VmRSS (resident memory now) of this process, in MiB.
pub fn resident_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time this process has used (user and system, every thread), in
/// seconds: beside a wall time it says how many cores a run kept busy.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resets VmHWM to the current resident size (Linux 4.0+).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

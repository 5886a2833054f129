//! Swap benchmark: how long a version switch takes (from the request to
//! the new version serving), and what switching does to the latency of the
//! operations flowing meanwhile, against the same load without switches,
//! in one run.
//!
//! Two CSV targets with the same settings take the same load (4 clients,
//! each submitting a create with `Prefer: wait` and waiting for its end):
//! `steady` never switches; `swapping` switches every 50 ms, alternating an
//! activation of `csv@0.9.0` (load from the registry, start, warm one
//! instance, run its `test`, record, swap) and a rollback (record, swap).
//! Both versions were compiled once before the run (a cached compile).
//!
//! Run: `cargo bench -p provisio-tests --bench swap`
//! (`PROVISIO_BENCH_OPS=N` overrides the operations per phase).

use provisio_tests::fixtures;
use provisio_tests::host::{CSV_CONFIG, OPERATOR, TestHost};
use provisio_tests::load::{Run, drive, ms, submit_and_wait};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENTS: usize = 4;
const SWAP_EVERY: Duration = Duration::from_millis(50);

fn target(name: &str) -> String {
    format!(
        "[targets.{name}]\nconnector = \"bundled:csv\"\nconcurrency = 4\n[targets.{name}.grants]\ndirectory = \"{{dir}}/{name}\"\n[targets.{name}.config]\n{CSV_CONFIG}\n"
    )
}

async fn load(host: &Arc<TestHost>, target: &'static str, ops: usize) -> Run {
    let http = reqwest::Client::new();
    let base = host.base.clone();
    drive(CLIENTS, ops, move |i| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let body = json!({"kind": "create", "identity": format!("{target}{i}"),
                "attributes": {"id": format!("{i:06}"), "__name__": format!("{target}{i}"), "department": "Bench"}});
            let done = submit_and_wait(&http, &base, target, &body).await;
            assert_eq!(done["status"], "succeeded", "{done}");
        }
    })
    .await
}

/// One switch: the request's round trip and the host's report.
struct Switch {
    activation: bool,
    round_trip: Duration,
    took_ms: f64,
    swap_us: f64,
}

async fn switch(http: &reqwest::Client, base: &str, activation: bool, next: &str) -> Switch {
    let started = Instant::now();
    let request = if activation {
        http.post(format!("{base}/v1/targets/swapping/activate"))
            .json(&json!({"version": next}))
    } else {
        http.post(format!("{base}/v1/targets/swapping/rollback"))
    };
    let reply = request.bearer_auth(OPERATOR).send().await.unwrap();
    let round_trip = started.elapsed();
    assert!(
        reply.status().is_success(),
        "{}",
        reply.text().await.unwrap()
    );
    let report: Value = reply.json().await.unwrap();
    Switch {
        activation,
        round_trip,
        took_ms: report["took_ms"].as_f64().unwrap(),
        swap_us: report["swap_us"].as_f64().unwrap(),
    }
}

fn summary(label: &str, mut values: Vec<f64>, unit: &str) {
    values.sort_by(f64::total_cmp);
    let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    println!(
        "  {label:<34} n={:<4} p50 {:>8.3} {unit}  p99 {:>8.3} {unit}  max {:>8.3} {unit}",
        values.len(),
        at(0.5),
        at(0.99),
        values[values.len() - 1]
    );
}

fn main() {
    let ops: usize = std::env::var("PROVISIO_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let host = Arc::new(
            TestHost::start(
                &format!("{}\n{}", target("steady"), target("swapping")),
                "",
                &["steady", "swapping"],
            )
            .await,
        );
        let http = reqwest::Client::new();
        let base = host.base.clone();
        let next = host.upload(fixtures::CSV_NEXT).await.body["sha256"]
            .as_str()
            .unwrap()
            .to_owned();
        // Compile and probe both versions once: the run measures switches
        // with a cached compile.
        switch(&http, &base, true, &next).await;
        switch(&http, &base, false, &next).await;

        let mut steady = load(&host, "steady", ops).await;

        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (http, base, next, stop) = (http.clone(), base.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut switches = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(SWAP_EVERY).await;
                    let activation = switches.len() % 2 == 0;
                    switches.push(switch(&http, &base, activation, &next).await);
                }
                if switches.len() % 2 == 1 {
                    switches.push(switch(&http, &base, false, &next).await);
                }
                switches
            })
        };
        let mut swapping = load(&host, "swapping", ops).await;
        stop.store(true, Ordering::Relaxed);
        let switches = swapper.await.unwrap();

        println!("swap benchmark: {ops} creates per phase, {CLIENTS} clients, CSV connector");
        println!(
            "  steady:   {:>7.0} ops/s  p50 {}  p99 {}",
            steady.rate(),
            ms(steady.percentile(0.5)),
            ms(steady.percentile(0.99))
        );
        println!(
            "  swapping: {:>7.0} ops/s  p50 {}  p99 {}  ({} switches, one per {} ms)",
            swapping.rate(),
            ms(swapping.percentile(0.5)),
            ms(swapping.percentile(0.99)),
            switches.len(),
            SWAP_EVERY.as_millis()
        );
        let ratio = swapping.percentile(0.99).as_secs_f64() / steady.percentile(0.99).as_secs_f64();
        println!("  p99 during switches / steady p99: {ratio:.2}x (target <= 2x)");
        for activation in [true, false] {
            let kind = if activation { "activate" } else { "rollback" };
            let of_kind: Vec<&Switch> = switches
                .iter()
                .filter(|s| s.activation == activation)
                .collect();
            summary(
                &format!("{kind}: request to serving (client)"),
                of_kind
                    .iter()
                    .map(|s| s.round_trip.as_secs_f64() * 1000.0)
                    .collect(),
                "ms",
            );
            summary(
                &format!("{kind}: host's took_ms"),
                of_kind.iter().map(|s| s.took_ms).collect(),
                "ms",
            );
            summary(
                &format!("{kind}: swap under the lock"),
                of_kind.iter().map(|s| s.swap_us).collect(),
                "us",
            );
        }
    });
}

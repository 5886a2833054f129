//! Engine benchmark: operations per second through the HTTP API and the
//! engine (durable SQLite store, audit log, policies) into a connector,
//! against the same number of direct connector calls without the engine,
//! in one run, at 1 and 8 concurrent clients.
//!
//! Latency is from the client's submit to its seeing `succeeded`: either in
//! the submit's own answer (`Prefer: wait`, one HTTP exchange) or in a
//! long-poll that follows the submit (two exchanges).
//!
//! Run: `cargo bench -p provisio-tests --bench engine [-- noop|csv]`
//! (`PROVISIO_BENCH_OPS=N` overrides the number of operations).

use provisio_host::model::{Attribute, Value};
use provisio_host::runtime::{Connector, DirectoryGrant, TargetSettings};
use provisio_tests::fixtures;
use provisio_tests::host::{CSV_CONFIG, PROVISIONER, TestHost};
use provisio_tests::load::{Run, drive, ms, submit_and_wait};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

// The same allocator as the `provisio` binary, so the figures are the host's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How a client learns that its operation ended.
#[derive(Clone, Copy, PartialEq)]
enum Follow {
    /// `Prefer: wait=60` on the submit.
    PreferWait,
    /// A long-poll `GET /v1/operations/{id}?wait=60s` after the submit.
    LongPoll,
}

async fn through_engine(
    host: &Arc<TestHost>,
    target: &'static str,
    prefix: String,
    clients: usize,
    ops: usize,
    follow: Follow,
) -> Run {
    let http = reqwest::Client::new();
    let base = host.base.clone();
    drive(clients, ops, move |i| {
        let (http, base, prefix) = (http.clone(), base.clone(), prefix.clone());
        async move {
            let body = json!({"kind": "create", "identity": format!("{prefix}{i}"),
                "attributes": {"id": format!("{prefix}{i:06}"), "__name__": format!("{prefix}{i}"), "department": "Bench"}});
            if follow == Follow::PreferWait {
                let done = submit_and_wait(&http, &base, target, &body).await;
                assert_eq!(done["status"], "succeeded", "{done}");
                return;
            }
            let submitted: serde_json::Value = http
                .post(format!("{base}/v1/targets/{target}/operations"))
                .bearer_auth(PROVISIONER)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = submitted["id"].as_str().expect("accepted");
            let done: serde_json::Value = http
                .get(format!("{base}/v1/operations/{id}?wait=60s"))
                .bearer_auth(PROVISIONER)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(done["status"], "succeeded", "{done}");
        }
    })
    .await
}

async fn direct(connector: Connector, prefix: String, clients: usize, ops: usize) -> Run {
    drive(clients, ops, move |i| {
        let (connector, prefix) = (connector.clone(), prefix.clone());
        async move {
            let attributes = vec![
                Attribute::single("id", Value::Text(format!("{prefix}{i:06}"))),
                Attribute::single("__name__", Value::Text(format!("{prefix}{i}"))),
                Attribute::single("department", Value::Text("Bench".into())),
            ];
            connector.create("account", attributes).await.unwrap();
        }
    })
    .await
}

/// Where one client's time goes: the submit's answer, then the wait.
async fn split(host: &TestHost) {
    let http = reqwest::Client::new();
    let bare = p50_of_gets(&http, &format!("{}/healthz", host.base)).await;
    println!(
        "one client, p50: an HTTP exchange with nothing behind it (/healthz) {}",
        ms(bare)
    );
    let (mut submit, mut wait) = (Vec::new(), Vec::new());
    let mut last = String::new();
    for i in 0..500 {
        let body = json!({"kind": "create", "identity": format!("split{i}"), "attributes": {"__name__": format!("split{i}")}});
        let t = Instant::now();
        let submitted: serde_json::Value = http
            .post(format!("{}/v1/targets/noop/operations", host.base))
            .bearer_auth(PROVISIONER)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        submit.push(t.elapsed());
        let t = Instant::now();
        let id = submitted["id"].as_str().unwrap();
        last = id.to_owned();
        http.get(format!("{}/v1/operations/{id}?wait=60s", host.base))
            .bearer_auth(PROVISIONER)
            .send()
            .await
            .unwrap();
        wait.push(t.elapsed());
    }
    let read = p50_of_gets(&http, &format!("{}/v1/operations/{last}", host.base)).await;
    println!("one client, p50: reading an operation {}", ms(read));
    submit.sort();
    wait.sort();
    println!(
        "one client, p50: submit answered in {}, then ended {} later\n",
        ms(submit[250]),
        ms(wait[250])
    );
}

/// The median of 500 authenticated GETs of `url`, one at a time.
async fn p50_of_gets(http: &reqwest::Client, url: &str) -> std::time::Duration {
    let mut times = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        http.get(url)
            .bearer_auth(PROVISIONER)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    times[250]
}

/// Store transitions alone, one at a time.
async fn store_cost() {
    use provisio_host::store::*;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("s.db"),
        provisio_host::keys::HostKey::from_master(&[1; 32]),
    )
    .await
    .unwrap();
    let mut submit = Vec::new();
    let mut running = Vec::new();
    for i in 0..1000 {
        let id = format!("op{i}");
        let op = NewOperation {
            id: id.clone(),
            target: "t".into(),
            class: "account".into(),
            identity: format!("u{i}"),
            kind: OperationKind::Create,
            payload: json!({"attributes": {"__name__": "x"}}),
            sealed_secret: None,
            status: Status::Queued,
            max_attempts: 5,
            idempotency_key: None,
            request_digest: None,
            submitted_by: "b".into(),
            created_at: now_ms(),
            started_by: None,
        };
        let event = AuditEvent {
            actor: "b".into(),
            target: Some("t".into()),
            operation_id: Some(id.clone()),
            event: "submitted".into(),
            detail: json!({}),
        };
        let t = Instant::now();
        store.submit(op, vec![event.clone()]).await.unwrap();
        submit.push(t.elapsed());
        let t = Instant::now();
        store
            .apply(Change {
                id,
                expected: vec![Status::Queued],
                status: Some(Status::Running),
                increment_attempts: true,
                mark_started: true,
                audit: vec![event],
                ..Change::default()
            })
            .await
            .unwrap();
        running.push(t.elapsed());
    }
    submit.sort();
    running.sort();
    println!(
        "store alone, p50: submit {}, running transition {}\n",
        ms(submit[500]),
        ms(running[500])
    );
}

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let ops_override: Option<usize> = std::env::var("PROVISIO_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let targets = format!(
            "[targets.noop]\nconnector = {:?}\nconcurrency = 8\n\n[targets.csv]\nconnector = \"bundled:csv\"\nconcurrency = 4\n[targets.csv.grants]\ndirectory = \"{{dir}}/csv\"\n[targets.csv.config]\n{CSV_CONFIG}\n",
            fixtures::SANDBOX
        );
        // Under valgrind the pooling allocator cannot reserve 256 slots.
        let server = std::env::var("PROVISIO_BENCH_SERVER").unwrap_or_default();
        let host = Arc::new(TestHost::start(&targets, &server, &["csv", "csv-direct"]).await);
        let sandbox = provisio_tests::start(&fixtures::bytes(fixtures::SANDBOX), {
            let mut s = TargetSettings::new("noop-direct");
            s.max_instances = 8;
            s
        });
        let csv_direct = {
            let mut s = TargetSettings::new("csv-direct");
            s.max_instances = 4;
            s.grants.directory = Some(DirectoryGrant::read_write(host.path("csv-direct")));
            for line in CSV_CONFIG.lines().filter(|l| l.contains('=')) {
                let (k, v) = line.split_once('=').unwrap();
                s.grants.config.values.insert(k.trim().trim_matches('"').into(), v.trim().trim_matches('"').into());
            }
            provisio_tests::start(provisio_host::bundled::CSV.bytes, s)
        };

        println!("# Provisio engine benchmark\n");
        if only.iter().any(|o| o == "split") {
            store_cost().await;
            split(&host).await;
            return;
        }
        println!("| target | follow | clients | operations | through API + engine | p50 | p99 | direct calls | p50 | p99 | throughput ratio | p50 added by the engine |");
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (target, connector, ops) in [("noop", sandbox.clone(), 4000usize), ("csv", csv_direct.clone(), 400)] {
            if !only.is_empty() && !only.iter().any(|o| o == target) {
                continue;
            }
            let ops = ops_override.unwrap_or(ops);
            for (follow, clients) in [(Follow::LongPoll, 1usize), (Follow::LongPoll, 8), (Follow::PreferWait, 1), (Follow::PreferWait, 8)] {
                let label = match follow { Follow::PreferWait => "prefer-wait", Follow::LongPoll => "long-poll" };
                let prefix = format!("{label}-c{clients}-");
                // Warm up instances and caches.
                through_engine(&host, target, format!("warm{prefix}"), clients, clients * 4, follow).await;
                direct(connector.clone(), format!("warm{prefix}"), clients, clients * 4).await;
                let mut engine = through_engine(&host, target, prefix.clone(), clients, ops, follow).await;
                let mut native = direct(connector.clone(), prefix, clients, ops).await;
                let (e50, e99, d50, d99) =
                    (engine.percentile(0.5), engine.percentile(0.99), native.percentile(0.5), native.percentile(0.99));
                println!(
                    "| {target} | {label} | {clients} | {ops} | {:.0} ops/s | {} | {} | {:.0} ops/s | {} | {} | {:.2} | {} |",
                    engine.rate(),
                    ms(e50),
                    ms(e99),
                    native.rate(),
                    ms(d50),
                    ms(d99),
                    engine.rate() / native.rate(),
                    ms(e50.saturating_sub(d50))
                );
            }
        }
    });
}

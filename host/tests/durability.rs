//! Kill the host (SIGKILL) while a batch of operations is in flight, restart
//! it, and every operation reaches a final state exactly once.

use provisio_host::config::hash_token;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "durability-test-token";

fn start(config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("PROVISIO_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start provisio serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let address = loop {
        let line = lines
            .next()
            .expect("provisio exited before serving")
            .unwrap();
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest.split(' ').next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "provisio did not start");
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{address}"))
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn sigkill_mid_batch_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("hr")).unwrap();
    let cache = std::env::temp_dir().join("provisio-test-component-cache");
    let config = dir.path().join("provisio.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:0"
cache_dir = {cache:?}

[[tokens]]
name = "feed"
role = "operator"
sha256 = "{hash}"

[targets.hr]
connector = "bundled:csv"
concurrency = 4
[targets.hr.grants]
directory = "hr"
[targets.hr.config]
"account.key" = "id"
"account.name" = "userName"
"account.columns" = "id,userName"
"#,
            cache = cache.display().to_string(),
            hash = hash_token(TOKEN)
        ),
    )
    .unwrap();

    let (mut host, base) = start(&config);
    let http = client();
    let total = 300;
    let mut ids = Vec::new();
    for i in 0..total {
        let body = json!({"kind": "create", "identity": format!("e{i}"),
                          "attributes": {"id": format!("{i:04}"), "__name__": format!("user{i}")}});
        let reply: Value = http
            .post(format!("{base}/v1/targets/hr/operations"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap();
        ids.push(reply["id"].as_str().expect("accepted").to_owned());
    }
    // Every operation was acknowledged, so it is durable: kill the host now,
    // with some done, some running and the rest queued.
    host.kill().unwrap();
    host.wait().unwrap();
    let done_before = std::fs::read_to_string(dir.path().join("hr/accounts.csv"))
        .map(|s| s.lines().count().saturating_sub(1))
        .unwrap_or(0);
    assert!(
        done_before < total,
        "the kill landed while work was in flight ({done_before} done)"
    );

    let (mut host, base) = start(&config);
    let deadline = Instant::now() + Duration::from_secs(180);
    for id in &ids {
        loop {
            let op: Value = http
                .get(format!("{base}/v1/operations/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .unwrap()
                .json()
                .unwrap();
            match op["status"].as_str().unwrap() {
                "succeeded" => break,
                "failed" | "cancelled" => panic!("operation {id} ended {op}"),
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "operation {id} did not finish: {op}"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
    let accounts = std::fs::read_to_string(dir.path().join("hr/accounts.csv")).unwrap();
    let mut keys: Vec<&str> = accounts
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(keys.len(), total, "every account once");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), total, "no duplicate rows");
    let verify: Value = http
        .get(format!("{base}/v1/audit/verify"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    host.kill().unwrap();
    host.wait().unwrap();
}

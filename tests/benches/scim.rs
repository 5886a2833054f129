//! SCIM benchmark: user creates per second into a real scim2-server, in one
//! run, at 1 and 8 concurrent clients:
//!
//! - through the host's HTTP API and engine into the bundled SCIM connector
//!   (`Prefer: wait`, so each create has ended when its answer arrives);
//! - through the host runtime alone (the connector called directly);
//! - a direct Python client (`http.client`, one keep-alive connection per
//!   client thread) posting the same users to the same server.
//!
//! Run: `cargo bench -p provisio-tests --bench scim` (`PROVISIO_BENCH_OPS=N`
//! sets the creates per case).

use provisio_host::model::{Attribute, Value};
use provisio_host::runtime::capabilities::http::{AllowedOrigin, HttpGrant};
use provisio_host::runtime::{Secret, TargetSettings};
use provisio_tests::host::TestHost;
use provisio_tests::load::{drive, submit_and_wait};
use provisio_tests::scim::ScimServer;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PYTHON_CLIENT: &str = r#"
import http.client, json, sys, threading, time
host, port, token, ops, clients, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
lock = threading.Lock()
state = {"next": 0}
def work():
    conn = http.client.HTTPConnection(host, port)
    while True:
        with lock:
            i = state["next"]; state["next"] += 1
        if i >= ops:
            return
        body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"{prefix}{i}",
                           "name": {"givenName": "Bench"}, "active": True})
        conn.request("POST", "/Users", body, {"Authorization": "Bearer " + token, "Content-Type": "application/scim+json"})
        r = conn.getresponse(); r.read()
        assert r.status == 201, r.status
started = time.perf_counter()
threads = [threading.Thread(target=work) for _ in range(clients)]
[t.start() for t in threads]; [t.join() for t in threads]
print(time.perf_counter() - started)
"#;

fn main() {
    let ops: usize = std::env::var("PROVISIO_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let server = ScimServer::up();
        let secrets = tempfile::tempdir().unwrap();
        let token_file = secrets.path().join("token");
        std::fs::write(&token_file, &server.token).unwrap();
        let targets = format!(
            "[targets.saas]\nconnector = \"bundled:scim\"\nconcurrency = 8\n[targets.saas.grants.http]\nallow = [{base:?}]\n[targets.saas.config]\nbase_url = {base:?}\n[targets.saas.secrets]\ntoken = {{ file = {:?} }}\n",
            token_file.display().to_string(),
            base = server.base,
        );
        let host = Arc::new(TestHost::start(&targets, "", &[]).await);
        let connector = {
            let mut settings = TargetSettings::new("saas-direct");
            settings.max_instances = 8;
            settings.grants.config.values.insert("base_url".into(), server.base.clone());
            settings.grants.config.secrets.insert("token".into(), Secret::new(server.token.clone()));
            settings.grants.http = Some(Arc::new(HttpGrant {
                allow: vec![AllowedOrigin::parse(&server.base).unwrap()],
                timeout: Duration::from_secs(30),
                max_request_bytes: 1 << 20,
                max_response_bytes: 16 << 20,
            }));
            provisio_tests::start(provisio_host::bundled::SCIM.bytes, settings)
        };
        let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/servers/scim-venv/bin/python");
        let port = server.base.rsplit(':').next().unwrap().to_owned();

        println!("# Provisio SCIM benchmark (scim2-server on loopback)\n");
        println!("| clients | creates | API + engine | host runtime | direct Python client | API / direct | runtime / direct |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for clients in [1usize, 8] {
            let api = {
                let (http, base) = (reqwest::Client::new(), host.base.clone());
                drive(clients, ops, move |i| {
                    let (http, base) = (http.clone(), base.clone());
                    async move {
                        let body = json!({"kind": "create", "identity": format!("api{clients}-{i}"),
                            "attributes": {"__name__": format!("api{clients}-{i}"), "givenName": "Bench", "__enable__": true}});
                        let done = submit_and_wait(&http, &base, "saas", &body).await;
                        assert_eq!(done["status"], "succeeded", "{done}");
                    }
                })
                .await
            };
            let direct = {
                let connector = connector.clone();
                drive(clients, ops, move |i| {
                    let connector = connector.clone();
                    async move {
                        let attributes = vec![
                            Attribute::single("__name__", Value::Text(format!("rt{clients}-{i}"))),
                            Attribute::single("givenName", Value::Text("Bench".into())),
                            Attribute::single("__enable__", Value::Boolean(true)),
                        ];
                        connector.create("account", attributes).await.unwrap();
                    }
                })
                .await
            };
            let output = std::process::Command::new(&python)
                .args(["-c", PYTHON_CLIENT, "127.0.0.1", &port, &server.token, &ops.to_string(), &clients.to_string(), &format!("py{clients}-")])
                .output()
                .expect("the venv's python runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let seconds: f64 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
            let python_rate = ops as f64 / seconds;
            println!(
                "| {clients} | {ops} | {:.0}/s | {:.0}/s | {python_rate:.0}/s | {:.2} | {:.2} |",
                api.rate(),
                direct.rate(),
                api.rate() / python_rate,
                direct.rate() / python_rate
            );
        }
    });
}

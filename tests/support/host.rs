//! A real host for tests: a configuration in a temporary directory, the
//! server on a loopback port, and an HTTP client holding a token.

use provisio_host::config::{Config, hash_token};
use provisio_host::server::Server;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An operator's and a provisioner's token, configured in every test host.
pub const OPERATOR: &str = "operator-token-for-tests";
pub const PROVISIONER: &str = "provisioner-token-for-tests";

/// The CSV settings every CSV target of the tests uses.
pub const CSV_CONFIG: &str = r#"
"account.key" = "id"
"account.name" = "userName"
"account.enable" = "active"
"account.columns" = "id,userName,department,active"
"group.key" = "id"
"group.name" = "name"
"group.references" = "members"
"group.columns" = "id,name,members"
"#;

pub struct TestHost {
    pub dir: tempfile::TempDir,
    pub server: Option<Server>,
    pub base: String,
    http: reqwest::Client,
    targets_toml: String,
    server_toml: String,
}

/// A response: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestHost {
    /// Starts a host with these `[targets.*]` tables (and extra `[server]`
    /// lines). `{dir}` in the text is the host's directory; `dirs` are
    /// created in it first (for directory grants).
    pub async fn start(targets_toml: &str, server_toml: &str, dirs: &[&str]) -> TestHost {
        let dir = tempfile::tempdir().unwrap();
        for sub in dirs {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let mut host = TestHost {
            base: String::new(),
            http: reqwest::Client::new(),
            server: None,
            targets_toml: targets_toml.replace("{dir}", &dir.path().display().to_string()),
            server_toml: server_toml.to_owned(),
            dir,
        };
        host.restart().await;
        host
    }

    /// A host with these targets (name, TOML), each granted `{dir}/<name>`.
    pub async fn with_targets(targets: &[(&str, String)], server_toml: &str) -> TestHost {
        let toml: Vec<&str> = targets.iter().map(|(_, t)| t.as_str()).collect();
        let names: Vec<&str> = targets.iter().map(|(n, _)| *n).collect();
        TestHost::start(&toml.join("\n"), server_toml, &names).await
    }

    /// Replaces the `[targets.*]` tables the next restart uses.
    pub fn set_targets(&mut self, targets_toml: &str) {
        self.targets_toml = targets_toml.replace("{dir}", &self.dir.path().display().to_string());
    }

    /// Replaces the `[targets.*]` tables and writes the configuration file
    /// now, as an operator editing it under a running host would.
    pub fn rewrite_targets(&mut self, targets_toml: &str) {
        self.set_targets(targets_toml);
        std::fs::write(self.config_file(), self.config_text()).unwrap();
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn config_file(&self) -> PathBuf {
        self.path("provisio.toml")
    }

    /// The configuration text.
    pub fn config_text(&self) -> String {
        // Shared by every host of the run: compiled once, keyed by content.
        let cache = std::env::temp_dir().join("provisio-test-component-cache");
        format!(
            r#"[server]
listen = "127.0.0.1:0"
cache_dir = {cache:?}
{server}

[[tokens]]
name = "ops"
role = "operator"
sha256 = "{op}"

[[tokens]]
name = "feed"
role = "provisioner"
sha256 = "{feed}"

{targets}
"#,
            cache = cache.display().to_string(),
            server = self.server_toml,
            op = hash_token(OPERATOR),
            feed = hash_token(PROVISIONER),
            targets = self.targets_toml
        )
    }

    /// Stops the server, if it runs.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.unwrap();
        }
    }

    /// Stops the server (if running) and starts it again on the same store.
    pub async fn restart(&mut self) {
        self.stop().await;
        std::fs::write(self.config_file(), self.config_text()).unwrap();
        let config = Config::load(&self.config_file()).unwrap_or_else(|e| panic!("{e}"));
        let server = Server::start(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(reqwest::Method::GET, path, Some(OPERATOR), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(reqwest::Method::POST, path, Some(OPERATOR), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(reqwest::Method::DELETE, path, Some(OPERATOR), None)
            .await
    }

    /// Sets an identity's desired state as the provisioner (`query` after
    /// the path: `?dry_run=true`, `?explain=true`).
    pub async fn put_identity(&self, id: &str, query: &str, state: Value) -> Reply {
        self.request(
            reqwest::Method::PUT,
            &format!("/v1/identities/{id}{query}"),
            Some(PROVISIONER),
            Some(state),
        )
        .await
    }

    /// Waits for every operation an identity outcome submitted to end;
    /// returns them, each asserted succeeded.
    pub async fn settle(&self, outcome: &Value) -> Vec<Value> {
        let mut ended = Vec::new();
        for operation in outcome["operations"].as_array().into_iter().flatten() {
            let done = self.wait(operation["id"].as_str().unwrap()).await;
            assert_eq!(done["status"], "succeeded", "{done}\nof {outcome}");
            ended.push(done);
        }
        ended
    }

    /// Uploads a connector file as the operator (raw body).
    pub async fn upload(&self, path: &str) -> Reply {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let response = self
            .http
            .post(format!("{}/v1/connectors", self.base))
            .bearer_auth(OPERATOR)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        }
    }

    /// Posts a body as the provisioner, whatever the answer.
    pub async fn submit_raw(&self, path: &str, body: Value) -> Reply {
        self.request(reqwest::Method::POST, path, Some(PROVISIONER), Some(body))
            .await
    }

    /// Posts a body as the provisioner with one extra header.
    pub async fn request_with_header(
        &self,
        path: &str,
        body: Value,
        (name, value): (&str, &str),
    ) -> Reply {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(PROVISIONER)
            .header(name, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Reply {
            status,
            body: response.json().await.unwrap(),
            headers,
        }
    }

    /// Submits an operation as the provisioner; returns its id.
    pub async fn submit(&self, target: &str, operation: Value) -> String {
        let reply = self
            .request(
                reqwest::Method::POST,
                &format!("/v1/targets/{target}/operations"),
                Some(PROVISIONER),
                Some(operation),
            )
            .await;
        assert_eq!(reply.status, 202, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Waits until an operation is final (or in `statuses`); returns it.
    pub async fn wait_for(&self, id: &str, statuses: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reply = self.get(&format!("/v1/operations/{id}")).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            let status = reply.body["status"].as_str().unwrap().to_owned();
            if statuses.contains(&status.as_str()) {
                return reply.body;
            }
            assert!(
                Instant::now() < deadline,
                "operation {id} stuck in {status}: {}",
                reply.body
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn wait(&self, id: &str) -> Value {
        self.wait_for(id, &["succeeded", "failed", "cancelled"])
            .await
    }

    /// Submits and waits for the end.
    pub async fn run(&self, target: &str, operation: Value) -> Value {
        let id = self.submit(target, operation).await;
        self.wait(&id).await
    }

    /// Every audit row about one operation.
    pub async fn audit_of(&self, id: &str) -> Vec<Value> {
        self.audit_where(&format!("operation={id}")).await
    }

    /// Every audit row about one target.
    pub async fn audit_of_target(&self, target: &str) -> Vec<Value> {
        self.audit_where(&format!("target={target}")).await
    }

    /// Every audit row.
    pub async fn audit_all(&self) -> Vec<Value> {
        self.audit_where("").await
    }

    /// Every audit row that `filter` (query parameters) selects, read page
    /// by page.
    async fn audit_where(&self, filter: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let reply = self
                .get(&format!("/v1/audit?after={after}&limit=1000&{filter}"))
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            events.extend(reply.body["events"].as_array().unwrap().iter().cloned());
            match reply.body["next"].as_i64() {
                Some(next) => after = next,
                None => return events,
            }
        }
    }
}

/// `[targets.<name>]` on the bundled CSV connector with [`CSV_CONFIG`],
/// granted `{dir}/<name>`, with `extra` lines in the target's table.
pub fn csv_target(name: &str, extra: &str) -> String {
    format!(
        "[targets.{name}]\nconnector = \"bundled:csv\"\n{extra}\n[targets.{name}.grants]\ndirectory = \"{{dir}}/{name}\"\n[targets.{name}.config]\n{CSV_CONFIG}\n"
    )
}

/// `[targets.<name>]` on the flaky fixture with its `config` lines,
/// granted `{dir}/<name>`, with `extra` lines in the target's table.
pub fn flaky_target(name: &str, config: &str, extra: &str) -> String {
    format!(
        "[targets.{name}]\nconnector = {:?}\n{extra}\n[targets.{name}.grants]\ndirectory = \"{{dir}}/{name}\"\n[targets.{name}.config]\n{config}\n",
        crate::fixtures::FLAKY
    )
}

/// A create request for the CSV targets of the tests.
pub fn csv_account(identity: &str, id: &str, user: &str) -> Value {
    json!({"kind": "create", "identity": identity,
           "attributes": {"id": id, "__name__": user, "department": "Engineering", "__enable__": true}})
}

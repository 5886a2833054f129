//! `provisio demo`: a real host (SQLite store, engine, HTTP API, the bundled
//! CSV connector) on a loopback port, driven over HTTP through a joiner, a
//! mover and a leaver, with a protected account and the audit log checked
//! at the end.

use super::output::say;
use crate::config::Config;
use crate::server::Server;
use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct DemoArgs {
    /// Directory for the demo's files (default: a new temporary directory,
    /// kept afterwards so you can look at them).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const ACCOUNTS: &str = "\
id,userName,givenName,familyName,mail,department,title,active
0000,admin,Built-in,Administrator,admin@example.com,IT,Administrator,true
";
const GROUPS: &str = "\
id,name,members
engineering,Engineering,
research,Research,
";

fn config_text(cache_dir: &Path) -> String {
    format!(
        r#"# Written by `provisio demo`.
[server]
listen = "127.0.0.1:0"
store = "provisio.db"
key_file = "provisio.key"
cache_dir = {cache:?}
insecure_no_auth = true

[targets.hr]
connector = "bundled:csv"
description = "HR accounts and groups in CSV files"
on_delete = "disable"
protected = 'userName eq "admin"'
membership = {{ mode = "group-attribute", group_class = "group", attribute = "members" }}

[targets.hr.grants]
directory = "hr"

[targets.hr.config]
"account.key" = "id"
"account.name" = "userName"
"account.enable" = "active"
"group.key" = "id"
"group.name" = "name"
"group.references" = "members"
"#,
        cache = cache_dir.display().to_string()
    )
}

pub async fn run(args: DemoArgs, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => tempfile::Builder::new()
            .prefix("provisio-demo-")
            .tempdir()
            .context("cannot create a temporary directory")?
            .keep(),
    };
    let hr = dir.join("hr");
    std::fs::create_dir_all(&hr).with_context(|| format!("cannot create {}", hr.display()))?;
    for (file, contents) in [("accounts.csv", ACCOUNTS), ("groups.csv", GROUPS)] {
        if !hr.join(file).exists() {
            std::fs::write(hr.join(file), contents)?;
        }
    }
    let cache_dir = cache_dir.unwrap_or_else(|| dir.join("cache"));
    let config_file = dir.join("provisio.toml");
    std::fs::write(&config_file, config_text(&cache_dir))?;
    let config = Config::load(&config_file)?;

    let started = Instant::now();
    let server = Server::start(&config).await?;
    let base = format!("http://{}", server.addr);
    say!("Provisio demo in {}", dir.display());
    say!(
        "  host on {base} (SQLite store provisio.db, started in {} ms); target hr: bundled CSV connector on hr/",
        started.elapsed().as_millis()
    );
    let demo = Demo {
        http: reqwest::Client::new(),
        base,
        failures: 0,
    };
    let result = demo.walk(&hr).await;
    server.stop().await?;
    let failures = result?;
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Demo {
    http: reqwest::Client,
    base: String,
    failures: usize,
}

/// (identity, userName, given, family, department, title)
const JOINERS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "emp-1001",
        "ada.lovelace",
        "Ada",
        "Lovelace",
        "Engineering",
        "Analyst",
    ),
    (
        "emp-1002",
        "grace.hopper",
        "Grace",
        "Hopper",
        "Engineering",
        "Rear Admiral",
    ),
    (
        "emp-1003",
        "alan.turing",
        "Alan",
        "Turing",
        "Research",
        "Fellow",
    ),
];

impl Demo {
    async fn walk(mut self, hr: &Path) -> anyhow::Result<usize> {
        // A test now, so that the health shown is this run's.
        self.post("/v1/targets/hr/test", json!({})).await?;
        let target: Value = self.get("/v1/targets/hr").await?;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        say!(
            "  target hr: {} ({}), health {}",
            text(&target["connector"]),
            text(&target["contract"]),
            text(&target["health"])
        );

        say!("joiners");
        for (i, (identity, user, given, family, department, title)) in JOINERS.iter().enumerate() {
            let attributes = json!({
                "id": format!("{}", 1001 + i), "__name__": user, "givenName": given, "familyName": family,
                "mail": format!("{user}@example.com"), "department": department, "title": title,
                "__enable__": true,
            });
            self.operation(
                &format!("create {user}"),
                json!({"kind": "create", "identity": identity, "attributes": attributes}),
            )
            .await?;
            let group = department.to_lowercase();
            self.operation(
                &format!("add {identity} to {group}"),
                json!({"kind": "add-member", "identity": identity, "group": group}),
            )
            .await?;
        }

        say!("mover: grace.hopper moves from Engineering to Research");
        let changes = json!([
            {"op": "replace", "name": "department", "values": "Research"},
            {"op": "replace", "name": "title", "values": "Director of Research"},
        ]);
        self.operation(
            "update emp-1002",
            json!({"kind": "update", "identity": "emp-1002", "changes": changes}),
        )
        .await?;
        self.operation(
            "remove emp-1002 from engineering",
            json!({"kind": "remove-member", "identity": "emp-1002", "group": "engineering"}),
        )
        .await?;
        self.operation(
            "add emp-1002 to research",
            json!({"kind": "add-member", "identity": "emp-1002", "group": "research"}),
        )
        .await?;

        say!("leaver: alan.turing leaves (on_delete = disable keeps the account)");
        self.operation(
            "remove emp-1003 from research",
            json!({"kind": "remove-member", "identity": "emp-1003", "group": "research"}),
        )
        .await?;
        self.operation(
            "delete emp-1003",
            json!({"kind": "delete", "identity": "emp-1003"}),
        )
        .await?;

        say!("safeguards");
        let linked: Value = self
            .post(
                "/v1/targets/hr/links",
                json!({"identity": "root", "uid": "0000"}),
            )
            .await?;
        say!(
            "  {:<52} -> uid {}",
            "link identity root to the existing admin account",
            linked["uid"].as_str().unwrap_or("?")
        );
        self.expect_failure(
            "delete root (admin is protected)",
            json!({"kind": "delete", "identity": "root"}),
            "protected",
        )
        .await?;
        self.expect_failure(
            "disable emp-9999 (never created or linked)",
            json!({"kind": "disable", "identity": "emp-9999"}),
            "not-linked",
        )
        .await?;

        let audit: Value = self.get("/v1/audit/verify").await?;
        say!(
            "audit log: {} rows, chain intact: {}",
            audit["rows"],
            audit["ok"]
        );
        if audit["ok"] != json!(true) {
            self.failures += 1;
        }
        for file in ["accounts.csv", "groups.csv"] {
            say!("{}:", hr.join(file).display());
            for line in std::fs::read_to_string(hr.join(file))?.lines() {
                say!("  {line}");
            }
        }
        say!("done: {} unexpected results", self.failures);
        Ok(self.failures)
    }

    /// Submits an operation, waits for it to end, prints the outcome.
    async fn operation(&mut self, label: &str, request: Value) -> anyhow::Result<Value> {
        let operation = self.run(request).await?;
        let status = operation["status"].as_str().unwrap_or("?");
        let detail = match status {
            "succeeded" => format!("uid {}", operation["result"]["uid"].as_str().unwrap_or("?")),
            _ => operation["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
        if status != "succeeded" {
            self.failures += 1;
        }
        say!("  {label:<52} -> {status:<9} {detail}");
        Ok(operation)
    }

    async fn expect_failure(
        &mut self,
        label: &str,
        request: Value,
        code: &str,
    ) -> anyhow::Result<()> {
        let operation = self.run(request).await?;
        let got = operation["error"]["code"].as_str().unwrap_or_default();
        say!(
            "  {label:<52} -> {:<9} {}",
            operation["status"].as_str().unwrap_or("?"),
            operation["error"]["message"].as_str().unwrap_or_default()
        );
        if operation["status"] != "failed" || got != code {
            self.failures += 1;
        }
        Ok(())
    }

    async fn run(&self, request: Value) -> anyhow::Result<Value> {
        let submitted: Value = self.post("/v1/targets/hr/operations", request).await?;
        let id = submitted["id"]
            .as_str()
            .context("the API returned no operation id")?
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let operation: Value = self.get(&format!("/v1/operations/{id}")).await?;
            if matches!(
                operation["status"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return Ok(operation);
            }
            if Instant::now() > deadline {
                bail!(
                    "operation {id} did not finish in 60 s (status {})",
                    operation["status"]
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        json_of(response).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await?;
        json_of(response).await
    }
}

async fn json_of(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the API answered without JSON")?;
    if !status.is_success() {
        bail!("the API answered {status}: {}", body["detail"]);
    }
    Ok(body)
}

//! `provisio demo`: a real host (SQLite store, engine, HTTP API) on a
//! loopback port with an HR source and two targets — a directory in CSV
//! files and an application's SQLite database, both bundled connectors.
//! Two HR exports are dropped in turn: joiners, then a mover, a leaver and
//! two people with the same name; the plans, an explained value and the
//! final state are printed, and the audit log checked.

use super::identities::print_plan;
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

/// The directory before the demo: a built-in administrator Provisio must
/// never touch (its `protected` filter says so).
const DIRECTORY_ACCOUNTS: &str = "\
id,userName,givenName,familyName,mail,department,title,active
0000,admin,Built-in,Administrator,admin@example.com,IT,Administrator,true
";
const DIRECTORY_GROUPS: &str = "\
id,name,members
everyone,Everyone,
engineering,Engineering,
research,Research,
";

/// The application's database: users, roles, and who has which.
const APP_SCHEMA: &str = "
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT,
    department TEXT,
    active BOOLEAN NOT NULL DEFAULT 1);
CREATE TABLE roles (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id),
    role_id INTEGER NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id));
INSERT INTO roles (name) VALUES ('developer'), ('analyst');
";

const HR_HEADER: &str = "employeeId,givenName,familyName,department,title,status\n";
/// The first HR export: three joiners.
const HR_DAY_ONE: &str = "\
1001,Ada,Lovelace,Engineering,Analyst,
1002,Grace,Hopper,Engineering,Rear Admiral,
1003,Alan,Turing,Research,Fellow,
";
/// The next: Grace moves to Research, Alan leaves, and two people named
/// Will Smith join.
const HR_DAY_TWO: &str = "\
1001,Ada,Lovelace,Engineering,Analyst,
1002,Grace,Hopper,Research,Director of Research,
1003,Alan,Turing,Research,Fellow,left
1004,Will,Smith,Engineering,Engineer,
1005,Will,Smith,Research,Analyst,
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

# The HR system drops its export, hr/people.csv, here: the authoritative
# record of who works here.
[targets.hr]
connector = "bundled:csv"
description = "the HR system's export"
[targets.hr.grants]
directory = "hr"
[targets.hr.config]
classes = "account"
"account.file" = "people.csv"
"account.key" = "employeeId"

[sources.hr]
target = "hr"
key = "employeeId"
required = ["givenName", "familyName"]
missing = "terminate"
max_leaver_share = 0.5
[sources.hr.mapping]
first = "{{{{ givenName }}}}"
last = "{{{{ familyName }}}}"
department = "{{{{ department }}}}"
title = "{{{{ title }}}}"
status = {{ expr = "'terminated' if status == 'left' else 'active'" }}

# A directory of accounts and groups (CSV files, the bundled connector).
[targets.directory]
connector = "bundled:csv"
description = "accounts and groups in CSV files"
on_delete = "disable"
protected = 'userName eq "admin"'
membership = {{ mode = "group-attribute", group_class = "group", attribute = "members" }}
[targets.directory.grants]
directory = "directory"
[targets.directory.config]
"account.key" = "id"
"account.name" = "userName"
"account.enable" = "active"
"group.key" = "id"
"group.name" = "name"
"group.references" = "members"
"group.multivalued" = "members"

[targets.directory.accounts]
default_role = "staff"
[targets.directory.accounts.attributes]
id = {{ expr = "id", create_only = true }}
__name__ = {{ unique = ["{{{{ (first ~ '.' ~ last) | normalize_diacritics | lower }}}}", "{{{{ (first ~ '.' ~ last) | normalize_diacritics | lower }}}}{{{{ n }}}}"] }}
mail = {{ unique = ["{{{{ (first ~ '.' ~ last) | normalize_diacritics | lower }}}}@example.com", "{{{{ (first ~ '.' ~ last) | normalize_diacritics | lower }}}}{{{{ n }}}}@example.com"], create_only = true }}
givenName = "{{{{ first }}}}"
familyName = "{{{{ last }}}}"
department = "{{{{ department }}}}"
title = "{{{{ title }}}}"

# Reconciliation: an account with no link whose id is an identity's is
# that identity's; drift is repaired, an account nobody owns disabled.
[targets.directory.reconciliation]
[[targets.directory.reconciliation.correlation]]
match = {{ id = "id" }}
[targets.directory.reconciliation.reactions]
drifted = "update"
unmatched = "disable"

# An application's SQLite database (the bundled SQL connector): only
# engineers and researchers have accounts there.
[targets.app]
connector = "bundled:sql"
description = "an application's SQLite database"
on_delete = "delete"
[targets.app.grants.sql.main]
url = "sqlite://app.db"
[targets.app.config]
classes = "account,group"
"account.table" = "users"
"account.name" = "username"
"account.enable" = "active"
"account.attribute.displayName" = "display_name"
"group.table" = "roles"
"group.name" = "name"
"group.key_generated" = "true"
"membership.table" = "user_roles"
"membership.account" = "user_id"
"membership.group" = "role_id"

[targets.app.accounts]
[targets.app.accounts.attributes]
id = {{ expr = "id", create_only = true }}
__name__ = {{ unique = ["{{{{ (last ~ first[0]) | normalize_diacritics | lower }}}}", "{{{{ (last ~ first[0]) | normalize_diacritics | lower }}}}{{{{ n }}}}"] }}
displayName = "{{{{ first }}}} {{{{ last }}}}"
department = "{{{{ department }}}}"

[roles.staff]
description = "everyone in the directory"
[roles.staff.targets.directory]
groups = ["everyone"]

[roles.engineering]
when = 'department == "Engineering"'
[roles.engineering.targets.directory]
groups = ["engineering"]
[roles.engineering.targets.app]
groups = ["developer"]

[roles.research]
when = 'department == "Research"'
[roles.research.targets.directory]
groups = ["research"]
[roles.research.targets.app]
groups = ["analyst"]
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
    for sub in ["hr", "directory"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
    }
    for (file, contents) in [
        ("directory/accounts.csv", DIRECTORY_ACCOUNTS),
        ("directory/groups.csv", DIRECTORY_GROUPS),
        ("hr/people.csv", HR_HEADER),
    ] {
        if !dir.join(file).exists() {
            std::fs::write(dir.join(file), contents)?;
        }
    }
    let app_db = dir.join("app.db");
    if !app_db.exists() {
        let db = rusqlite::Connection::open(&app_db)
            .with_context(|| format!("cannot create {}", app_db.display()))?;
        db.execute_batch(APP_SCHEMA)?;
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
        "  host on {base} (SQLite store provisio.db, started in {} ms)",
        started.elapsed().as_millis()
    );
    say!("  source hr: the HR export hr/people.csv (bundled CSV connector)");
    say!("  target directory: accounts and groups in directory/*.csv (bundled CSV connector)");
    say!("  target app: an application's SQLite database app.db (bundled SQL connector)");
    let demo = Demo {
        http: reqwest::Client::new(),
        base,
        failures: 0,
    };
    let result = demo.walk(&dir).await;
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

impl Demo {
    async fn walk(mut self, dir: &Path) -> anyhow::Result<usize> {
        say!("");
        say!("day one: HR exports three joiners");
        std::fs::write(
            dir.join("hr/people.csv"),
            format!("{HR_HEADER}{HR_DAY_ONE}"),
        )?;
        self.sync(&[("joiners", 3)]).await?;
        self.settle().await?;

        say!("");
        say!(
            "what Ada's directory account is, and why (GET /v1/identities/1001/plan?explain=true)"
        );
        let plan: Value = self.get("/v1/identities/1001/plan?explain=true").await?;
        print_plan(&only_target(&plan, "directory"), true);

        say!("");
        say!("day two: Grace moves to Research, Alan leaves, two people named Will Smith join");
        std::fs::write(
            dir.join("hr/people.csv"),
            format!("{HR_HEADER}{HR_DAY_TWO}"),
        )?;
        self.sync(&[
            ("joiners", 2),
            ("movers", 1),
            ("leavers", 1),
            // Read by sync: only the four rows that changed or came.
            ("read", 4),
        ])
        .await?;
        self.settle().await?;
        say!("");
        say!("a third Will Smith, planned but not submitted (PUT …?dry_run=true&explain=true)");
        let third: Value = self
            .put(
                "/v1/identities/1006?dry_run=true&explain=true",
                json!({"profile": {"first": "Will", "last": "Smith", "department": "Engineering"}}),
            )
            .await?;
        print_plan(&third["plan"], true);
        let chosen = third["plan"]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["target"] == "directory")
            .map(|t| t["operations"][0]["request"]["attributes"]["__name__"].clone());
        if chosen != Some(json!("will.smith3")) {
            say!("  unexpected: the third Will Smith would be {chosen:?}");
            self.failures += 1;
        }

        say!("");
        say!("safeguards");
        let linked: Value = self
            .post(
                "/v1/targets/directory/links",
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

        say!("");
        say!("reconciliation: someone edits the directory by hand");
        let accounts = dir.join("directory/accounts.csv");
        let edited = std::fs::read_to_string(&accounts)?.replace(
            "Engineering,Engineer,true",
            "Engineering,Chief Engineer,true",
        ) + "9999,temp.contractor,Temp,Contractor,,Sales,Contractor,true\n";
        std::fs::write(&accounts, edited)?;
        say!("  (Will Smith's title changed, and an account nobody asked for)");
        let planned = self
            .reconcile(
                json!({"dry_run": true}),
                "planned",
                &[
                    ("in-sync", 4),
                    ("drifted", 1),
                    ("unmatched", 1),
                    ("protected", 1),
                ],
            )
            .await?;
        let id = planned["id"].as_str().unwrap_or_default().to_owned();
        let items: Value = self
            .get(&format!("/v1/reconciliations/{id}/items?limit=100"))
            .await?;
        for item in items["items"].as_array().into_iter().flatten() {
            if item["situation"] == "in-sync" {
                continue;
            }
            say!(
                "    {:<10} {:<16} {} -> {}",
                item["situation"].as_str().unwrap_or("?"),
                item["name"].as_str().unwrap_or("?"),
                item["why"].as_str().unwrap_or(""),
                item["reaction"].as_str().unwrap_or("?")
            );
            for diff in item["diffs"].as_array().into_iter().flatten() {
                say!(
                    "               {}: {} (the policy map gives {})",
                    diff["attribute"].as_str().unwrap_or("?"),
                    diff["actual"],
                    diff["expected"]
                );
            }
        }
        say!("  apply exactly that plan (POST /v1/reconciliations/{{id}}/apply)");
        let started: Value = self
            .post(&format!("/v1/reconciliations/{id}/apply"), json!({}))
            .await?;
        let applied = self.wait_reconciliation(&started).await?;
        say!(
            "  {}: applied {}, stale {}, failed {}",
            applied["state"].as_str().unwrap_or("?"),
            applied["applied"]["applied"],
            applied["applied"]["stale"],
            applied["applied"]["failed"]
        );
        if applied["state"] != "succeeded" || applied["applied"]["applied"] != json!(2) {
            self.failures += 1;
        }
        self.settle().await?;

        let audit: Value = self.get("/v1/audit/verify").await?;
        say!("");
        say!(
            "audit log: {} rows, chain intact: {}",
            audit["rows"],
            audit["ok"]
        );
        if audit["ok"] != json!(true) {
            self.failures += 1;
        }
        say!("");
        say!("the final state");
        for file in ["directory/accounts.csv", "directory/groups.csv"] {
            say!("{}:", dir.join(file).display());
            for line in std::fs::read_to_string(dir.join(file))?.lines() {
                say!("  {line}");
            }
        }
        let db = rusqlite::Connection::open(dir.join("app.db"))?;
        say!("{} (users and their roles):", dir.join("app.db").display());
        let mut users = db.prepare(
            "SELECT u.id, u.username, u.display_name, u.department, u.active,
                    coalesce(group_concat(r.name, '|'), '')
             FROM users u LEFT JOIN user_roles ur ON ur.user_id = u.id
                          LEFT JOIN roles r ON r.id = ur.role_id
             GROUP BY u.id ORDER BY u.id",
        )?;
        let rows = users.query_map([], |row| {
            Ok(format!(
                "{},{},{},{},{},{}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                row.get::<_, bool>(4)?,
                row.get::<_, String>(5)?
            ))
        })?;
        say!("  id,username,display_name,department,active,roles");
        for row in rows {
            say!("  {}", row?);
        }
        say!("done: {} unexpected results", self.failures);
        Ok(self.failures)
    }

    /// Reconciles the directory, waits for it, prints its situations; a
    /// state or count other than expected is a failure.
    async fn reconcile(
        &mut self,
        body: Value,
        state: &str,
        expected: &[(&str, u64)],
    ) -> anyhow::Result<Value> {
        let started: Value = self
            .post("/v1/targets/directory/reconciliations", body)
            .await?;
        let run = self.wait_reconciliation(&started).await?;
        let counts: Vec<String> = run["situations"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(situation, n)| format!("{situation} {n}"))
            .collect();
        say!(
            "  provisio reconcile directory --dry-run -> {}: {} accounts: {}",
            run["state"].as_str().unwrap_or("?"),
            run["seen"],
            counts.join(", ")
        );
        if run["state"] != state {
            self.failures += 1;
        }
        for (situation, n) in expected {
            if run["situations"][situation] != json!(n) {
                say!(
                    "  unexpected: {situation} is {}, not {n}",
                    run["situations"][situation]
                );
                self.failures += 1;
            }
        }
        Ok(run)
    }

    async fn wait_reconciliation(&self, started: &Value) -> anyhow::Result<Value> {
        let id = started["id"]
            .as_str()
            .context("the API returned no reconciliation id")?
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run: Value = self.get(&format!("/v1/reconciliations/{id}")).await?;
            if !matches!(run["state"].as_str(), Some("running" | "applying")) {
                return Ok(run);
            }
            if Instant::now() > deadline {
                bail!("reconciliation {id} did not finish in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs the HR source, waits for it, prints its counts; each expected
    /// count that differs is a failure.
    async fn sync(&mut self, expected: &[(&str, u64)]) -> anyhow::Result<Value> {
        let started: Value = self.post("/v1/sources/hr/runs", json!({})).await?;
        let id = started["id"]
            .as_str()
            .context("the API returned no run id")?
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        let run = loop {
            let run: Value = self.get(&format!("/v1/sources/hr/runs/{id}")).await?;
            if run["state"] != "running" {
                break run;
            }
            if Instant::now() > deadline {
                bail!("source run {id} did not finish in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let counts = &run["counts"];
        let shown: Vec<String> = [
            "read",
            "joiners",
            "movers",
            "leavers",
            "unchanged",
            "rejected",
            "operations",
        ]
        .iter()
        .map(|name| format!("{name} {}", counts[name]))
        .collect();
        say!(
            "  provisio sync hr -> {} (read by {}): {}",
            run["state"].as_str().unwrap_or("?"),
            run["read_by"].as_str().unwrap_or("?"),
            shown.join(", ")
        );
        if run["state"] != "succeeded" {
            self.failures += 1;
        }
        for (name, want) in expected {
            if counts[*name].as_u64() != Some(*want) {
                say!("  unexpected: {name} is {}, not {want}", counts[*name]);
                self.failures += 1;
            }
        }
        let items: Value = self
            .get(&format!("/v1/sources/hr/runs/{id}/items?limit=100"))
            .await?;
        for item in items["items"].as_array().into_iter().flatten() {
            say!(
                "    {:<8} {} ({}): {} operations",
                item["change"].as_str().unwrap_or("?"),
                item["identity"].as_str().unwrap_or("?"),
                item["why"].as_str().unwrap_or(""),
                item["operations"]
            );
        }
        Ok(run)
    }

    /// Waits until no operation is open; each that did not succeed is a
    /// failure, printed.
    async fn settle(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let listed: Value = self.get("/v1/operations?limit=1000").await?;
            let operations = listed["operations"].as_array().cloned().unwrap_or_default();
            let open = operations
                .iter()
                .filter(|o| {
                    !matches!(
                        o["status"].as_str(),
                        Some("succeeded" | "failed" | "cancelled")
                    )
                })
                .count();
            if open == 0 {
                let mut succeeded = 0;
                for o in &operations {
                    if o["status"] == "succeeded" {
                        succeeded += 1;
                    } else if o["identity"] != "root" {
                        say!(
                            "  unexpected: {} {} on {} {}: {}",
                            o["kind"].as_str().unwrap_or("?"),
                            o["identity"].as_str().unwrap_or("?"),
                            o["target"].as_str().unwrap_or("?"),
                            o["status"].as_str().unwrap_or("?"),
                            o["error"]["message"].as_str().unwrap_or("")
                        );
                        self.failures += 1;
                    }
                }
                say!("  every operation ended: {succeeded} succeeded so far");
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{open} operations did not end in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
        let submitted: Value = self
            .post("/v1/targets/directory/operations", request)
            .await?;
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

    async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .put(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await?;
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

/// The plan with only the target `name`.
fn only_target(plan: &Value, name: &str) -> Value {
    let mut plan = plan.clone();
    if let Some(targets) = plan["targets"].as_array_mut() {
        targets.retain(|t| t["target"] == name);
    }
    plan
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

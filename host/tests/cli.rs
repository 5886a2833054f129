//! The `provisio` binary, run as an operator would.

use std::path::Path;
use std::process::{Command, Output};

fn provisio(args: &[&str]) -> Output {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-component-cache");
    Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(args)
        .env("PROVISIO_CACHE_DIR", cache)
        .output()
        .expect("run provisio")
}

fn stdout_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn inspect_describes_a_connector() {
    let out = provisio(&["plugin", "inspect", "bundled:csv", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let info = stdout_json(&out);
    assert_eq!(info["name"], "csv");
    assert_eq!(info["contract"], "provisio:connector@0.2.0");
    assert!(
        info["capabilities"]
            .as_array()
            .unwrap()
            .contains(&"sync".into())
    );
    let imports = info["imports"].as_array().unwrap();
    assert!(
        imports.contains(&"provisio:connector/log@0.2.0".into()),
        "{imports:?}"
    );
    assert_eq!(info["sha256"].as_str().unwrap().len(), 64);

    let text = provisio(&["plugin", "inspect", "bundled:csv"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("contract:     provisio:connector@0.2.0"),
        "{text}"
    );
}

#[test]
fn connector_inspect_and_its_older_spelling_agree() {
    let new = provisio(&["connector", "inspect", "bundled:csv", "--json"]);
    assert!(new.status.success(), "{}", stderr(&new));
    let old = provisio(&["plugin", "inspect", "bundled:csv", "--json"]);
    assert_eq!(stdout_json(&new), stdout_json(&old));
    // Inspecting reads a file: no host and no token are needed.
    let new = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["connector", "inspect", "bundled:csv"])
        .env_remove("PROVISIO_TOKEN")
        .output()
        .unwrap();
    assert!(new.status.success(), "{}", stderr(&new));
}

#[test]
fn inspect_refuses_what_is_not_a_connector() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.wasm");
    std::fs::write(&file, "just some text").unwrap();
    let out = provisio(&["plugin", "inspect", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a WebAssembly file"),
        "{}",
        stderr(&out)
    );

    let out = provisio(&["plugin", "inspect", "bundled:nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no bundled connector `nope` (bundled: csv, sql, scim, ldap, ad)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invoke_runs_operations_with_json_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let grants = [
        "--dir",
        d,
        "-c",
        "classes=account",
        "-c",
        "account.columns=id,userName,mail",
        "-c",
        "account.name=userName",
        "-c",
        "account.multivalued=mail",
    ];
    let run = |op: &[&str]| {
        let mut args = vec!["invoke", "bundled:csv"];
        args.extend_from_slice(&grants);
        args.extend_from_slice(op);
        provisio(&args)
    };

    let out = run(&[
        "create",
        "account",
        r#"{"id": "7", "userName": "ada", "mail": ["a@x.org", "b@x.org"]}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["uid"], "7");

    let out = run(&[
        "update",
        "account",
        "7",
        r#"[{"op": "remove", "name": "mail", "values": "a@x.org"}]"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["attributes"]["mail"], "b@x.org");

    let out = run(&[
        "search",
        "account",
        "--filter",
        r#"mail ew "x.org""#,
        "--all",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["objects"][0]["name"], "ada");

    let out = run(&["get", "account", "404"]);
    assert_eq!(out.status.code(), Some(1));
    let error = stdout_json(&out);
    assert_eq!(error["error"]["connector_error"]["code"], "not-found");
    assert_eq!(error["error"]["retryable"], false);

    let out = run(&["create", "account", "{not json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("attributes must be a JSON object"),
        "{}",
        stderr(&out)
    );

    let out = provisio(&["invoke", "bundled:csv", "--config", "novalue", "test"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--config expects KEY=VALUE"),
        "{}",
        stderr(&out)
    );
    // A grant flag that cannot work names the flag.
    for (args, expected) in [
        (
            &["--allow-http", "ftp://example.com"][..],
            "--allow-http (grants.http",
        ),
        (&["--sql", "main"][..], "--sql expects KEY=VALUE"),
        (&["--sql", "main=mysql://db/x"][..], "--sql (grants.sql"),
        (
            &["--ldap", "ldap://127.0.0.1:1", "--ldap-bind-dn", "cn=x"][..],
            "PROVISIO_LDAP_PASSWORD",
        ),
    ] {
        let mut full = vec!["invoke", "bundled:csv"];
        full.extend_from_slice(args);
        full.push("info");
        let out = provisio(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn demo_runs_a_host_through_joiners_a_mover_and_a_leaver() {
    let dir = tempfile::tempdir().unwrap();
    let out = provisio(&["demo", "--dir", dir.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("done: 0 unexpected results"), "{text}");
    assert!(text.contains("chain intact: true"), "{text}");
    assert!(
        text.contains("(read by sync): read 4, joiners 2, movers 1, leavers 1, unchanged 0"),
        "{text}"
    );
    assert!(
        text.contains(
            "dry-run -> planned: 7 accounts: in-sync 4, drifted 1, unmatched 1, protected 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("title: \"Chief Engineer\" (the policy map gives \"Engineer\")"),
        "{text}"
    );
    assert!(
        text.contains("succeeded: applied 2, stale 0, failed 0"),
        "{text}"
    );
    assert!(
        text.contains("candidate will.smith2: taken on the target by will.smith2"),
        "the third Will Smith's plan is explained: {text}"
    );
    assert!(
        text.contains("is protected on target directory: it matches `userName eq \"admin\"`"),
        "{text}"
    );
    let accounts = std::fs::read_to_string(dir.path().join("directory/accounts.csv")).unwrap();
    assert_eq!(accounts.lines().count(), 8, "{accounts}");
    for line in [
        "1002,grace.hopper,Grace,Hopper,grace.hopper@example.com,Research,Director of Research,true",
        "1003,alan.turing,Alan,Turing,alan.turing@example.com,Research,Fellow,false",
        "1004,will.smith,Will,Smith,will.smith@example.com,Engineering,Engineer,true",
        "1005,will.smith2,Will,Smith,will.smith2@example.com,Research,Analyst,true",
        "0000,admin,",
        // Added by hand, then disabled by reconciliation.
        "9999,temp.contractor,Temp,Contractor,,Sales,Contractor,false",
    ] {
        assert!(accounts.contains(line), "{line} not in {accounts}");
    }
    let groups = std::fs::read_to_string(dir.path().join("directory/groups.csv")).unwrap();
    // Movers are set several at once: members in any order.
    let members = |group: &str| {
        let line = groups
            .lines()
            .find(|l| l.starts_with(&format!("{group},")))
            .unwrap_or_else(|| panic!("no {group} in {groups}"));
        let mut members: Vec<&str> = line.rsplit(',').next().unwrap().split('|').collect();
        members.sort();
        members
    };
    assert_eq!(members("engineering"), ["1001", "1004"], "{groups}");
    assert_eq!(members("research"), ["1002", "1005"], "{groups}");
    assert_eq!(
        members("everyone"),
        ["1001", "1002", "1004", "1005"],
        "{groups}"
    );
    let db = rusqlite::Connection::open(dir.path().join("app.db")).unwrap();
    let users: Vec<String> = db
        .prepare("SELECT username FROM users ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        users,
        ["lovelacea", "hopperg", "smithw", "smithw2"],
        "Alan is deleted from the app"
    );

    // The store survives: verifying the audit log from the command line.
    let config = dir.path().join("provisio.toml");
    let out = provisio(&["audit", "verify", "--config", config.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("audit log verified: "), "{text}");

    // A connector tried by hand with a target's configuration and grants
    // (the application database through the bundled SQL connector).
    let config_arg = config.to_str().unwrap();
    let out = provisio(&[
        "invoke",
        "bundled:sql",
        "--target-config",
        config_arg,
        "--target",
        "app",
        "search",
        "account",
        "--page-size",
        "2",
        "--all",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    for user in ["lovelacea", "hopperg", "smithw", "smithw2"] {
        assert!(
            text.contains(&format!("\"{user}\"")),
            "{user} not in {text}"
        );
    }
    let out = provisio(&["invoke", "bundled:sql", "search", "account"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not grant")
            && stderr(&out).contains("--sql NAME=URL")
            && stderr(&out).contains("--target-config"),
        "{}",
        stderr(&out)
    );
    // The same database granted by a flag.
    let database = format!("main=sqlite://{}", dir.path().join("app.db").display());
    let out = provisio(&[
        "invoke",
        "bundled:sql",
        "--sql",
        &database,
        "-c",
        "account.table=users",
        "-c",
        "account.name=username",
        "search",
        "account",
        "--all",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("\"smithw2\""), "{text}");
    let out = provisio(&[
        "invoke",
        "bundled:sql",
        "--target-config",
        config_arg,
        "--target",
        "app",
        "--sql",
        &database,
        "info",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("do not go with --target-config"),
        "{}",
        stderr(&out)
    );
    let out = provisio(&[
        "invoke",
        "bundled:sql",
        "--target-config",
        config_arg,
        "--target",
        "nope",
        "info",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("has no target `nope`; its targets: app, directory, hr"),
        "{}",
        stderr(&out)
    );

    // The same host again, asked from the command line: the source
    // changes nothing now, and a plan explains itself.
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut host = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_provisio"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(host.0.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("provisio exited before serving")
            .unwrap();
        if let Some(rest) = line.split("on http://").nth(1) {
            break format!("http://{}", rest.split(' ').next().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_provisio"))
            .args(args)
            .env("PROVISIO_URL", &base)
            .env(
                "PROVISIO_TOKEN",
                "unused: the demo host has no authentication",
            )
            .output()
            .unwrap()
    };
    let synced = cli(&["sync", "hr", "--dry-run"]);
    let text = String::from_utf8_lossy(&synced.stdout);
    assert!(synced.status.success(), "{text}\n{}", stderr(&synced));
    assert!(
        text.contains("planned, read by sync (dry run: nothing changed)"),
        "{text}"
    );
    let read = text
        .lines()
        .find(|l| l.starts_with("read "))
        .unwrap_or_else(|| panic!("no read row in {text}"));
    assert!(
        read.ends_with(" 0"),
        "the file is as the last run left it: the sync reads nothing: {text}"
    );
    // Reconciling from the command line: what the demo repaired is in
    // sync; nothing is planned.
    let reconciled = cli(&["reconcile", "directory", "--dry-run"]);
    let text = String::from_utf8_lossy(&reconciled.stdout);
    assert!(
        reconciled.status.success(),
        "{text}\n{}",
        stderr(&reconciled)
    );
    assert!(
        text.contains("planned (dry run: nothing changed), 7 accounts"),
        "{text}"
    );
    let row = |situation: &str| {
        text.lines()
            .find(|l| l.starts_with(situation))
            .unwrap_or_else(|| panic!("no {situation} row in {text}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        row("in-sync"),
        "6",
        "the orphan disabled is linked now: {text}"
    );
    assert_eq!(row("drifted"), "0", "{text}");
    assert_eq!(row("protected"), "1", "{text}");
    let unknown = cli(&["reconcile", "nowhere"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no target"),
        "{}",
        stderr(&unknown)
    );
    let planned = cli(&["plan", "1005", "--explain"]);
    let text = String::from_utf8_lossy(&planned.stdout);
    assert!(planned.status.success(), "{text}\n{}", stderr(&planned));
    assert!(text.contains("directory: none"), "{text}");
    assert!(text.contains("__name__ = \"will.smith2\""), "{text}");
    let missing = cli(&["plan", "no-such-person"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn token_new_prints_a_token_and_its_hash() {
    let out = provisio(&["token", "new", "--name", "hr-feed", "--role", "provisioner"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let token = text.lines().nth(1).unwrap().trim();
    assert!(token.starts_with("pvo_") && token.len() > 40, "{text}");
    let hash = provisio_host::config::hash_token(token);
    assert!(text.contains(&format!("sha256 = \"{hash}\"")), "{text}");
    assert!(text.contains("role = \"provisioner\""), "{text}");
}

/// `provisio demo | head -1`: the reader leaves after a line; the command
/// ends quietly and successfully, as Unix tools do, with no panic.
#[test]
fn a_reader_that_leaves_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-component-cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["demo", "--dir", dir.path().to_str().unwrap()])
        .env("PROVISIO_CACHE_DIR", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("Provisio demo in"), "{first}");
    // The reader is gone; the demo has dozens of lines still to print.
    let out = child.wait_with_output().unwrap();
    let errors = stderr(&out);
    assert!(!errors.contains("panicked"), "{errors}");
    assert!(out.status.success(), "{:?}: {errors}", out.status);
}

/// An operator's day from the command line: operations listed (table and
/// `--json`), one approved with a reason, targets listed and tested, the
/// audit log read; all over a running host's API.
#[test]
fn operators_decide_and_read_from_the_command_line() {
    use provisio_host::config::hash_token;
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("hr")).unwrap();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-component-cache");
    let config = dir.path().join("provisio.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:0"
cache_dir = {cache:?}

[[tokens]]
name = "ops"
role = "operator"
sha256 = "{ops}"

[[tokens]]
name = "feed"
role = "provisioner"
sha256 = "{feed}"

[targets.hr]
connector = "bundled:csv"
approval = true
[targets.hr.grants]
directory = "hr"
[targets.hr.config]
"account.key" = "id"
"account.name" = "userName"
"account.columns" = "id,userName"
"group.columns" = "id,name,members"
"#,
            cache = cache.display().to_string(),
            ops = hash_token("ops-token"),
            feed = hash_token("feed-token"),
        ),
    )
    .unwrap();
    let mut host = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_provisio"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(host.0.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("provisio exited before serving")
            .unwrap();
        if let Some(rest) = line.split("on http://").nth(1) {
            break format!("http://{}", rest.split(' ').next().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_provisio"))
            .args(args)
            .env("PROVISIO_URL", &base)
            .env("PROVISIO_TOKEN", "ops-token")
            .output()
            .unwrap()
    };
    let submitted: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{base}/v1/targets/hr/operations"))
        .bearer_auth("feed-token")
        .json(&serde_json::json!({"kind": "create", "identity": "e1",
            "attributes": {"id": "1", "__name__": "ada"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = submitted["id"].as_str().unwrap().to_owned();

    let listed = cli(&["operations", "list", "--status", "pending-approval"]);
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&id) && table.contains("held by approval"),
        "{table}"
    );
    let json = stdout_json(&cli(&["operations", "list", "--json"]));
    assert_eq!(json["operations"][0]["id"], id.as_str());

    let approved = cli(&["operations", "approve", &id, "--reason", "ticket HR-7"]);
    assert!(approved.status.success(), "{}", stderr(&approved));
    let shown = loop {
        let shown = stdout_json(&cli(&["operations", "show", &id, "--json"]));
        if shown["status"] == "succeeded" {
            break shown;
        }
        assert!(
            ["queued", "running"].contains(&shown["status"].as_str().unwrap()),
            "{shown}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(shown["decided_by"], "ops");

    // An id cannot reach another route: a `/` stays inside the segment,
    // `.` and `..` are refused before anything is sent.
    let tricked = cli(&["operations", "approve", "../targets/hr/quarantine/lift#"]);
    assert!(!tricked.status.success());
    assert!(
        stderr(&tricked).contains("404 (unknown-operation)"),
        "{}",
        stderr(&tricked)
    );
    for dots in ["..", "."] {
        let refused = cli(&["operations", "show", dots]);
        assert!(!refused.status.success());
        assert!(
            stderr(&refused).contains("is not an operation id"),
            "{}",
            stderr(&refused)
        );
    }
    let refused = cli(&["targets", "test", ".."]);
    assert!(
        stderr(&refused).contains("is not a target name"),
        "{}",
        stderr(&refused)
    );

    let again = cli(&["operations", "approve", &id]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("409 (wrong-state)"),
        "{}",
        stderr(&again)
    );

    let tested = cli(&["targets", "test", "hr"]);
    assert!(tested.status.success(), "{}", stderr(&tested));
    let targets = cli(&["targets", "list"]);
    let text = String::from_utf8_lossy(&targets.stdout);
    assert!(
        text.contains("hr") && text.contains("csv@0.1.0") && text.contains(" ok "),
        "{text}"
    );

    let audit = stdout_json(&cli(&["audit", "list", "--operation", &id, "--json"]));
    let approval = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "approved")
        .expect("the approval is audited");
    assert_eq!(approval["detail"]["reason"], "ticket HR-7");

    // SIGHUP reloads the file: approval off; `provisio config reload`
    // then finds nothing left to change.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("approval = true\n", "")).unwrap();
    let hangup = Command::new("kill")
        .args(["-HUP", &host.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hangup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while stdout_json(&cli(&["targets", "show", "hr", "--json"]))["approval"] != false {
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let reloaded = cli(&["config", "reload"]);
    assert!(reloaded.status.success(), "{}", stderr(&reloaded));
    assert_eq!(
        String::from_utf8_lossy(&reloaded.stdout).trim(),
        "configuration reloaded; nothing changed"
    );
    let audit = stdout_json(&cli(&["audit", "list", "--json"]));
    let by_signal = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "config-reloaded" && e["actor"] == "signal")
        .expect("the SIGHUP reload is audited");
    assert_eq!(
        by_signal["detail"]["changed"],
        serde_json::json!(["targets.hr.approval"])
    );

    let no_token = Command::new(env!("CARGO_BIN_EXE_provisio"))
        .args(["targets", "list"])
        .env("PROVISIO_URL", &base)
        .env_remove("PROVISIO_TOKEN")
        .output()
        .unwrap();
    assert!(
        stderr(&no_token).contains("set PROVISIO_TOKEN"),
        "{}",
        stderr(&no_token)
    );
}

/// A host started by a test stops with it, also when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs cargo (the one building these tests) in `dir`, offline: every
/// crate the scaffold needs is one this workspace has already fetched.
fn cargo_build_release(dir: &Path) {
    cargo_in(dir, &["build", "--release", "--offline", "--quiet"]);
}

/// `cargo ARGS` in `dir` (offline, its own target directory), which must
/// succeed; its output.
fn cargo_in(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo {} in {}:\n{}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    output
}

fn failed_cases(report: &serde_json::Value) -> Vec<String> {
    report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `connector new` writes a crate that builds outside this repository with
/// plain `cargo build --release`, runs under `invoke` with its sample
/// target, passes the conformance suite as written; and the suite fails,
/// naming the cases, once bugs are planted in it.
#[test]
fn a_scaffolded_connector_builds_out_of_tree_conforms_and_planted_bugs_fail() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("acme-hr");
    let new = provisio(&[
        "connector",
        "new",
        "acme-hr",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(new.status.success(), "{}", stderr(&new));
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "rust-toolchain.toml",
        "src/lib.rs",
        "provisio.toml",
        "README.md",
    ] {
        assert!(dir.join(file).is_file(), "no {file}");
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("version = \"0.1\""), "{manifest}");
    assert!(manifest.contains("[workspace]"), "{manifest}");
    let again = provisio(&[
        "connector",
        "new",
        "acme-hr",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(!again.status.success(), "it does not write over a crate");
    assert!(
        stderr(&again).contains("is not empty"),
        "{}",
        stderr(&again)
    );
    let bad = provisio(&[
        "connector",
        "new",
        "Acme_HR",
        "--dir",
        root.path().join("x").to_str().unwrap(),
    ]);
    assert!(
        stderr(&bad).contains("lowercase letters"),
        "{}",
        stderr(&bad)
    );
    let tricky = provisio(&[
        "connector",
        "new",
        "../escape",
        "--dir",
        root.path().join("y").to_str().unwrap(),
    ]);
    assert!(
        stderr(&tricky).contains("lowercase letters"),
        "{}",
        stderr(&tricky)
    );
    let no_sdk = provisio(&[
        "connector",
        "new",
        "acme-x",
        "--dir",
        root.path().join("z").to_str().unwrap(),
        "--sdk-path",
        root.path().join("missing").to_str().unwrap(),
    ]);
    assert!(
        stderr(&no_sdk).contains("no Cargo.toml there"),
        "{}",
        stderr(&no_sdk)
    );
    assert!(
        !root.path().join("z").exists(),
        "nothing is written when the SDK is not there"
    );

    cargo_build_release(&dir);
    // Its unit tests run natively, the host faked by provisio_sdk::testing.
    let unit = cargo_in(
        &dir,
        &["test", "--target", "host-tuple", "--offline", "--quiet"],
    );
    assert!(
        String::from_utf8_lossy(&unit.stdout).contains("2 passed"),
        "{}",
        String::from_utf8_lossy(&unit.stdout)
    );
    let wasm = dir.join("target/wasm32-wasip2/release/acme_hr.wasm");
    assert!(wasm.is_file(), "no {}", wasm.display());
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("provisio.toml");
    let with_target = |args: &[&str]| -> Output {
        let mut all = vec![args[0], wasm.to_str().unwrap()];
        all.extend([
            "--target-config",
            config.to_str().unwrap(),
            "--target",
            "acme-hr",
        ]);
        all.extend(&args[1..]);
        provisio(&all)
    };

    let created = with_target(&[
        "invoke",
        "create",
        "account",
        r#"{"__name__": "ada", "mail": "ada@example.com"}"#,
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(stdout_json(&created)["name"], "ada");
    let found = with_target(&[
        "invoke",
        "search",
        "account",
        "--filter",
        r#"mail ew "@example.com""#,
        "--all",
    ]);
    assert_eq!(
        stdout_json(&found)["objects"][0]["name"],
        "ada",
        "{}",
        stderr(&found)
    );

    let certified = provisio(&[
        "connector",
        "test",
        wasm.to_str().unwrap(),
        "--target-config",
        config.to_str().unwrap(),
        "--target",
        "acme-hr",
        "--wrong-config",
        "max_objects=lots",
        "--format",
        "json",
    ]);
    let every = stdout_json(&certified);
    assert!(certified.status.success(), "{every:#}");
    // Without --class, every class the schema lists: the scaffold's one.
    assert_eq!(every["passed"], true, "{every:#}");
    assert_eq!(
        every["reports"].as_array().map(Vec::len),
        Some(1),
        "{every:#}"
    );
    let report = every["reports"][0].clone();
    assert_eq!(report["class"], "account");
    assert_eq!(failed_cases(&report), Vec::<String>::new());
    let misconfigured = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "test.fails-misconfigured")
        .expect("the case is reported");
    assert_eq!(misconfigured["outcome"], "pass", "{misconfigured}");
    assert_eq!(report["left_behind"], serde_json::json!([]));

    // Two bugs authors make: an unknown uid answered `failed`, and a page
    // cookie that starts the next page at the last object again.
    let source = dir.join("src/lib.rs");
    let code = std::fs::read_to_string(&source).unwrap();
    let buggy = code
        .replacen(
            ".object(uid, attributes)\n            .ok_or_else(|| Error::not_found(",
            ".object(uid, attributes)\n            .ok_or_else(|| Error::failed(",
            1,
        )
        .replacen(
            "uid.as_str() > after.as_str()",
            "uid.as_str() >= after.as_str()",
            1,
        );
    assert_ne!(buggy, code);
    std::fs::write(&source, buggy).unwrap();
    cargo_build_release(&dir);
    let certified = provisio(&[
        "connector",
        "test",
        wasm.to_str().unwrap(),
        "--target-config",
        config.to_str().unwrap(),
        "--target",
        "acme-hr",
    ]);
    assert_eq!(certified.status.code(), Some(1));
    let text = String::from_utf8_lossy(&certified.stdout);
    for case in [
        "FAIL  get.unknown-is-not-found",
        "FAIL  search.pages-every-object-once.size-1",
        "FAIL  search.pages-every-object-once.size-7",
        "pass  search.pages-every-object-once.size-100",
        "pass  filter.eq",
    ] {
        assert!(text.contains(case), "no `{case}` in:\n{text}");
    }
    assert!(text.contains("expected: "), "{text}");
    assert!(text.contains("classes: account FAILED"), "{text}");
}

/// `connector test --record` keeps the run (the granted directory as it
/// started, the clock, the suite's prefix); `--replay` gives the same
/// report from the recording, whatever the directory holds now.
#[test]
fn a_recorded_suite_replays_to_the_same_report() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("seed.txt"), "kept").unwrap();
    let recording = tempfile::tempdir().unwrap();
    let rec = recording.path().join("csv");
    let d = data.path().to_str().unwrap();
    let certify = |mode: &str, dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "connector",
            "test",
            "bundled:csv",
            "--dir",
            d,
            "-c",
            "classes=account",
            "-c",
            "account.columns=id,mail,title,phones,enabled",
            "-c",
            "account.multivalued=phones",
            "-c",
            "account.enable=enabled",
            mode,
            dir.to_str().unwrap(),
            "--class",
            "account",
            "--format",
            "json",
        ];
        args.extend(extra);
        provisio(&args)
    };
    let recorded = certify(
        "--record",
        &rec,
        &[
            "--wrong-config",
            "account.enable=no_such_column",
            "--value",
            "title=Contractor",
        ],
    );
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    let recorded = stdout_json(&recorded);
    let misconfigured = recorded["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "test.fails-misconfigured")
        .expect("the case is reported");
    assert_eq!(misconfigured["outcome"], "pass", "{misconfigured}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["suite"]["prefix"], recorded["prefix"]);
    assert_eq!(
        manifest["suite"]["wrong_config"],
        serde_json::json!(["account.enable=no_such_column"])
    );
    // The value given is written on every object, said in the report, and
    // kept for the replay.
    assert_eq!(recorded["fixed"], serde_json::json!(["title"]));
    assert_eq!(
        manifest["suite"]["values"],
        serde_json::json!([["title", "Contractor"]])
    );
    assert_eq!(
        std::fs::read_to_string(rec.join("files/seed.txt")).unwrap(),
        "kept"
    );

    // What the directory holds now does not matter: the replay gets the
    // recording's copy, and the recording is left as it was.
    std::fs::remove_file(data.path().join("seed.txt")).unwrap();
    std::fs::write(data.path().join("account.csv"), "id,mail\nx,y\n").unwrap();
    // The wrong configuration comes from the recording too.
    let replayed = certify("--replay", &rec, &[]);
    assert!(replayed.status.success(), "{}", stderr(&replayed));
    assert_eq!(stdout_json(&replayed), recorded);
    assert!(!rec.join("files/account.csv").exists());

    // A --wrong-config that is not KEY=VALUE is refused, naming it, before
    // anything runs or is recorded.
    let bad_flag = recording.path().join("bad-flag");
    let refused = certify("--record", &bad_flag, &["--wrong-config", "account.enable"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--wrong-config \"account.enable\": expected KEY=VALUE"),
        "{}",
        stderr(&refused)
    );
    let bad_value = recording.path().join("bad-value");
    let refused = certify("--record", &bad_value, &["--value", "title"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("expected NAME=VALUE"),
        "{}",
        stderr(&refused)
    );
    assert!(!bad_value.exists(), "nothing recorded");
    let missing = certify("--replay", &recording.path().join("absent"), &[]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("exchanges.jsonl"),
        "{}",
        stderr(&missing)
    );
}

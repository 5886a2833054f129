//! Connector versions through the real host: upload, the checks before a
//! version may serve, hot swaps under load (CSV files and a real slapd),
//! rollback, and restarts.

use provisio_tests::fixtures;
use provisio_tests::host::{CSV_CONFIG, OPERATOR, TestHost, csv_account};
use provisio_tests::slapd::Slapd;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const PEOPLE: &str = "ou=people,dc=example,dc=com";

fn csv_target(name: &str, connector: &str) -> String {
    format!(
        "[targets.{name}]\nconnector = {connector:?}\nconcurrency = 4\n[targets.{name}.grants]\ndirectory = \"{{dir}}/{name}\"\n[targets.{name}.config]\n{CSV_CONFIG}\n"
    )
}

async fn csv_host(connector: &str) -> TestHost {
    TestHost::start(&csv_target("hr", connector), "", &["hr"]).await
}

/// Uploads a fixture; returns its sha256.
async fn upload(host: &TestHost, path: &str) -> String {
    let reply = host.upload(path).await;
    assert!(
        reply.status == 201 || reply.status == 200,
        "{:?}",
        reply.body
    );
    reply.body["sha256"].as_str().unwrap().to_owned()
}

async fn activate(host: &TestHost, version: &str, force: bool) -> Value {
    let reply = host
        .post(
            "/v1/targets/hr/activate",
            json!({"version": version, "force": force}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

async fn rollback(host: &TestHost) -> Value {
    let reply = host.post("/v1/targets/hr/rollback", json!({})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

async fn status(host: &TestHost) -> Value {
    target_status(host, "hr").await
}

async fn target_status(host: &TestHost, target: &str) -> Value {
    let reply = host.get(&format!("/v1/targets/{target}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

/// Runs one create and returns the connector that ran it.
async fn served_by(host: &TestHost, n: u32) -> String {
    let op = host
        .run(
            "hr",
            csv_account(&format!("probe{n}"), &format!("p{n}"), &format!("probe{n}")),
        )
        .await;
    assert_eq!(op["status"], "succeeded", "{op}");
    op["connector"].as_str().unwrap().to_owned()
}

fn refused(reply: &provisio_tests::host::Reply, status: u16, code: &str, words: &[&str]) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap();
    for word in words {
        assert!(detail.contains(word), "{detail:?} lacks {word:?}");
    }
}

/// Four clients submit creates without pause into `target` while its
/// version is switched 20 times (one activation of `next`, then 19
/// rollbacks); returns the operations' ids once every one is final, after
/// checking that each succeeded at its first attempt on one of the two
/// versions, that both served, that the audit log's calls name the version
/// the record names, and that the replaced version drained and freed its
/// instances.
async fn swap_twenty_times_under_load(
    host: Arc<TestHost>,
    target: &'static str,
    next_file: &str,
    create: fn(&str) -> Value,
) -> Vec<String> {
    let next = upload(&host, next_file).await;
    let first = target_status(&host, target).await;
    let bundled = first["sha256"].as_str().unwrap().to_owned();
    let labels = [
        first["connector"].as_str().unwrap().to_owned(),
        format!(
            "{}@0.9.0",
            first["connector"]
                .as_str()
                .unwrap()
                .split('@')
                .next()
                .unwrap()
        ),
    ];

    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..4u32 {
        let (host, stop) = (host.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) || n < 10 {
                let key = format!("c{client}n{n}");
                ids.push(host.submit(target, create(&key)).await);
                n += 1;
            }
            ids
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let path = |verb: &str| format!("/v1/targets/{target}/{verb}");
    let mut reports = Vec::new();
    for i in 0..20 {
        let reply = if i == 0 {
            host.post(&path("activate"), json!({"version": next})).await
        } else {
            tokio::time::sleep(Duration::from_millis(25)).await;
            host.post(&path("rollback"), json!({})).await
        };
        assert_eq!(reply.status, 200, "switch {i}: {:?}", reply.body);
        reports.push(reply.body);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    let mut ids = Vec::new();
    for client in clients {
        ids.extend(client.await.unwrap());
    }

    // Each switch went from the one version to the other.
    for (i, report) in reports.iter().enumerate() {
        let (from, to) = if i % 2 == 0 {
            (&bundled, &next)
        } else {
            (&next, &bundled)
        };
        assert_eq!(report["from_sha256"], from.as_str(), "switch {i}: {report}");
        assert_eq!(report["to_sha256"], to.as_str(), "switch {i}: {report}");
    }

    // Every operation succeeded, once, on one of the two versions.
    let mut by_version = BTreeMap::<String, usize>::new();
    for (i, id) in ids.iter().enumerate() {
        let op = host.wait(id).await;
        assert_eq!(op["status"], "succeeded", "{op}");
        assert_eq!(op["attempts"], 1, "{op}");
        let connector = op["connector"].as_str().unwrap().to_owned();
        assert!(labels.contains(&connector), "{op}");
        // The calls in the audit log name the version the record names.
        if i % 25 == 0 {
            let calls: Vec<Value> = host
                .audit_of(id)
                .await
                .into_iter()
                .filter(|e| e["event"] == "call")
                .collect();
            assert!(!calls.is_empty());
            for call in calls {
                assert_eq!(call["detail"]["connector"], connector.as_str(), "{call}");
            }
        }
        *by_version.entry(connector).or_default() += 1;
    }
    assert_eq!(by_version.len(), 2, "both versions served: {by_version:?}");

    // Even switches went to 0.9.0, odd ones back: the 20th ends on the
    // first version, and 0.9.0, replaced, drained and freed its instances.
    // (Draining finishes just after an attempt's record: allow it a moment.)
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let after = loop {
        let after = target_status(&host, target).await;
        let versions = after["versions"].as_array().unwrap();
        let previous = versions
            .iter()
            .find(|v| v["role"] == "previous")
            .expect("the replaced version stays for rollback");
        let drained = previous["in_flight"] == 0
            && previous["idle_instances"] == 0
            && versions.iter().all(|v| v["role"] != "draining");
        if drained || std::time::Instant::now() > deadline {
            break after;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(after["sha256"], bundled.as_str(), "{after}");
    let versions = after["versions"].as_array().unwrap();
    let previous = versions.iter().find(|v| v["role"] == "previous").unwrap();
    assert_eq!(previous["sha256"], next.as_str());
    assert_eq!(previous["in_flight"], 0, "{after}");
    assert_eq!(previous["idle_instances"], 0, "drained and freed: {after}");
    assert!(versions.iter().all(|v| v["role"] != "draining"), "{after}");

    // Every switch is in the audit log.
    // (The clients' operations add four rows each: read every page.)
    let switches = host
        .audit_of_target(target)
        .await
        .iter()
        .filter(|e| {
            matches!(
                e["event"].as_str(),
                Some("connector-activated" | "connector-rolled-back")
            ) && e["actor"] == "ops"
        })
        .count();
    assert_eq!(switches, 20);
    // (One recorder serves every host of this test binary: the count may
    // include other tests' switches.)
    let metrics = host.get("/metrics").await;
    let text = metrics.body.as_str().unwrap_or_default();
    let series = format!("provisio_connector_switches_total{{target=\"{target}\"}} ");
    let counted: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {text}"));
    assert!(counted >= 20, "{counted}");
    for label in &labels {
        for series in [
            "provisio_connector_calls_total",
            "provisio_connector_in_flight",
        ] {
            let series = format!("{series}{{target=\"{target}\",connector=\"{label}\"}}");
            assert!(text.contains(&series), "no {series} in {text}");
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_csv_swaps_under_load_lose_and_fail_nothing() {
    let host = Arc::new(csv_host("bundled:csv").await);
    let ids = swap_twenty_times_under_load(host.clone(), "hr", fixtures::CSV_NEXT, |key| {
        csv_account(key, key, key)
    })
    .await;
    let rows = std::fs::read_to_string(host.path("hr/accounts.csv")).unwrap();
    let keys: Vec<&str> = rows
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(keys.len(), ids.len(), "one row per operation");
    assert_eq!(unique.len(), ids.len(), "no account twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_ldap_swaps_under_load_lose_and_fail_nothing() {
    let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
    slapd.admin(
        "ldapadd",
        &[],
        &format!("dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"),
    );
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("bind.pw");
    std::fs::write(&password_file, &slapd.bind_password).unwrap();
    let targets = format!(
        "[targets.dir]\nconnector = \"bundled:ldap\"\nconcurrency = 4\n\
         [targets.dir.grants.ldap]\nurls = [{url:?}]\nbind_dn = {dn:?}\npassword = {{ file = {pw:?} }}\nallow_plaintext_bind = true\n\
         [targets.dir.config]\nurl = {url:?}\nbase_dn = {base:?}\n\"account.base\" = {PEOPLE:?}\n",
        url = slapd.url,
        dn = slapd.bind_dn,
        pw = password_file.display().to_string(),
        base = slapd.base,
    );
    let host = Arc::new(TestHost::start(&targets, "", &[]).await);
    let ids = swap_twenty_times_under_load(host, "dir", fixtures::LDAP_NEXT, |key| {
        json!({"kind": "create", "identity": key,
               "attributes": {"__name__": key, "sn": key, "cn": key}})
    })
    .await;
    let entries = slapd.admin(
        "ldapsearch",
        &[
            "-LLL",
            "-b",
            PEOPLE,
            "-s",
            "one",
            "(objectClass=inetOrgPerson)",
            "uid",
        ],
        "",
    );
    let uids: Vec<&str> = entries
        .lines()
        .filter_map(|line| line.strip_prefix("uid: "))
        .collect();
    let unique: BTreeSet<&str> = uids.iter().copied().collect();
    assert_eq!(uids.len(), ids.len(), "one entry per operation");
    assert_eq!(unique.len(), ids.len(), "no account twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_versions_are_refused_and_the_active_one_keeps_serving() {
    let host = csv_host("bundled:csv").await;
    let mut probes = 0;

    // Not a connector this host can load at all: refused at upload.
    let future = host.upload(fixtures::FUTURE_CONTRACT).await;
    refused(
        &future,
        422,
        "invalid-connector",
        &[
            "built against provisio:connector@0.9.0",
            "this host supports provisio:connector@0.1.x, 0.2.x",
        ],
    );
    let empty = host
        .request(Method::POST, "/v1/connectors", Some(OPERATOR), None)
        .await;
    assert_eq!(empty.status, 400, "{:?}", empty.body);

    // Loadable, but refused for this target.
    let broken = upload(&host, fixtures::CSV_TEST_FAILS).await;
    let reply = host
        .post("/v1/targets/hr/activate", json!({"version": broken}))
        .await;
    refused(
        &reply,
        422,
        "test-failed",
        &["csv@1.0.0", "failed its test", "unreachable"],
    );
    probes += 1;
    assert_eq!(served_by(&host, probes).await, "csv@0.1.0");

    let ldap = upload(&host, fixtures::CSV_WANTS_LDAP).await;
    let reply = host
        .post("/v1/targets/hr/activate", json!({"version": ldap}))
        .await;
    refused(
        &reply,
        422,
        "not-granted",
        &["provisio:ldap/client", "grants"],
    );
    probes += 1;
    assert_eq!(served_by(&host, probes).await, "csv@0.1.0");

    let flaky = upload(&host, fixtures::FLAKY).await;
    let reply = host
        .post("/v1/targets/hr/activate", json!({"version": flaky}))
        .await;
    refused(
        &reply,
        422,
        "wrong-connector",
        &["runs connector `csv`", "flaky@"],
    );

    let reply = host
        .post("/v1/targets/hr/activate", json!({"version": "7.7.7"}))
        .await;
    refused(&reply, 404, "unknown-version", &["7.7.7"]);
    let reply = host.post("/v1/targets/hr/rollback", json!({})).await;
    refused(&reply, 409, "refused", &["no previous version"]);

    // A lower semver needs force.
    let next = upload(&host, fixtures::CSV_NEXT).await;
    activate(&host, "0.9.0", false).await;
    probes += 1;
    assert_eq!(served_by(&host, probes).await, "csv@0.9.0");
    let reply = host
        .post("/v1/targets/hr/activate", json!({"version": "csv@0.1.0"}))
        .await;
    refused(
        &reply,
        422,
        "downgrade",
        &["csv@0.1.0 is lower than the active csv@0.9.0"],
    );
    let reply = host
        .post("/v1/targets/hr/activate", json!({"version": next}))
        .await;
    refused(&reply, 409, "refused", &["already active"]);
    probes += 1;
    assert_eq!(served_by(&host, probes).await, "csv@0.9.0");
    let forced = activate(&host, "csv@0.1.0", true).await;
    assert_eq!(forced["to"], "csv@0.1.0");
    probes += 1;
    assert_eq!(served_by(&host, probes).await, "csv@0.1.0");

    // Only operators switch versions.
    let reply = host.submit_raw("/v1/targets/hr/rollback", json!({})).await;
    assert_eq!(reply.status, 403, "{:?}", reply.body);

    // Every version uploaded is listed, with who added it.
    let list = host.get("/v1/connectors").await;
    let labels: BTreeSet<String> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{}@{} {}",
                v["name"].as_str().unwrap(),
                v["version"].as_str().unwrap(),
                v["added_by"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "csv@0.9.0 ops",
        "csv@1.0.0 ops",
        "csv@1.1.0 ops",
        "csv@0.1.0 config",
    ] {
        assert!(labels.contains(expected), "{labels:?} lacks {expected}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_come_back_on_the_active_version() {
    let mut host = csv_host("bundled:csv").await;
    let next = upload(&host, fixtures::CSV_NEXT).await;
    activate(&host, &next, false).await;
    assert_eq!(served_by(&host, 1).await, "csv@0.9.0");

    host.restart().await;
    let after = status(&host).await;
    assert_eq!(after["connector"], "csv@0.9.0", "{after}");
    assert_eq!(served_by(&host, 2).await, "csv@0.9.0");

    // Rollback after a restart loads the previous version from the registry.
    let back = rollback(&host).await;
    assert_eq!(back["to"], "csv@0.1.0");
    assert_eq!(served_by(&host, 3).await, "csv@0.1.0");
    host.restart().await;
    assert_eq!(status(&host).await["connector"], "csv@0.1.0");
    assert_eq!(served_by(&host, 4).await, "csv@0.1.0");

    // The registry's files are content-addressed: an altered one is
    // refused rather than run, and the active version keeps serving.
    let file = host.path(&format!("provisio-connectors/{next}.wasm"));
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0xff;
    std::fs::write(&file, &bad).unwrap();
    let reply = host.post("/v1/targets/hr/rollback", json!({})).await;
    refused(&reply, 503, "registry-unavailable", &["was altered"]);
    assert_eq!(served_by(&host, 5).await, "csv@0.1.0");
    std::fs::write(&file, &good).unwrap();
    assert_eq!(rollback(&host).await["to"], "csv@0.9.0");

    // Editing the configuration's connector is a deploy of its own, which
    // a restart keeps.
    rollback(&host).await;
    host.set_targets(&csv_target("hr", fixtures::CSV_NEXT));
    host.restart().await;
    let deployed = status(&host).await;
    assert_eq!(deployed["connector"], "csv@0.9.0", "{deployed}");
    assert_eq!(served_by(&host, 6).await, "csv@0.9.0");
    host.restart().await;
    assert_eq!(status(&host).await["connector"], "csv@0.9.0");
    let by_config = host
        .audit_of_target("hr")
        .await
        .iter()
        .filter(|e| e["event"] == "connector-activated" && e["actor"] == "config")
        .count();
    assert_eq!(by_config, 2, "the first start and the edit");
}

fn tally_target(name: &str, connector: &str) -> String {
    format!(
        "[targets.{name}]\nconnector = {connector:?}\n[targets.{name}.grants]\ndirectory = \"{{dir}}/{name}\"\n"
    )
}

async fn count(host: &TestHost, target: &str, query: &str) -> (u64, String) {
    let reply = host
        .get(&format!("/v1/targets/{target}/count{query}"))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    (
        reply.body["count"].as_u64().unwrap(),
        reply.body["counted_by"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_0_1_and_0_2_serve_side_by_side() {
    // The same connector built against each contract, on two targets.
    let host = TestHost::start(
        &format!(
            "{}\n{}",
            tally_target("old", fixtures::CONTRACT_0_1),
            tally_target("new", fixtures::CONTRACT_0_2)
        ),
        "",
        &["old", "new"],
    )
    .await;
    let old = target_status(&host, "old").await;
    assert_eq!(old["contract"], "provisio:connector@0.1.0", "{old}");
    assert_eq!(old["connector"], "tally@1.0.0");
    let new = target_status(&host, "new").await;
    assert_eq!(new["contract"], "provisio:connector@0.2.0", "{new}");
    assert!(
        new["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("count")),
        "{new}"
    );
    assert!(
        !old["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("count")),
        "{old}"
    );

    for target in ["old", "new"] {
        for name in ["ann", "abe", "bob"] {
            let op = host
                .run(
                    target,
                    json!({"kind": "create", "identity": name, "attributes": {"__name__": name}}),
                )
                .await;
            assert_eq!(op["status"], "succeeded", "{op}");
        }
        assert_eq!(
            std::fs::read_dir(host.path(&format!("{target}/account")))
                .unwrap()
                .count(),
            3
        );
    }

    // The 0.2.0 build counts by itself; for the 0.1.0 one the host pages
    // through its search. Same answers.
    assert_eq!(count(&host, "new", "").await, (3, "connector".into()));
    assert_eq!(count(&host, "old", "").await, (3, "search".into()));
    let abe_and_ann = "?filter=name%20sw%20%22a%22";
    assert_eq!(
        count(&host, "new", abe_and_ann).await,
        (2, "connector".into())
    );
    assert_eq!(count(&host, "old", abe_and_ann).await, (2, "search".into()));
    // An empty or malformed filter is the caller's mistake, refused before
    // the connector is asked, as /objects refuses it.
    // Nested past the parser's depth bound (64): refused, not recursed into.
    let deep = format!("{}name%20pr{}", "not%20(".repeat(200), ")".repeat(200));
    for malformed in [
        "",
        "%20%20",
        "department%20eq",
        "(name%20eq%20%22a%22",
        &deep,
    ] {
        let refused = host
            .get(&format!("/v1/targets/new/count?filter={malformed}"))
            .await;
        assert_eq!(refused.status, 400, "{malformed}: {:?}", refused.body);
        assert_eq!(refused.body["field"], "filter", "{:?}", refused.body);
    }
    let bad = host.get("/v1/targets/new/count?filter=x%20pr").await;
    assert_eq!(bad.status, 502, "{:?}", bad.body);
    assert!(
        bad.body["detail"]
            .as_str()
            .unwrap()
            .contains("filters are understood"),
        "{:?}",
        bad.body
    );

    // A switch may cross contract versions: the 0.1.0 target moves to the
    // 0.2.0 build, counts natively, and rolls back.
    let sha = upload(&host, fixtures::CONTRACT_0_2).await;
    let reply = host
        .post("/v1/targets/old/activate", json!({"version": sha}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let moved = target_status(&host, "old").await;
    assert_eq!(moved["contract"], "provisio:connector@0.2.0", "{moved}");
    assert_eq!(count(&host, "old", "").await, (3, "connector".into()));
    let reply = host.post("/v1/targets/old/rollback", json!({})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(count(&host, "old", "").await, (3, "search".into()));

    // The bundled connectors are built with the SDK, on the newest contract.
    let csv = csv_host("bundled:csv").await;
    let hr = status(&csv).await;
    assert_eq!(hr["contract"], "provisio:connector@0.2.0", "{hr}");
    for name in ["ann", "bob"] {
        let op = csv.run("hr", csv_account(name, name, name)).await;
        assert_eq!(op["status"], "succeeded", "{op}");
    }
    assert_eq!(count(&csv, "hr", "").await, (2, "connector".into()));
    assert_eq!(
        count(&csv, "hr", "?filter=userName%20eq%20%22bob%22").await,
        (1, "connector".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_takes_its_share_then_is_stopped_or_promoted() {
    let host = csv_host("bundled:csv").await;
    let next = upload(&host, fixtures::CSV_NEXT).await;
    let canary = |body: Value| {
        let host = &host;
        async move { host.post("/v1/targets/hr/canary", body).await }
    };

    let reply = canary(json!({"version": next, "share": 1.5})).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "share");
    let broken = upload(&host, fixtures::CSV_TEST_FAILS).await;
    let reply = canary(json!({"version": broken, "share": 0.5})).await;
    refused(&reply, 422, "test-failed", &["csv@1.0.0"]);

    // Half the operations go to the canary.
    let reply = canary(json!({"version": next, "share": 0.5})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["connector"], "csv@0.9.0");
    let mut by_version = BTreeMap::<String, usize>::new();
    for n in 0..40 {
        *by_version.entry(served_by(&host, n).await).or_default() += 1;
    }
    assert_eq!(by_version.len(), 2, "{by_version:?}");
    let during = status(&host).await;
    assert_eq!(during["connector"], "csv@0.1.0", "{during}");
    assert_eq!(during["canary"]["share"], 0.5, "{during}");
    let versions = during["versions"].as_array().unwrap();
    let on_canary = versions.iter().find(|v| v["role"] == "canary").unwrap();
    assert_eq!(
        on_canary["calls"], by_version["csv@0.9.0"] as u64,
        "{during}"
    );
    assert_eq!(on_canary["error_rate"], 0.0);

    // Stopped: everything goes to the active version again.
    let reply = host.delete("/v1/targets/hr/canary").await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    for n in 40..50 {
        assert_eq!(served_by(&host, n).await, "csv@0.1.0");
    }
    assert!(status(&host).await["canary"].is_null());
    let reply = host.delete("/v1/targets/hr/canary").await;
    refused(&reply, 409, "refused", &["no canary"]);

    // Reads only: the canary counts, the operations stay on 0.1.0.
    let reply = canary(json!({"version": "0.9.0", "share": 1.0, "reads_only": true})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let counted = host.get("/v1/targets/hr/count").await;
    assert_eq!(counted.body["connector"], "csv@0.9.0", "{:?}", counted.body);
    assert_eq!(counted.body["count"], 50);
    assert_eq!(served_by(&host, 50).await, "csv@0.1.0");

    // Promoted: the canary becomes the active version as it is.
    let promoted = activate(&host, "0.9.0", false).await;
    assert_eq!(promoted["to"], "csv@0.9.0");
    let after = status(&host).await;
    assert!(after["canary"].is_null(), "{after}");
    assert_eq!(served_by(&host, 51).await, "csv@0.9.0");
    let events: Vec<String> = host
        .audit_of_target("hr")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .filter(|e| e.starts_with("canary"))
        .collect();
    assert_eq!(
        events,
        [
            "canary-started",
            "canary-stopped",
            "canary-started",
            "canary-promoted"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_dropped_in_the_watched_directory_is_activated_or_refused() {
    let host = TestHost::start(
        &csv_target("hr", "bundled:csv"),
        "watch_dir = \"watch\"\nwatch_interval = \"100ms\"",
        &["hr", "watch/hr"],
    )
    .await;
    let incoming = host.path("watch/hr");
    let wait_for = |path: std::path::PathBuf| async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !path.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} never appeared",
                path.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    std::fs::copy(fixtures::CSV_NEXT, incoming.join("next.wasm")).unwrap();
    wait_for(incoming.join("activated/next.wasm")).await;
    assert!(!incoming.join("next.wasm").exists());
    assert_eq!(status(&host).await["connector"], "csv@0.9.0");
    assert_eq!(served_by(&host, 1).await, "csv@0.9.0");

    std::fs::copy(fixtures::CSV_TEST_FAILS, incoming.join("broken.wasm")).unwrap();
    wait_for(incoming.join("refused/broken.wasm.reason")).await;
    let reason = std::fs::read_to_string(incoming.join("refused/broken.wasm.reason")).unwrap();
    assert!(reason.contains("csv@1.0.0 failed its test"), "{reason}");
    assert!(incoming.join("refused/broken.wasm").exists());
    assert_eq!(
        served_by(&host, 2).await,
        "csv@0.9.0",
        "the active version keeps serving"
    );

    let audit = host.audit_of_target("hr").await;
    assert!(
        audit
            .iter()
            .any(|e| e["event"] == "connector-activated" && e["actor"] == "watch"),
        "{audit:?}"
    );
}

async fn remove_version(host: &TestHost, version: &str) -> provisio_tests::host::Reply {
    host.delete(&format!("/v1/connectors/{version}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_no_target_needs_are_removed_and_others_refused() {
    let mut host = csv_host("bundled:csv").await;
    let bundled = status(&host).await["sha256"].as_str().unwrap().to_owned();
    let next = upload(&host, fixtures::CSV_NEXT).await;
    let broken = upload(&host, fixtures::CSV_TEST_FAILS).await;

    // A bare semver could be any connector's: removal wants more.
    refused(
        &remove_version(&host, "0.9.0").await,
        400,
        "invalid-request",
        &["name@version"],
    );
    refused(
        &remove_version(&host, "csv@7.7.7").await,
        404,
        "unknown-version",
        &["csv@7.7.7"],
    );
    let as_provisioner = host
        .request(
            Method::DELETE,
            &format!("/v1/connectors/{broken}"),
            Some(provisio_tests::host::PROVISIONER),
            None,
        )
        .await;
    assert_eq!(as_provisioner.status, 403, "{:?}", as_provisioner.body);

    // Every role a version can have on a target keeps it.
    let reply = host
        .post(
            "/v1/targets/hr/canary",
            json!({"version": next, "share": 0.5}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    refused(
        &remove_version(&host, &next).await,
        409,
        "version-in-use",
        &["csv@0.9.0", "canary on target hr"],
    );
    let stop = host.delete("/v1/targets/hr/canary").await;
    assert_eq!(stop.status, 204, "{:?}", stop.body);
    activate(&host, &next, false).await;
    refused(
        &remove_version(&host, "csv@0.9.0").await,
        409,
        "version-in-use",
        &["active on target hr"],
    );
    refused(
        &remove_version(&host, &bundled[..12]).await,
        409,
        "version-in-use",
        &[
            "csv@0.1.0",
            "previous on target hr",
            "configured on target hr",
        ],
    );
    rollback(&host).await;
    refused(
        &remove_version(&host, &next).await,
        409,
        "version-in-use",
        &["previous on target hr"],
    );

    // One no target needs goes: record, file, listing; the audit says who.
    let removed = remove_version(&host, "csv@1.0.0").await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    assert_eq!(removed.body["sha256"], broken.as_str());
    assert_eq!(removed.body["version"], "1.0.0");
    assert!(
        !host
            .path(&format!("provisio-connectors/{broken}.wasm"))
            .exists()
    );
    let listed = host.get("/v1/connectors").await.body;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["sha256"] != broken.as_str()),
        "{listed}"
    );
    let audit: Vec<Value> = host
        .audit_all()
        .await
        .into_iter()
        .filter(|e| e["event"] == "connector-removed")
        .collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["detail"]["connector"], "csv@1.0.0", "{audit:?}");
    assert_eq!(audit[0]["actor"], "ops", "{audit:?}");
    refused(
        &remove_version(&host, &broken).await,
        404,
        "unknown-version",
        &[&broken[..8]],
    );
    // The same bytes can come back, as a new registration.
    let again = host.upload(fixtures::CSV_TEST_FAILS).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(served_by(&host, 1).await, "csv@0.1.0");

    // A target gone from the configuration keeps what its record names.
    std::fs::create_dir_all(host.path("hr2")).unwrap();
    host.set_targets(&csv_target("hr2", "bundled:csv"));
    host.restart().await;
    refused(
        &remove_version(&host, &next).await,
        409,
        "version-in-use",
        &["previous in the record of target hr, no longer configured"],
    );
    assert_eq!(remove_version(&host, &broken).await.status, 200);
}

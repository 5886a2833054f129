//! Issue 16's holes, each closed at the right depth and checked here with
//! a hostile client or connector through the real host.

use provisio_tests::host::{TestHost, csv_account, csv_target, flaky_target};
use serde_json::{Value, json};

/// Class names compare ignoring case, so a create addressing `ACCOUNT` is
/// the same class as one addressing `account`: the identity's second
/// account is refused, not created beside the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_in_other_case_is_the_same_class() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    let first = host.run("hr", csv_account("e1", "1", "ada")).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    let mut shouted = csv_account("e1", "2", "ada2");
    shouted["class"] = json!("ACCOUNT");
    let second = host.run("hr", shouted).await;
    assert_eq!(
        second["class"], "account",
        "stored in the target's spelling"
    );
    assert_eq!(second["status"], "failed", "{second}");
    assert_eq!(second["error"]["code"], "already-linked", "{second}");
    let rows = std::fs::read_to_string(host.path("hr/accounts.csv")).unwrap();
    assert!(!rows.contains("ada2"), "no second account: {rows}");
}

/// An operation carries at most `max_attributes` attributes; past it the
/// refusal names the limit (and the parser did the work in one pass).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_with_too_many_attributes_is_refused_naming_the_limit() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", "max_attributes = 50"))], "").await;
    let attributes: serde_json::Map<String, Value> =
        (0..5_000).map(|i| (format!("a{i}"), json!("x"))).collect();
    let reply = host
        .submit_raw(
            "/v1/targets/hr/operations",
            json!({"kind": "create", "identity": "e1", "attributes": attributes}),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("5000 is more than the 50") && detail.contains("max_attributes"),
        "{}",
        reply.body
    );
}

/// Refusals that are the caller's (or its credentials') fault do not
/// quarantine a target that answers: only availability failures count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_denied_answers_do_not_quarantine_the_target() {
    let extra = "[targets.strict.retry]\nmax_attempts = 1\n[targets.strict.quarantine]\nwindow = 4\nmin_calls = 4\nfailure_rate = 0.5";
    let strict = flaky_target(
        "strict",
        "fail_names = \"u0,u1,u2,u3,u4,u5\"\nfailure = \"permission-denied\"",
        "concurrency = 1",
    )
    .replace(
        "[targets.strict.grants]",
        &format!("{extra}\n[targets.strict.grants]"),
    );
    let host = TestHost::with_targets(&[("strict", strict)], "").await;
    for i in 0..6 {
        let done = host
            .run(
                "strict",
                json!({"kind": "create", "identity": format!("e{i}"),
                       "attributes": {"__name__": format!("u{i}")}}),
            )
            .await;
        assert_eq!(done["error"]["code"], "permission-denied", "{done}");
    }
    host.post("/v1/targets/strict/test", json!({})).await;
    let target = host.get("/v1/targets/strict").await.body;
    assert_eq!(target["health"], "ok", "{target}");
}

/// Slow and idle clients lose their connections: 200 clients that send
/// half a request line are all disconnected by the header timeout (and the
/// ones past the connection cap at once), and the host answers after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_send_half_a_request_are_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = TestHost::with_targets(
        &[("hr", csv_target("hr", ""))],
        "header_read_timeout = \"1s\"\nmax_connections = 64",
    )
    .await;
    let addr = host.base.trim_start_matches("http://").to_owned();
    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"GET /v1/tar").await.unwrap();
        clients.push(stream);
    }
    for (i, mut stream) in clients.into_iter().enumerate() {
        let mut buffer = [0u8; 256];
        // A generous bound: the host's timeout is 1 s; a host without one
        // never closes, and this fails.
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut buffer))
                .await;
        match read {
            Ok(Ok(_)) | Ok(Err(_)) => {}
            Err(_) => panic!("client {i} still connected"),
        }
    }
    let health = host
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(health.status, 200);
}

/// A huge `Authorization` header is refused before it is hashed, naming
/// the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_authorization_header_is_refused_unhashed() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    let huge = "x".repeat(4096);
    let reply = host
        .request(reqwest::Method::GET, "/v1/targets", Some(&huge), None)
        .await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("longer than 512 bytes"),
        "{}",
        reply.body
    );
}

/// The watched directory trusts nothing in it: a `.wasm` that is a link is
/// refused (not followed, not activated), a file over
/// `max_connector_bytes` is refused unread, and a link planted where the
/// `.reason` goes is not written through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watched_directory_follows_no_link_and_reads_no_huge_file() {
    use provisio_tests::fixtures;
    let host = TestHost::with_targets(
        &[("hr", csv_target("hr", ""))],
        "watch_dir = \"watch\"\nwatch_interval = \"100ms\"\nmax_connector_bytes = 1048576",
    )
    .await;
    let incoming = host.path("watch/hr");
    std::fs::create_dir_all(incoming.join("refused")).unwrap();
    let victim = host.path("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, incoming.join("refused/huge.wasm.reason")).unwrap();

    std::os::unix::fs::symlink(fixtures::CSV_NEXT, incoming.join("linked.wasm")).unwrap();
    let huge = std::fs::File::create(incoming.join("huge.wasm")).unwrap();
    huge.set_len(2 << 20).unwrap();
    drop(huge);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let reason_of =
        |name: &str| std::fs::read_to_string(incoming.join(format!("refused/{name}.reason")));
    while reason_of("linked.wasm").is_err() || !incoming.join("refused/huge.wasm").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never refused both"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reason = reason_of("linked.wasm").unwrap();
    assert!(reason.contains("symbolic link"), "{reason}");
    let reason = reason_of("huge.wasm").unwrap();
    assert!(
        reason.contains("larger than server.max_connector_bytes"),
        "{reason}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let target = host.get("/v1/targets/hr").await.body;
    assert_eq!(
        target["connector"], "csv@0.1.0",
        "nothing was activated: {target}"
    );
}

/// Four eyes: with approval on, the operator who submitted an operation
/// cannot approve it; another can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submitter_cannot_approve_their_own_operation() {
    use provisio_tests::host::OPERATOR;
    let host =
        TestHost::with_targets(&[("gated", csv_target("gated", "approval = true"))], "").await;
    let submitted = host
        .request(
            reqwest::Method::POST,
            "/v1/targets/gated/operations",
            Some(OPERATOR),
            Some(csv_account("e1", "1", "ada")),
        )
        .await;
    assert_eq!(submitted.status, 202, "{:?}", submitted.body);
    let id = submitted.body["id"].as_str().unwrap();
    let own = host
        .post(&format!("/v1/operations/{id}/approve"), json!({}))
        .await;
    assert_eq!(own.status, 403, "{:?}", own.body);
    assert_eq!(own.body["code"], "not-allowed", "{:?}", own.body);
    assert!(
        own.body["detail"].as_str().unwrap().contains("four eyes"),
        "{:?}",
        own.body
    );
    let still = host.get(&format!("/v1/operations/{id}")).await.body;
    assert_eq!(still["status"], "pending-approval");
}

/// A password written in any case is a password: a failed create that
/// carried `__Password__` cannot be retried (its sealed password was
/// erased when it ended), so the redacted `***` is never sent as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_never_sends_a_redacted_password() {
    let strict = flaky_target(
        "strict",
        "fail_names = \"u0\"\nfailure = \"permission-denied\"",
        "",
    );
    let host = TestHost::with_targets(&[("strict", strict)], "").await;
    let failed = host
        .run(
            "strict",
            json!({"kind": "create", "identity": "e0",
                   "attributes": {"__name__": "u0", "__Password__": "hunter2-x"}}),
        )
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["payload"]["attributes"]["__Password__"], "***");
    let id = failed["id"].as_str().unwrap();
    let retried = host
        .post(&format!("/v1/operations/{id}/retry"), json!({}))
        .await;
    assert_eq!(retried.status, 409, "{:?}", retried.body);
    assert!(
        retried.body["detail"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{:?}",
        retried.body
    );
}

/// A connector that puts its secret in what it logs, prints, returns and
/// fails with gets `***` in each, raw, base64 or percent-encoded: the
/// secret reaches no log line, no operation, no audit row, no metric.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_cannot_make_the_host_repeat_its_secret() {
    use base64::Engine as _;
    use provisio_tests::fixtures;
    let logs = provisio_tests::logs::capture();
    let secret = "Tr0ub4dor&3-leak-test";
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("token"), secret).unwrap();
    let targets = format!(
        "[targets.leaky]\nconnector = {:?}\n[targets.leaky.secrets]\ntoken = {{ file = {:?} }}\n",
        fixtures::HOSTILE,
        secrets.path().join("token").display().to_string()
    );
    let host = TestHost::start(&targets, "", &[]).await;
    let created = host
        .run(
            "leaky",
            json!({"kind": "create", "identity": "e1", "attributes": {"__name__": "a"}}),
        )
        .await;
    assert_eq!(created["status"], "succeeded", "{created}");
    let failed = host
        .run(
            "leaky",
            json!({"kind": "create", "identity": "e2", "attributes": {"__name__": "leak-error"}}),
        )
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("raw=*** b64=*** url=***"),
        "{failed}"
    );
    let linked = host
        .post(
            "/v1/targets/leaky/links",
            json!({"identity": "e3", "uid": "leak-error"}),
        )
        .await;
    assert_eq!(linked.status, 502, "{:?}", linked.body);
    // Read through the host: the object the connector answers with the
    // secret in its uid and an attribute, and its search.
    let read = host.get("/v1/targets/leaky/objects/leak").await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(
        read.body["attributes"]["note"], "raw=*** b64=*** url=***",
        "{:?}",
        read.body
    );
    let searched = host.get("/v1/targets/leaky/objects?page_size=1").await;
    assert_eq!(searched.status, 200, "{:?}", searched.body);

    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let forms = [secret.to_owned(), b64, "Tr0ub4dor%263".to_owned()];
    let mut seen = vec![
        ("operation", created.to_string()),
        ("failed operation", failed.to_string()),
        ("link answer", linked.body.to_string()),
        ("object read", read.body.to_string()),
        ("object search", searched.body.to_string()),
        (
            "audit",
            serde_json::to_string(&host.audit_of_target("leaky").await).unwrap(),
        ),
    ];
    let metrics = host
        .request(reqwest::Method::GET, "/metrics", None, None)
        .await;
    seen.push(("metrics", metrics.body.to_string()));
    seen.push(("logs", logs.text()));
    for (place, text) in &seen {
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "the secret ({form}) is in the {place}"
            );
        }
    }
    assert!(
        !logs
            .lines_with("the token is raw=*** b64=*** url=***")
            .is_empty(),
        "the connector's line was logged, scrubbed"
    );
}

/// A connector that logs in a loop writes its burst and no more; the rest
/// is counted and said once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_connector_logs_its_burst_and_the_count_of_the_rest() {
    use provisio_tests::fixtures;
    let logs = provisio_tests::logs::capture();
    let targets = format!(
        "[targets.flood]\nconnector = {:?}\nlog_rate = {{ per_second = 0.001, burst = 10 }}\n",
        fixtures::HOSTILE
    );
    let host = TestHost::start(&targets, "", &[]).await;
    let linked = host
        .post(
            "/v1/targets/flood/links",
            json!({"identity": "e1", "uid": "flood:50000"}),
        )
        .await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    let written = logs
        .lines_with("flood line")
        .into_iter()
        .filter(|l| l.contains("target=\"flood\"") || l.contains("target=flood"))
        .count();
    assert_eq!(written, 10, "the burst, then nothing");
    let reports = logs.lines_with("connector log lines dropped");
    let mine: Vec<&String> = reports.iter().filter(|l| l.contains("flood")).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert!(mine[0].contains("dropped=49990"), "{}", mine[0]);
}

/// An idempotency key replays only the request it was first used for, and
/// only for the caller who used it: the same key on another request is
/// refused (`422 idempotency-key-reused`) and deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_reused_for_another_request_is_refused() {
    use provisio_tests::host::OPERATOR;
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    let key = ("idempotency-key", "hr-feed-7");
    let create = csv_account("e1", "1", "ada");
    let first = host
        .request_with_header("/v1/targets/hr/operations", create.clone(), key)
        .await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    host.wait(first.body["id"].as_str().unwrap()).await;

    let again = host
        .request_with_header("/v1/targets/hr/operations", create.clone(), key)
        .await;
    assert_eq!(
        again.body["id"], first.body["id"],
        "the same request replays"
    );
    assert_eq!(again.headers["idempotent-replayed"], "true");

    let delete = json!({"kind": "delete", "identity": "e1"});
    let reused = host
        .request_with_header("/v1/targets/hr/operations", delete, key)
        .await;
    assert_eq!(reused.status, 422, "{:?}", reused.body);
    assert_eq!(reused.body["code"], "idempotency-key-reused");
    let rows = std::fs::read_to_string(host.path("hr/accounts.csv")).unwrap();
    assert!(rows.contains("ada"), "nothing was deleted: {rows}");

    let other = host
        .request(
            reqwest::Method::POST,
            "/v1/targets/hr/operations",
            Some(OPERATOR),
            Some(json!({"kind": "create", "identity": "e2", "attributes": {"id": "2", "__name__": "bob"}, "idempotency_key": "hr-feed-7"})),
        )
        .await;
    assert_eq!(
        other.status, 202,
        "another caller's key is its own: {:?}",
        other.body
    );
    assert_ne!(other.body["id"], first.body["id"]);
}

/// A CSV lock file left by an earlier run of this host (killed mid-write)
/// is broken at once: the first attempt after the restart succeeds instead
/// of waiting for the lock to look old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_left_by_an_earlier_run_of_the_host_is_broken_at_once() {
    use sqlx::Connection;
    let mut host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    host.restart().await;
    let url = format!("sqlite://{}", host.path("provisio.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let store: String = sqlx::query_scalar("SELECT store_id FROM store_identity")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let run: i64 = sqlx::query_scalar("SELECT MAX(run) FROM host_runs")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(run, 2, "one run per start");
    // What a killed run leaves behind: a fresh lock naming it.
    std::fs::write(
        host.path("hr/.accounts.csv.lock"),
        format!("{store}.{} 0123456789abcdef", run - 1),
    )
    .unwrap();
    let done = host.run("hr", csv_account("e1", "1", "ada")).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 1, "no wait for the dead lock: {done}");
}

/// Crash recovery adopts only what is provably this operation's: a create
/// whose first attempt failed retryably and whose second finds the name
/// taken fails `conflict` when the account differs from what it wrote, or
/// when another identity holds it, and the account is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_does_not_take_over_an_account_it_did_not_make() {
    let retry = "[targets.flaky.retry]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\nmax_backoff = \"20ms\"";
    let flaky = flaky_target("flaky", "fail_first = \"1\"", "").replace(
        "[targets.flaky.grants]",
        &format!("{retry}\n[targets.flaky.grants]"),
    );
    let host = TestHost::with_targets(&[("flaky", flaky)], "").await;
    std::fs::create_dir_all(host.path("flaky/accounts")).unwrap();
    std::fs::write(host.path("flaky/accounts/admin"), "enabled").unwrap();
    let taken = host
        .run(
            "flaky",
            json!({"kind": "create", "identity": "e1",
                   "attributes": {"__name__": "admin", "mail": "e1@example.com"}}),
        )
        .await;
    assert_eq!(taken["status"], "failed", "{taken}");
    assert_eq!(taken["error"]["code"], "conflict", "{taken}");
    assert!(
        taken["error"]["message"]
            .as_str()
            .unwrap()
            .contains("its mail differs"),
        "{taken}"
    );
    let links = host.get("/v1/targets/flaky/links").await.body;
    assert_eq!(
        links.as_array().map(Vec::len),
        Some(0),
        "no link was made: {links}"
    );

    // An account another identity holds is never taken, even when it has
    // every value the create wrote.
    std::fs::write(host.path("flaky/accounts/ops"), "enabled").unwrap();
    let linked = host
        .post(
            "/v1/targets/flaky/links",
            json!({"identity": "boss", "uid": "ops"}),
        )
        .await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    let held = host
        .run(
            "flaky",
            json!({"kind": "create", "identity": "e2", "attributes": {"__name__": "ops"}}),
        )
        .await;
    assert_eq!(held["status"], "failed", "{held}");
    assert_eq!(held["error"]["code"], "conflict", "{held}");
    assert!(
        held["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity boss holds it"),
        "{held}"
    );
}

/// An operator can cancel anything that is not final, a running operation
/// too: it is not retried, and what its attempt in flight did is recorded
/// (the account it made is linked, not lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_operation_can_be_cancelled() {
    let slow = flaky_target("slow", "delay_ms = \"400\"", "");
    let host = TestHost::with_targets(&[("slow", slow)], "").await;
    let id = host
        .submit(
            "slow",
            json!({"kind": "create", "identity": "e1", "attributes": {"__name__": "late"}}),
        )
        .await;
    host.wait_for(&id, &["running"]).await;
    let cancelled = host
        .post(&format!("/v1/operations/{id}/cancel"), json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let events = host.audit_of(&id).await;
        if events
            .iter()
            .any(|e| e["event"] == "attempt-ended-after-cancel")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the attempt's end was not recorded: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let after = host.get(&format!("/v1/operations/{id}")).await.body;
    assert_eq!(after["status"], "cancelled", "{after}");
    let links = host.get("/v1/targets/slow/links").await.body;
    assert_eq!(
        links[0]["uid"], "late",
        "the account it made is linked: {links}"
    );
}

/// A SQLite grant reaches its one file: a connector that tries to attach
/// the host's store, vacuum into another file, load an extension, write
/// the schema table or turn on writable_schema is refused, naming the
/// rule; reading its own table's columns still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_grant_reaches_its_one_file_only() {
    use provisio_host::runtime::capabilities::sql::{DatabaseSpec, SqlGrant};
    use provisio_host::runtime::{CallErrorKind, TargetSettings};
    use provisio_tests::fixtures;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted.db");
    let store = dir.path().join("provisio.db");
    for (file, table) in [(&granted, "accounts"), (&store, "audit_log")] {
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let create = format!("CREATE TABLE {table} (id TEXT)");
        let insert = format!("INSERT INTO {table} VALUES ('host-secret-row')");
        for statement in [create, insert] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }
    let mut settings = TargetSettings::new("hostile-sql");
    let grants = BTreeMap::from([(
        "main".to_owned(),
        DatabaseSpec {
            url: format!("sqlite://{}", granted.display()),
            password: None,
            max_connections: 2,
        },
    )]);
    settings.grants.sql = Some(Arc::new(
        SqlGrant::connect_lazy(&grants, std::time::Duration::from_secs(5)).unwrap(),
    ));
    let connector = provisio_tests::start(&fixtures::bytes(fixtures::HOSTILE_SQL), settings);
    let run = |statement: String| {
        let connector = connector.clone();
        async move {
            connector
                .get("account", format!("sql:{statement}"), vec![])
                .await
        }
    };
    let stolen = dir.path().join("stolen.db");
    for attack in [
        format!("ATTACH DATABASE '{}' AS p", store.display()),
        format!("VACUUM INTO '{}'", stolen.display()),
        "VACUUM".to_owned(),
        "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libc.so.6')".to_owned(),
        "PRAGMA writable_schema = ON".to_owned(),
        "PRAGMA journal_mode = DELETE".to_owned(),
        "DETACH DATABASE main".to_owned(),
        "SELECT file FROM pragma_database_list".to_owned(),
    ] {
        let error = run(attack.clone()).await.unwrap_err();
        let CallErrorKind::Connector(e) = &error.kind else {
            panic!("{attack}: {error}")
        };
        assert_eq!(e.code(), "permission-denied", "{attack}: {error}");
        assert!(
            error
                .to_string()
                .contains("the host refused this statement"),
            "{attack}: {error}"
        );
    }
    assert!(!stolen.exists(), "VACUUM INTO wrote nothing");
    // SQLite itself refuses schema writes while writable_schema is off,
    // which the guard keeps off.
    let error = run("UPDATE sqlite_master SET sql = '' WHERE name = 'accounts'".to_owned())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("may not be modified"), "{error}");
    let columns = run("SELECT name FROM pragma_table_info('accounts')".to_owned())
        .await
        .unwrap();
    assert_eq!(
        columns.attributes[0].values[0],
        provisio_host::model::Value::Text("id".into())
    );
    let own = run("SELECT id FROM accounts".to_owned()).await.unwrap();
    assert_eq!(
        own.attributes[0].values[0],
        provisio_host::model::Value::Text("host-secret-row".into())
    );
}

/// A runaway SQLite statement is stopped at its deadline, not left running
/// on the pool's connection: with one connection granted, the next
/// statement gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_sqlite_statement_is_interrupted_at_its_deadline() {
    use provisio_host::runtime::TargetSettings;
    use provisio_host::runtime::capabilities::sql::{DatabaseSpec, SqlGrant};
    use provisio_tests::fixtures;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.db");
    sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .unwrap()
        .close()
        .await;
    let mut settings = TargetSettings::new("runaway");
    let grants = BTreeMap::from([(
        "main".to_owned(),
        DatabaseSpec {
            url: format!("sqlite://{}", file.display()),
            password: None,
            max_connections: 1,
        },
    )]);
    settings.grants.sql = Some(Arc::new(
        SqlGrant::connect_lazy(&grants, std::time::Duration::from_millis(500)).unwrap(),
    ));
    let connector = provisio_tests::start(&fixtures::bytes(fixtures::HOSTILE_SQL), settings);
    let forever = "sql:WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r";
    let stopped = connector.get("account", forever, vec![]).await.unwrap_err();
    assert!(
        stopped.to_string().contains("took longer than")
            || stopped.to_string().contains("deadline"),
        "{stopped}"
    );
    let next = connector.get("account", "sql:SELECT 'free'", vec![]).await;
    let next = next.unwrap_or_else(|e| panic!("the one connection is still held: {e}"));
    assert_eq!(
        next.attributes[0].values[0],
        provisio_host::model::Value::Text("free".into())
    );
}

/// Loading a connector is bounded: one whose `info` sleeps in a host call
/// (out of the epoch's reach) is refused at the load deadline, not waited
/// for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_whose_info_never_answers_is_refused_at_load() {
    use provisio_host::runtime::{CallErrorKind, LoadError};
    use provisio_tests::fixtures;
    let bytes = fixtures::bytes(fixtures::SLOW_INFO);
    let loaded = tokio::task::spawn_blocking(move || provisio_tests::runtime().load(&bytes))
        .await
        .unwrap();
    let Err(LoadError::Info(error)) = loaded else {
        panic!(
            "loaded, or refused for another reason: {:?}",
            loaded.err().map(|e| e.to_string())
        )
    };
    assert!(matches!(error.kind, CallErrorKind::Timeout(_)), "{error}");
}

/// A count through `search` is bounded: a connector whose pages never end
/// is stopped, not followed forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_through_endless_pages_is_stopped() {
    use provisio_tests::fixtures;
    let targets = format!("[targets.endless]\nconnector = {:?}\n", fixtures::HOSTILE);
    let host = TestHost::start(&targets, "", &[]).await;
    let counted = host.get("/v1/targets/endless/count").await;
    assert_eq!(counted.status, 409, "{:?}", counted.body);
    assert!(
        counted.body["detail"]
            .as_str()
            .unwrap()
            .contains("without reaching the end"),
        "{:?}",
        counted.body
    );
}

/// A connector cannot pile resources up: one call holds at most 256, and
/// an instance that keeps more than 32 past its call is dropped with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_a_connector_keeps_are_capped_and_freed() {
    use provisio_host::runtime::{DirectoryGrant, TargetSettings};
    use provisio_tests::fixtures;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TargetSettings::new("hoarder");
    settings.grants.directory = Some(DirectoryGrant::read_write(dir.path()));
    settings.max_instances = 1;
    let connector = provisio_tests::start(&fixtures::bytes(fixtures::HOSTILE), settings);
    connector
        .get("account", "hold-files:10", vec![])
        .await
        .unwrap();
    assert_eq!(
        connector.stats().discarded,
        0,
        "a few held handles are fine"
    );
    connector
        .get("account", "hold-files:100", vec![])
        .await
        .unwrap();
    assert_eq!(connector.stats().discarded, 1, "recycled with what it kept");
    assert_eq!(connector.stats().idle, 0);
    let refused = connector
        .get("account", "hold-files:1000", vec![])
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("resource table has no free keys"),
        "capped within a call: {refused}"
    );
    connector
        .get("account", "hold-files:1", vec![])
        .await
        .expect("a fresh instance serves");
}

/// What a connector makes the host hold counts against a per-call budget
/// as it arrives: a query of 100 MiB fails at 8 MiB with `output-limit`,
/// and the next call has its whole budget again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_result_fails_at_the_host_budget() {
    use provisio_host::runtime::TargetSettings;
    use provisio_host::runtime::capabilities::sql::{DatabaseSpec, SqlGrant};
    use provisio_tests::fixtures;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.db");
    sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .unwrap()
        .close()
        .await;
    let mut settings = TargetSettings::new("budget");
    settings.limits.max_host_bytes = 8 << 20;
    let grants = BTreeMap::from([(
        "main".to_owned(),
        DatabaseSpec {
            url: format!("sqlite://{}", file.display()),
            password: None,
            max_connections: 1,
        },
    )]);
    settings.grants.sql = Some(Arc::new(
        SqlGrant::connect_lazy(&grants, std::time::Duration::from_secs(20)).unwrap(),
    ));
    let connector = provisio_tests::start(&fixtures::bytes(fixtures::HOSTILE_SQL), settings);
    let huge = "sql:SELECT hex(randomblob(524288)) FROM (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100) SELECT n FROM r)";
    let refused = connector.get("account", huge, vec![]).await.unwrap_err();
    assert!(refused.to_string().contains("output-limit"), "{refused}");
    assert!(
        refused.to_string().contains("8388608"),
        "names the limit: {refused}"
    );
    let small = connector
        .get("account", "sql:SELECT hex(randomblob(1024))", vec![])
        .await;
    assert!(
        small.is_ok(),
        "the next call has its budget back: {small:?}"
    );
}

//! The host's HTTP API end to end: real server, real HTTP, real store,
//! the bundled CSV connector and the flaky fixture.

use provisio_tests::host::{
    OPERATOR, PROVISIONER, TestHost, csv_account, csv_target, flaky_target,
};
use reqwest::Method;
use serde_json::{Value, json};

fn csv_rows(host: &TestHost, target: &str) -> String {
    std::fs::read_to_string(host.path(&format!("{target}/accounts.csv"))).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_follow_list_and_decide() {
    let host = TestHost::with_targets(
        &[
            ("hr", csv_target("hr", "")),
            ("gated", csv_target("gated", "approval = true")),
        ],
        "",
    )
    .await;

    let reply = host
        .request(
            Method::POST,
            "/v1/targets/hr/operations",
            Some(PROVISIONER),
            Some(csv_account("e1", "1", "ada")),
        )
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.headers["location"],
        format!("/v1/operations/{id}").as_str()
    );
    assert!(matches!(
        reply.body["status"].as_str(),
        Some("queued" | "running" | "succeeded")
    ));
    let done = host.wait(&id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["uid"], "1");
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["connector"], "csv@0.1.0");
    assert_eq!(done["submitted_by"], "feed");
    assert!(csv_rows(&host, "hr").contains("1,ada,Engineering,true"));

    // Listing and filtering.
    let second = host.run("hr", csv_account("e2", "2", "bob")).await;
    let all = host.get("/v1/operations?target=hr").await;
    assert_eq!(all.body["operations"].as_array().unwrap().len(), 2);
    let by_identity = host.get("/v1/operations?identity=e2").await;
    assert_eq!(by_identity.body["operations"][0]["id"], second["id"]);
    let page = host.get("/v1/operations?target=hr&limit=1").await;
    assert_eq!(page.body["operations"].as_array().unwrap().len(), 1);
    let next = page.body["next"].as_str().unwrap();
    let rest = host
        .get(&format!("/v1/operations?target=hr&limit=1&after={next}"))
        .await;
    assert_eq!(rest.body["operations"][0]["id"], second["id"]);
    let failed = host.get("/v1/operations?status=failed").await;
    assert!(failed.body["operations"].as_array().unwrap().is_empty());
    let bad = host.get("/v1/operations?status=sideways").await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("status"))
    );
    let bad = host.get("/v1/operations?since=yesterday").await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("since"))
    );

    // Approval: nothing runs until an operator decides.
    let pending = host.submit("gated", csv_account("g1", "1", "carol")).await;
    let rejected = host.submit("gated", csv_account("g2", "2", "dave")).await;
    let cancelled = host.submit("gated", csv_account("g3", "3", "erin")).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        host.get(&format!("/v1/operations/{pending}")).await.body["status"],
        "pending-approval"
    );
    assert!(
        csv_rows(&host, "gated").is_empty(),
        "nothing ran before approval"
    );
    assert_eq!(
        host.post(&format!("/v1/operations/{pending}/approve"), json!({}))
            .await
            .status,
        200
    );
    let approved = host.wait(&pending).await;
    assert_eq!(
        (approved["status"].as_str(), approved["decided_by"].as_str()),
        (Some("succeeded"), Some("ops"))
    );
    let reply = host
        .post(&format!("/v1/operations/{rejected}/reject"), json!({}))
        .await;
    assert_eq!(reply.body["status"], "cancelled");
    assert_eq!(reply.body["error"]["code"], "rejected");
    let reply = host
        .post(&format!("/v1/operations/{cancelled}/cancel"), json!({}))
        .await;
    assert_eq!(reply.body["status"], "cancelled");
    let again = host
        .post(&format!("/v1/operations/{cancelled}/approve"), json!({}))
        .await;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (409, Some("wrong-state"))
    );
    let rows = csv_rows(&host, "gated");
    assert!(
        !rows.contains(",dave,") && !rows.contains(",erin,"),
        "{rows}"
    );

    // Retry: a create that failed because the key was taken by someone else's
    // row succeeds once an operator has cleared the row.
    std::fs::write(
        host.path("hr/accounts.csv"),
        format!("{}9,squatter,Sales,true\n", csv_rows(&host, "hr")),
    )
    .unwrap();
    let blocked = host.run("hr", csv_account("e9", "9", "frank")).await;
    assert_eq!(
        (
            blocked["status"].as_str(),
            blocked["error"]["code"].as_str()
        ),
        (Some("failed"), Some("already-exists"))
    );
    let rows = csv_rows(&host, "hr").replace("9,squatter,Sales,true\n", "");
    std::fs::write(host.path("hr/accounts.csv"), rows).unwrap();
    let id = blocked["id"].as_str().unwrap();
    let retried = host
        .post(&format!("/v1/operations/{id}/retry"), json!({}))
        .await;
    assert_eq!(retried.body["status"], "queued");
    assert_eq!(host.wait(id).await["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_and_roles() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    let none = host.request(Method::GET, "/v1/targets", None, None).await;
    assert_eq!(
        (none.status, none.body["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(none.headers["www-authenticate"], "Bearer");
    assert_eq!(none.headers["content-type"], "application/problem+json");
    let wrong = host
        .request(Method::GET, "/v1/targets", Some("guess"), None)
        .await;
    assert_eq!(
        (wrong.status, wrong.body["detail"].as_str()),
        (401, Some("the token is not valid"))
    );

    let id = host.submit("hr", csv_account("e1", "1", "ada")).await;
    let read = host
        .request(
            Method::GET,
            &format!("/v1/operations/{id}"),
            Some(PROVISIONER),
            None,
        )
        .await;
    assert_eq!(read.status, 200);
    let approve = host
        .request(
            Method::POST,
            &format!("/v1/operations/{id}/approve"),
            Some(PROVISIONER),
            None,
        )
        .await;
    assert_eq!(approve.status, 403);
    assert_eq!(
        approve.body["detail"],
        "token `feed` has the provisioner role; this needs the operator role"
    );
    let test = host
        .request(Method::POST, "/v1/targets/hr/test", Some(PROVISIONER), None)
        .await;
    assert_eq!(test.status, 403);
    let test = host
        .request(Method::POST, "/v1/targets/hr/test", Some(OPERATOR), None)
        .await;
    assert_eq!((test.status, &test.body), (200, &json!({"ok": true})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_problems_and_store_nothing() {
    let host =
        TestHost::with_targets(&[("hr", csv_target("hr", ""))], "max_body_bytes = 4096").await;
    let url = "/v1/targets/hr/operations";
    let raw = |body: &'static str, content_type: &'static str| {
        let client = reqwest::Client::new();
        let url = format!("{}{url}", host.base);
        async move {
            let response = client
                .post(url)
                .bearer_auth(PROVISIONER)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = raw("{\"kind\": \"create\", ", "application/json").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed-json")),
        "{body}"
    );
    let (status, body) = raw("{}", "text/plain").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("unsupported-media-type")),
        "{body}"
    );
    let (status, body) = raw(
        "{\"kind\": \"create\", \"identity\": \"e\", \"colour\": 1}",
        "application/json",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{body}"
    );
    let (status, body) = raw(
        "{\"kind\": \"explode\", \"identity\": \"e\"}",
        "application/json",
    )
    .await;
    assert!(
        status == 400
            && body["detail"]
                .as_str()
                .unwrap()
                .contains("unknown variant `explode`"),
        "{body}"
    );

    let unknown = host
        .submit_raw(
            "/v1/targets/payroll/operations",
            csv_account("e1", "1", "ada"),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["code"].as_str()),
        (404, Some("unknown-target"))
    );
    assert_eq!(unknown.body["detail"], "no target named `payroll`");

    let mut bad_attribute = csv_account("e1", "1", "ada");
    bad_attribute["attributes"]["shoeSize"] = json!(44);
    let reply = host.submit_raw(url, bad_attribute).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["field"], "attributes.shoeSize");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown attribute of class account"),
        "{:?}",
        reply.body
    );

    let mut huge = csv_account("e1", "1", "ada");
    huge["attributes"]["department"] = json!("x".repeat(10_000));
    let reply = host.submit_raw(url, huge).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (413, Some("payload-too-large")),
        "{:?}",
        reply.body
    );

    let unknown_route = host.get("/v1/nothing").await;
    assert_eq!(
        (unknown_route.status, unknown_route.body["code"].as_str()),
        (404, Some("unknown-route"))
    );

    assert!(
        host.get("/v1/operations").await.body["operations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Only the start's registration of the connector is in the log.
    let events = host.get("/v1/audit").await.body["events"].clone();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["operation_id"].is_null()
                && matches!(
                    e["event"].as_str(),
                    Some("connector-added" | "connector-activated")
                )),
        "nothing stored: {events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_return_the_first_operation() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    let mut request = csv_account("e1", "1", "ada");
    request["idempotency_key"] = json!("hire-e1");
    let first = host
        .submit_raw("/v1/targets/hr/operations", request.clone())
        .await;
    let again = host.submit_raw("/v1/targets/hr/operations", request).await;
    assert_eq!(first.body["id"], again.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let header = host
        .request_with_header(
            "/v1/targets/hr/operations",
            csv_account("e1", "1", "ada"),
            ("Idempotency-Key", "hire-e1"),
        )
        .await;
    assert_eq!(header.body["id"], first.body["id"]);
    assert_eq!(
        host.get("/v1/operations").await.body["operations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_wait_answers_when_the_operation_ends() {
    let host = TestHost::with_targets(
        &[
            ("hr", csv_target("hr", "")),
            ("gated", csv_target("gated", "approval = true")),
        ],
        "",
    )
    .await;
    let path = "/v1/targets/hr/operations";

    let done = host
        .request_with_header(path, csv_account("e1", "1", "ada"), ("Prefer", "wait=10"))
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["status"], "succeeded");
    assert_eq!(done.body["result"]["uid"], "1");
    assert!(csv_rows(&host, "hr").contains("1,ada,"));

    // Other preferences are ignored, as RFC 7240 asks.
    let done = host
        .request_with_header(
            path,
            csv_account("e2", "2", "bob"),
            ("Prefer", "handling=lenient, wait=10"),
        )
        .await;
    assert_eq!(
        (done.status, done.body["status"].as_str()),
        (200, Some("succeeded"))
    );

    // Waiting for an operator: nothing happens within any wait, so the
    // answer comes at once (well inside the 60 s asked for), 202; and so
    // does a GET that waits.
    let held = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        host.request_with_header(
            "/v1/targets/gated/operations",
            csv_account("g1", "1", "carol"),
            ("Prefer", "wait=60"),
        ),
    )
    .await
    .expect("answered without holding the wait");
    assert_eq!(held.status, 202, "{:?}", held.body);
    assert_eq!(held.body["status"], "pending-approval");
    let id = held.body["id"].as_str().unwrap();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        host.get(&format!("/v1/operations/{id}?wait=60s")),
    )
    .await
    .expect("answered without holding the wait");
    assert_eq!(read.body["status"], "pending-approval");

    // A replayed idempotency key waits for, and returns, the first operation.
    let keyed = csv_account("e3", "3", "carol");
    let mut keyed_body = keyed.clone();
    keyed_body["idempotency_key"] = json!("k3");
    let first = host
        .request_with_header(path, keyed_body.clone(), ("Prefer", "wait=10"))
        .await;
    let again = host
        .request_with_header(path, keyed_body, ("Prefer", "wait=10"))
        .await;
    assert_eq!((again.status, &again.body["id"]), (200, &first.body["id"]));
    assert_eq!(again.headers["idempotent-replayed"], "true");

    let bad = host
        .request_with_header(path, csv_account("e4", "4", "dan"), ("Prefer", "wait=soon"))
        .await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("Prefer"))
    );
    assert!(!csv_rows(&host, "hr").contains("dan"), "nothing stored");
    assert_eq!(
        host.get("/v1/operations?identity=e4").await.body["operations"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_then_succeed_or_give_up() {
    let retry = "[targets.{name}.retry]\nmax_attempts = 4\ninitial_backoff = \"40ms\"\nmax_backoff = \"200ms\"";
    let flaky = flaky_target("flaky", "fail_first = \"2\"\nfail_names = \"doomed\"", "").replace(
        "[targets.flaky.grants]",
        &format!(
            "{}\n[targets.flaky.grants]",
            retry.replace("{name}", "flaky")
        ),
    );
    let limited = flaky_target(
        "limited",
        "fail_first = \"1\"\nfailure = \"rate-limited\"\nretry_after_ms = \"300\"",
        "",
    )
    .replace(
        "[targets.limited.grants]",
        &format!(
            "{}\n[targets.limited.grants]",
            // The target's Retry-After (300 ms) is honoured within max_backoff.
            retry.replace("{name}", "limited").replace("200ms", "1s")
        ),
    );
    let host = TestHost::with_targets(&[("flaky", flaky), ("limited", limited)], "").await;

    let ok = host
        .run(
            "flaky",
            json!({"kind": "create", "identity": "e1", "attributes": {"__name__": "ada"}}),
        )
        .await;
    assert_eq!(
        (ok["status"].as_str(), ok["attempts"].as_u64()),
        (Some("succeeded"), Some(3)),
        "{ok}"
    );
    let calls: Vec<Value> = host
        .audit_of(ok["id"].as_str().unwrap())
        .await
        .into_iter()
        .filter(|e| e["event"] == "call")
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0]["detail"]["error"]["code"], "unavailable");
    assert_eq!(calls[2]["detail"]["outcome"], "ok");

    let doomed = host
        .run(
            "flaky",
            json!({"kind": "create", "identity": "e2", "attributes": {"__name__": "doomed"}}),
        )
        .await;
    assert_eq!(doomed["status"], "failed");
    assert_eq!(doomed["attempts"], 4, "gave up after max_attempts");
    assert_eq!(doomed["error"]["code"], "unavailable");
    assert_eq!(doomed["error"]["retryable"], true);

    let limited = host
        .run(
            "limited",
            json!({"kind": "create", "identity": "e3", "attributes": {"__name__": "bob"}}),
        )
        .await;
    assert_eq!(limited["status"], "succeeded");
    let events = host.audit_of(limited["id"].as_str().unwrap()).await;
    let retrying = events
        .iter()
        .find(|e| e["event"] == "status:retrying")
        .expect("a retry was recorded");
    assert!(
        retrying["detail"]["delay_ms"].as_u64().unwrap() >= 300,
        "retry-after honoured: {retrying}"
    );
    let due = retrying["detail"]["next_attempt_at"].as_i64().unwrap();
    let second_start = events
        .iter()
        .filter(|e| e["event"] == "status:running")
        .nth(1)
        .expect("a second attempt");
    let started = provisio_host::api::parse_rfc3339(second_start["at"].as_str().unwrap()).unwrap();
    assert!(started >= due, "the second attempt waited until it was due");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_on_one_account_run_in_order() {
    let flaky = flaky_target("flaky", "fail_first = \"1\"\ndelay_ms = \"2\"", "concurrency = 4")
        .replace("[targets.flaky.grants]", "[targets.flaky.retry]\ninitial_backoff = \"20ms\"\nmax_backoff = \"40ms\"\n[targets.flaky.grants]");
    let host = TestHost::with_targets(&[("flaky", flaky)], "").await;
    let accounts = ["a", "b", "c", "d", "e"];
    let mut ids = Vec::new();
    for round in 0..8 {
        for account in accounts {
            let request = if round == 0 {
                json!({"kind": "create", "identity": account, "attributes": {"__name__": account, "seq": "0"}})
            } else {
                json!({"kind": "update", "identity": account,
                       "changes": [{"op": "replace", "name": "seq", "values": round.to_string()}]})
            };
            ids.push(host.submit("flaky", request).await);
        }
    }
    for id in &ids {
        assert_eq!(host.wait(id).await["status"], "succeeded");
    }
    for account in accounts {
        let log =
            std::fs::read_to_string(host.path(&format!("flaky/calls-{account}.log"))).unwrap();
        let seqs: Vec<&str> = log.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
        // The create failed once (fail_first) and ran again before anything else.
        assert_eq!(
            seqs,
            ["0", "0", "1", "2", "3", "4", "5", "6", "7"],
            "account {account}: {log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_target_is_quarantined_until_lifted() {
    let extra = "[targets.down.retry]\nmax_attempts = 1\n[targets.down.quarantine]\nwindow = 4\nmin_calls = 4\nfailure_rate = 0.75";
    let down = flaky_target(
        "down",
        "fail_names = \"u0,u1,u2,u3,u4,u5\"",
        "concurrency = 1",
    )
    .replace(
        "[targets.down.grants]",
        &format!("{extra}\n[targets.down.grants]"),
    );
    let host = TestHost::with_targets(&[("down", down)], "").await;
    let ids: Vec<String> = submit_creates(&host, 6).await;
    for id in &ids[..4] {
        assert_eq!(host.wait(id).await["status"], "failed");
    }
    let target = host.get("/v1/targets/down").await.body;
    assert_eq!(target["health"], "quarantined", "{target}");
    assert!(
        target["quarantine_reason"]
            .as_str()
            .unwrap()
            .contains("100% of the last calls failed"),
        "{target}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for id in &ids[4..] {
        assert_eq!(
            host.get(&format!("/v1/operations/{id}")).await.body["status"],
            "queued",
            "waits while quarantined"
        );
    }
    let lifted = host
        .post("/v1/targets/down/quarantine/lift", json!({}))
        .await;
    assert_eq!(
        (lifted.status, lifted.body["health"].as_str()),
        (200, Some("ok"))
    );
    for id in &ids[4..] {
        assert_eq!(
            host.wait(id).await["status"],
            "failed",
            "ran after the lift"
        );
    }
    let events: Vec<String> = host
        .audit_of_target("down")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        events.contains(&"quarantined".to_owned())
            && events.contains(&"quarantine-lifted".to_owned())
    );
    let again = host
        .post("/v1/targets/down/quarantine/lift", json!({}))
        .await;
    assert_eq!(again.status, 409);
}

async fn submit_creates(host: &TestHost, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            host.submit("down", json!({"kind": "create", "identity": format!("u{i}"), "attributes": {"__name__": format!("u{i}")}}))
                .await,
        );
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_policies_protection_and_safe_entitlements() {
    let host = TestHost::with_targets(
        &[
            (
                "soft",
                csv_target(
                    "soft",
                    "on_delete = \"disable\"\nprotected = 'userName eq \"admin\"'",
                ),
            ),
            (
                "move",
                csv_target(
                    "move",
                    "on_delete = { update = { department = \"Leavers\" } }",
                ),
            ),
            ("hard", csv_target("hard", "")),
        ],
        "",
    )
    .await;
    assert_eq!(
        host.run("soft", csv_account("e1", "1", "ada")).await["status"],
        "succeeded"
    );
    let deleted = host
        .run("soft", json!({"kind": "delete", "identity": "e1"}))
        .await;
    assert_eq!(deleted["status"], "succeeded");
    assert!(
        csv_rows(&host, "soft").contains("1,ada,Engineering,false"),
        "disabled, not deleted"
    );

    assert_eq!(
        host.run("move", csv_account("e1", "1", "ada")).await["status"],
        "succeeded"
    );
    assert_eq!(
        host.run("move", json!({"kind": "delete", "identity": "e1"}))
            .await["status"],
        "succeeded"
    );
    assert!(
        csv_rows(&host, "move").contains("1,ada,Leavers,true"),
        "{}",
        csv_rows(&host, "move")
    );

    // An account Provisio neither created nor linked is never touched.
    std::fs::write(
        host.path("hard/accounts.csv"),
        "id,userName,department,active\n7,bob,Sales,true\n",
    )
    .unwrap();
    let refused = host
        .run("hard", json!({"kind": "delete", "identity": "bob"}))
        .await;
    assert_eq!(
        (
            refused["status"].as_str(),
            refused["error"]["code"].as_str()
        ),
        (Some("failed"), Some("not-linked"))
    );
    assert!(csv_rows(&host, "hard").contains("7,bob"));
    // Once linked by an operator it can be.
    let link = host
        .post(
            "/v1/targets/hard/links",
            json!({"identity": "bob", "uid": "7"}),
        )
        .await;
    assert_eq!(
        (link.status, link.body["created_by_provisio"].as_bool()),
        (200, Some(false)),
        "{:?}",
        link.body
    );
    let missing = host
        .post(
            "/v1/targets/hard/links",
            json!({"identity": "ghost", "uid": "404"}),
        )
        .await;
    assert_eq!(
        (missing.status, missing.body["code"].as_str()),
        (404, Some("unknown-account")),
        "an account the target does not have is not a gateway error"
    );
    assert_eq!(
        host.run("hard", json!({"kind": "delete", "identity": "bob"}))
            .await["status"],
        "succeeded"
    );
    assert!(!csv_rows(&host, "hard").contains("7,bob"));
    let links = host.get("/v1/targets/hard/links").await.body;
    assert!(
        links.as_array().unwrap().is_empty(),
        "the link went with the account"
    );

    // A protected account is refused, even when linked.
    std::fs::write(
        host.path("soft/accounts.csv"),
        format!("{}0,admin,IT,true\n", csv_rows(&host, "soft")),
    )
    .unwrap();
    host.post(
        "/v1/targets/soft/links",
        json!({"identity": "root", "uid": "0"}),
    )
    .await;
    let protected = host
        .run("soft", json!({"kind": "disable", "identity": "root"}))
        .await;
    assert_eq!(protected["error"]["code"], "protected", "{protected}");
    assert!(csv_rows(&host, "soft").contains("0,admin,IT,true"));

    // A second create for a linked identity is refused.
    let twice = host.run("soft", csv_account("e1", "2", "ada2")).await;
    assert_eq!(twice["error"]["code"], "already-linked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_the_store_api_or_audit_in_clear() {
    let host = TestHost::with_targets(&[("flaky", flaky_target("flaky", "", ""))], "").await;
    let password = "Corr3ct-Horse-Battery-Staple";
    host.run("flaky", json!({"kind": "create", "identity": "e1", "attributes": {"__name__": "ada", "__password__": password}}))
        .await;
    let set = host
        .run(
            "flaky",
            json!({"kind": "set-password", "identity": "e1", "password": password}),
        )
        .await;
    assert_eq!(set["status"], "succeeded", "{set}");
    assert_eq!(set["payload"]["password"], "***");
    let everything = format!(
        "{}{}",
        host.get("/v1/operations").await.body,
        host.get("/v1/audit?limit=1000").await.body
    );
    assert!(!everything.contains(password), "{everything}");
    host.server.as_ref().unwrap().engine.shutdown();
    for entry in std::fs::read_dir(host.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(password.len())
                    .any(|w| w == password.as_bytes()),
                "{} holds the password",
                path.display()
            );
        }
    }
    let retry = host
        .post(
            &format!("/v1/operations/{}/retry", set["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(retry.status, 409, "{:?}", retry.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_verifies_until_a_row_is_edited() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    host.run("hr", csv_account("e1", "1", "ada")).await;
    let verify = host.get("/v1/audit/verify").await.body;
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(verify["rows"].as_u64().unwrap() >= 4);
    let events: Vec<Value> = host.get("/v1/audit").await.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["operation_id"].is_null())
        .cloned()
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["submitted", "status:running", "call", "status:succeeded"]
    );
    assert_eq!(events[2]["detail"]["connector"], "csv@0.1.0");
    assert_eq!(events[2]["detail"]["operation"], "create");

    let db = host.path("provisio.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let verify = host.get("/v1/audit/verify").await.body;
    assert_eq!(
        (verify["ok"].as_bool(), verify["problem"].as_str()),
        (Some(false), Some("row 2 was altered"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_health_metrics_and_openapi() {
    let host =
        TestHost::with_targets(&[("hr", csv_target("hr", "description = \"HR\""))], "").await;
    host.run("hr", csv_account("e1", "1", "ada")).await;
    // Health is what the last test said: test now rather than race the
    // host's own first test.
    assert_eq!(
        host.post("/v1/targets/hr/test", json!({})).await.status,
        200
    );
    let targets = host.get("/v1/targets").await.body;
    assert_eq!(targets[0]["name"], "hr");
    assert_eq!(targets[0]["connector"], "csv@0.1.0");
    assert_eq!(targets[0]["health"], "ok");
    assert_eq!(targets[0]["queue_depth"], 0);
    let schema = host.get("/v1/targets/hr/schema").await.body;
    assert_eq!(schema["classes"][0]["name"], "account", "{schema}");

    assert_eq!(
        host.request(Method::GET, "/healthz", None, None)
            .await
            .status,
        200
    );
    assert_eq!(
        host.request(Method::GET, "/readyz", None, None)
            .await
            .status,
        200
    );
    let metrics = host.request(Method::GET, "/metrics", None, None).await.body;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("provisio_operations_total{target=\"hr\",status=\"succeeded\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("provisio_queue_depth{target=\"hr\"} 0"),
        "{metrics}"
    );
    let openapi = host
        .request(Method::GET, "/v1/openapi.json", None, None)
        .await
        .body;
    assert!(
        openapi["paths"]["/v1/targets/{target}/operations"]["post"].is_object(),
        "{openapi}"
    );
    assert!(openapi["components"]["securitySchemes"]["bearer"].is_object());
    // The document passes openapi-spec-validator (OpenAPI 3.1), so
    // generated clients can use it.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), openapi.to_string()).unwrap();
    let validated = std::process::Command::new(openapi_validator())
        .arg(file.path())
        .output()
        .expect("openapi-spec-validator runs");
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
}

/// A Python client generated from the host's own document by
/// openapi-python-client (every endpoint generated, no warning) drives
/// submit → wait → read → audit, and an upload, against the real host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_generated_from_the_openapi_document_drives_the_host() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    let openapi = host
        .request(Method::GET, "/v1/openapi.json", None, None)
        .await
        .body;
    let work = tempfile::tempdir().unwrap();
    let spec = work.path().join("openapi.json");
    std::fs::write(&spec, openapi.to_string()).unwrap();
    // No formatter run after generating (ruff is not installed).
    let config = work.path().join("generator.yaml");
    std::fs::write(&config, "post_hooks: []\n").unwrap();
    let package = work.path().join("provisio_client");
    let generator = python_tool("openapi-client.sh");
    let generated = std::process::Command::new(&generator)
        .arg("generate")
        .arg("--path")
        .arg(&spec)
        .arg("--output-path")
        .arg(&package)
        .args(["--meta", "none", "--config"])
        .arg(&config)
        .output()
        .expect("openapi-python-client runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(generated.status.success(), "{said}");
    // It names every endpoint it could not generate, and any warning.
    assert!(
        !said.contains("WARNING") && !said.contains("Warning"),
        "{said}"
    );

    let wasm = work.path().join("csv.wasm");
    std::fs::write(&wasm, provisio_host::bundled::CSV.bytes).unwrap();
    let python = generator.parent().unwrap().join("python");
    let driver =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/drive_generated_client.py");
    let base = host.base.clone();
    let driven = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(driver)
            .arg(work.path())
            .arg(base)
            .arg(PROVISIONER)
            .arg(OPERATOR)
            .arg(&wasm)
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    assert!(
        driven.status.success(),
        "{}{}",
        String::from_utf8_lossy(&driven.stdout),
        String::from_utf8_lossy(&driven.stderr)
    );
    let seen: Value = serde_json::from_slice(&driven.stdout).unwrap();
    // Prefer: wait answers 200 with the final state.
    assert_eq!(seen["submit_status"], 200, "{seen}");
    assert_eq!(seen["submitted"]["status"], "succeeded", "{seen}");
    let id = seen["submitted"]["id"].as_str().unwrap();
    assert_eq!(seen["get_status"], 200);
    assert_eq!(seen["operation"]["id"], id);
    assert_eq!(seen["operation"]["kind"], "create");
    assert!(
        seen["listed_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == id),
        "{seen}"
    );
    assert_eq!(seen["object_status"], 200);
    assert_eq!(seen["object"]["uid"], "42", "{seen}");
    assert_eq!(seen["object"]["name"], "grace", "{seen}");
    assert_eq!(seen["search"]["objects"][0]["uid"], "42", "{seen}");
    assert_eq!(seen["missing_status"], 404);
    assert!(seen["missing"]["title"].is_string(), "{seen}");
    let events = seen["audit"]["events"].as_array().unwrap();
    assert!(!events.is_empty(), "{seen}");
    assert!(events.iter().all(|e| e["operation_id"] == id), "{seen}");
    assert!(
        events.iter().any(|e| e["event"] == "status:succeeded"),
        "{seen}"
    );
    assert!(
        [200, 201].contains(&seen["upload_status"].as_u64().unwrap()),
        "{seen}"
    );
    assert_eq!(seen["upload"]["name"], "csv", "{seen}");
    assert_eq!(seen["upload_as_provisioner_status"], 403, "{seen}");
    // What the client sent went through the host: the account is in the file.
    assert!(
        std::fs::read_to_string(host.path("hr/accounts.csv"))
            .unwrap()
            .contains("grace")
    );
}

/// A tool of the test venvs, installed by `scripts/servers/SCRIPT` when
/// missing; the script prints its path.
fn python_tool(script: &str) -> std::path::PathBuf {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/servers")
        .join(script);
    let output = std::process::Command::new("bash")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    std::path::PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// openapi-spec-validator, installed into the test venv when missing.
fn openapi_validator() -> std::path::PathBuf {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers/scim.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .arg("openapi-validator")
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "scripts/servers/scim.sh openapi-validator failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::path::PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// The crash window of a create: the target made the account, the host died
/// before recording it. On restart the create finds the account, sees that
/// an earlier attempt had started, takes it over, and counts as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_cut_off_by_a_crash_is_recovered_not_duplicated() {
    let mut host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    host.run("hr", csv_account("e1", "1", "ada")).await;
    host.stop().await;

    let db = host.path("provisio.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    let now = provisio_host::store::now_ms();
    sqlx::query(
        "INSERT INTO operations (id, target, class, identity, kind, payload, status, attempts, max_attempts,
             submitted_by, created_at, updated_at, started_at)
         VALUES ('crashed', 'hr', 'account', 'e7', 'create', ?, 'running', 1, 5, 'feed', ?, ?, ?)",
    )
    .bind(json!({"attributes": {"id": "7", "__name__": "gina", "department": "Sales"}}).to_string())
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut conn)
    .await
    .unwrap();
    let rows = format!("{}7,gina,Sales,\n", csv_rows(&host, "hr"));
    std::fs::write(host.path("hr/accounts.csv"), rows).unwrap();

    host.restart().await;
    let recovered = host.wait("crashed").await;
    assert_eq!(recovered["status"], "succeeded", "{recovered}");
    assert_eq!(recovered["result"]["recovered"], true);
    assert_eq!(recovered["attempts"], 2);
    assert_eq!(
        csv_rows(&host, "hr").matches(",gina,").count(),
        1,
        "no duplicate"
    );
    let links = host.get("/v1/targets/hr/links").await.body;
    let link = links
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["identity"] == "e7")
        .expect("linked");
    assert_eq!(
        (link["uid"].as_str(), link["created_by_provisio"].as_bool()),
        (Some("7"), Some(true))
    );
    // Later operations on the identity work on the recovered account.
    let disable = host
        .run("hr", json!({"kind": "disable", "identity": "e7"}))
        .await;
    assert_eq!(disable["status"], "succeeded");
    assert!(csv_rows(&host, "hr").contains("7,gina,Sales,false"));
}

/// A target's token bucket spaces its attempts: with 20 per second and no
/// burst, six attempts take at least 5 × 50 ms from the first to the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_spaces_attempts() {
    let limited = flaky_target(
        "paced",
        "",
        "concurrency = 4\nrate_limit = { per_second = 20.0, burst = 1 }",
    );
    let host = TestHost::with_targets(&[("paced", limited)], "").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            host.submit("paced", json!({"kind": "create", "identity": format!("p{i}"), "attributes": {"__name__": format!("p{i}")}}))
                .await,
        );
    }
    for id in &ids {
        assert_eq!(host.wait(id).await["status"], "succeeded");
    }
    let mut starts: Vec<i64> = host
        .audit_of_target("paced")
        .await
        .iter()
        .filter(|e| e["event"] == "status:running")
        .map(|e| provisio_host::api::parse_rfc3339(e["at"].as_str().unwrap()).unwrap())
        .collect();
    starts.sort();
    assert_eq!(starts.len(), 6);
    // The audit stamps an attempt when it is recorded, a little after its
    // token was taken, so single gaps jitter; the whole span cannot shrink
    // by more than the first attempt's recording delay. Unlimited, the six
    // would start within a few milliseconds.
    let span = starts[5] - starts[0];
    assert!(
        span >= 200,
        "six attempts started within {span} ms: {starts:?}"
    );
}

/// Reading through the host: a paged search that returns every object
/// once at any page size, filters, one object by uid, the protected mark,
/// and clear errors for what is wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_read_through_the_host() {
    let host = TestHost::start(
        &csv_target("hr", "protected = 'userName eq \"admin\"'"),
        "",
        &["hr"],
    )
    .await;
    let mut rows = String::from("id,userName,department,active\n0,admin,IT,true\n");
    for i in 1..=23 {
        let department = if i % 3 == 0 { "Sales" } else { "Engineering" };
        rows.push_str(&format!("{i},user{i},{department},true\n"));
    }
    std::fs::write(host.path("hr/accounts.csv"), rows).unwrap();

    for size in [1, 7, 100] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/targets/hr/objects?page_size={size}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={}", urlencode(cursor)));
            }
            let page = host.get(&path).await;
            assert_eq!(page.status, 200, "{:?}", page.body);
            let objects = page.body["objects"].as_array().unwrap();
            assert!(objects.len() <= size, "{size}: {:?}", page.body);
            seen.extend(
                objects
                    .iter()
                    .map(|o| o["uid"].as_str().unwrap().to_owned()),
            );
            match page.body["cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(seen.len(), 24, "page size {size}: {seen:?}");
        assert_eq!(unique.len(), 24, "each object once at page size {size}");
    }

    let sales = host
        .get("/v1/targets/hr/objects?filter=department%20eq%20%22Sales%22&attributes=department")
        .await;
    assert_eq!(sales.status, 200, "{:?}", sales.body);
    let objects = sales.body["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 7, "{:?}", sales.body);
    assert!(
        objects
            .iter()
            .all(|o| o["attributes"]["department"] == "Sales")
    );

    let admin = host.get("/v1/targets/hr/objects/0").await;
    assert_eq!(admin.status, 200, "{:?}", admin.body);
    assert_eq!(admin.body["name"], "admin");
    assert!(
        admin.body["protected"]
            .as_str()
            .unwrap()
            .contains("userName"),
        "{:?}",
        admin.body
    );
    let one = host.get("/v1/targets/hr/objects/5").await;
    assert_eq!(
        one.body["attributes"]["department"], "Engineering",
        "{:?}",
        one.body
    );
    assert!(one.body.get("protected").is_none(), "{:?}", one.body);

    for (path, status, field) in [
        ("/v1/targets/hr/objects/999", 404, Some("uid")),
        (
            "/v1/targets/hr/objects?filter=department%20eq",
            400,
            Some("filter"),
        ),
        ("/v1/targets/hr/objects?page_size=0", 400, Some("page_size")),
        (
            "/v1/targets/hr/objects?page_size=5000",
            400,
            Some("page_size"),
        ),
        ("/v1/targets/hr/objects?sort=name", 400, None),
        (
            "/v1/targets/hr/objects/..%2F..%2Fetc%2Fpasswd",
            404,
            Some("uid"),
        ),
        ("/v1/targets/hr/objects?page_size=-1", 400, None),
        ("/v1/targets/nowhere/objects", 404, None),
    ] {
        let reply = host.get(path).await;
        assert_eq!(reply.status, status, "{path}: {:?}", reply.body);
        if let Some(field) = field {
            assert_eq!(reply.body["field"], field, "{path}: {:?}", reply.body);
        }
    }
    let many = (0..101)
        .map(|i| format!("a{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let reply = host
        .get(&format!("/v1/targets/hr/objects?attributes={many}"))
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "attributes");
    let anonymous = host
        .request(Method::GET, "/v1/targets/hr/objects", None, None)
        .await;
    assert_eq!(anonymous.status, 401);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

//! Issue 17: what an operator needs to put the host in front of a
//! production directory, through the real host.

use provisio_tests::host::{TestHost, csv_account, csv_target};
use serde_json::json;

/// `approval` can name the kinds that wait (and a filter over the
/// operation); the rest run at once. A decision's reason reaches the
/// audit log and the error of what it rejected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_for_some_kinds_and_decisions_with_reasons() {
    let gated = csv_target(
        "hr",
        r#"approval = { kinds = ["delete", "disable", "add-member"], filter = 'kind ne "add-member" or group sw "admin"' }"#,
    );
    let host = TestHost::with_targets(&[("hr", gated)], "").await;
    let created = host.run("hr", csv_account("e1", "1", "ada")).await;
    assert_eq!(
        created["status"], "succeeded",
        "creates need no approval: {created}"
    );

    let disable = host
        .submit("hr", json!({"kind": "disable", "identity": "e1"}))
        .await;
    let held = host.wait_for(&disable, &["pending-approval"]).await;
    assert_eq!(held["status"], "pending-approval");
    let approved = host
        .post(
            &format!("/v1/operations/{disable}/approve"),
            json!({"reason": "leaver ticket HR-1234"}),
        )
        .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(host.wait(&disable).await["status"], "succeeded");
    let audit = host.audit_of(&disable).await;
    let decision = audit.iter().find(|e| e["event"] == "approved").unwrap();
    assert_eq!(
        decision["detail"]["reason"], "leaver ticket HR-1234",
        "{decision}"
    );

    // add-member waits only when the filter matches: admin groups.
    let group = json!({"kind": "create", "class": "group", "identity": "g1",
        "attributes": {"id": "staff", "__name__": "staff"}});
    assert_eq!(host.run("hr", group).await["status"], "succeeded");
    let staff = host
        .run(
            "hr",
            json!({"kind": "add-member", "identity": "e1", "group": "staff"}),
        )
        .await;
    assert_ne!(staff["status"], "pending-approval", "{staff}");
    let admins = host
        .submit(
            "hr",
            json!({"kind": "add-member", "identity": "e1", "group": "admins"}),
        )
        .await;
    host.wait_for(&admins, &["pending-approval"]).await;
    let rejected = host
        .post(
            &format!("/v1/operations/{admins}/reject"),
            json!({"reason": "no admin rights for contractors"}),
        )
        .await;
    assert_eq!(rejected.status, 200, "{:?}", rejected.body);
    assert_eq!(
        rejected.body["error"]["message"], "rejected by ops: no admin rights for contractors",
        "{:?}",
        rejected.body
    );

    // A decision body is a reason or nothing.
    let delete = host
        .submit("hr", json!({"kind": "delete", "identity": "e1"}))
        .await;
    host.wait_for(&delete, &["pending-approval"]).await;
    let bad = host
        .post(
            &format!("/v1/operations/{delete}/reject"),
            json!({"why": "x"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    let long = host
        .post(
            &format!("/v1/operations/{delete}/reject"),
            json!({"reason": "x".repeat(1001)}),
        )
        .await;
    assert_eq!(
        (long.status, long.body["field"].as_str()),
        (400, Some("reason"))
    );
    let plain = host
        .request(
            reqwest::Method::POST,
            &format!("/v1/operations/{delete}/reject"),
            Some(provisio_tests::host::OPERATOR),
            None,
        )
        .await;
    assert_eq!(plain.status, 200, "no body is no reason: {:?}", plain.body);
    assert_eq!(plain.body["error"]["message"], "rejected by ops");
}

/// Each connector call's audit row names the object it answered and the
/// attributes a write sent (never their values); the result names the
/// account; refused uploads, activations and rollbacks are audited with
/// who asked and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_says_what_changed_and_what_was_refused() {
    let host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    let created = host.run("hr", csv_account("e1", "1", "ada")).await;
    assert_eq!(created["status"], "succeeded", "{created}");
    let update = host
        .run(
            "hr",
            json!({"kind": "update", "identity": "e1",
                   "changes": [{"op": "replace", "name": "department", "values": "Research"}]}),
        )
        .await;
    assert_eq!(update["result"]["name"], "ada", "{update}");
    let call = |rows: &[serde_json::Value], operation: &str| {
        rows.iter()
            .find(|e| e["event"] == "call" && e["detail"]["operation"] == operation)
            .unwrap_or_else(|| panic!("no {operation} call in {rows:?}"))
            .clone()
    };
    let row = call(
        &host.audit_of(update["id"].as_str().unwrap()).await,
        "update",
    );
    assert_eq!(row["detail"]["name"], "ada", "{row}");
    assert_eq!(row["detail"]["uid"], "1", "{row}");
    assert_eq!(row["detail"]["attributes"], json!(["department"]), "{row}");
    let row = call(
        &host.audit_of(created["id"].as_str().unwrap()).await,
        "create",
    );
    assert_eq!(
        row["detail"]["attributes"],
        json!(["id", "__name__", "department", "__enable__"]),
        "{row}"
    );

    let junk = host.path("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let upload = host.upload(junk.to_str().unwrap()).await;
    assert!(upload.status >= 400, "{:?}", upload.body);
    let activate = host
        .post("/v1/targets/hr/activate", json!({"version": "csv@9.9.9"}))
        .await;
    assert!(activate.status >= 400, "{:?}", activate.body);
    let rollback = host.post("/v1/targets/hr/rollback", json!({})).await;
    assert_eq!(rollback.status, 409, "{:?}", rollback.body);
    let audit = host.audit_all().await;
    for event in ["upload-refused", "activation-refused", "rollback-refused"] {
        let row = audit
            .iter()
            .find(|e| e["event"] == event)
            .unwrap_or_else(|| panic!("no {event} in the audit log"));
        assert_eq!(row["actor"], "ops", "{row}");
        assert!(
            !row["detail"]["error"].as_str().unwrap().is_empty(),
            "{row}"
        );
    }
    let activation = audit
        .iter()
        .find(|e| e["event"] == "activation-refused")
        .unwrap();
    assert_eq!(activation["detail"]["version"], "csv@9.9.9", "{activation}");
}

/// A reload (`POST /v1/config/reload`; SIGHUP does the same, see the CLI
/// tests) applies a changed file's policies and tokens together, or none
/// of it: a file that is invalid, names an attribute the target lacks, or
/// changes what needs a restart leaves the host on what it had. Each
/// reload, refused or not, is audited with what it changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_policies_and_tokens_whole_or_not_at_all() {
    use provisio_host::config::hash_token;
    let mut host = TestHost::with_targets(&[("hr", csv_target("hr", ""))], "").await;
    assert_eq!(
        host.run("hr", csv_account("e1", "1", "ada")).await["status"],
        "succeeded"
    );
    let unchanged = host.post("/v1/config/reload", json!({})).await;
    assert_eq!(unchanged.status, 200, "{:?}", unchanged.body);
    assert_eq!(unchanged.body["changed"], json!([]));

    let newcomer = "newcomer-token";
    let as_newcomer = |host: &TestHost| {
        let host = host.base.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{host}/v1/targets"))
                .bearer_auth(newcomer)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(as_newcomer(&host).await, 401);
    let token = format!(
        "\n[[tokens]]\nname = \"newcomer\"\nrole = \"provisioner\"\nsha256 = \"{}\"\n",
        hash_token(newcomer)
    );
    host.rewrite_targets(&(csv_target("hr", "approval = true\nmax_attributes = 8") + &token));
    let reloaded = host.post("/v1/config/reload", json!({})).await;
    assert_eq!(reloaded.status, 200, "{:?}", reloaded.body);
    assert_eq!(
        reloaded.body["changed"],
        json!(["targets.hr.approval", "targets.hr.max_attributes", "tokens"])
    );
    assert_eq!(as_newcomer(&host).await, 200);
    assert_eq!(host.get("/v1/targets/hr").await.body["approval"], true);
    let disable = host
        .submit("hr", json!({"kind": "disable", "identity": "e1"}))
        .await;
    host.wait_for(&disable, &["pending-approval"]).await;

    // Approval off and a key that needs a restart: neither applies.
    host.rewrite_targets(&(csv_target("hr", "concurrency = 2") + &token));
    let refused = host.post("/v1/config/reload", json!({})).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "restart-required");
    assert_eq!(refused.body["field"], "targets.hr.concurrency");
    assert_eq!(host.get("/v1/targets/hr").await.body["approval"], true);

    host.rewrite_targets(&csv_target("hr", "protected = 'nosuch eq \"x\"'"));
    let refused = host.post("/v1/config/reload", json!({})).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.body["field"], "targets.hr.protected");
    assert!(
        refused.body["detail"].as_str().unwrap().contains("nosuch"),
        "{:?}",
        refused.body
    );
    assert_eq!(
        as_newcomer(&host).await,
        200,
        "the tokens stay as they were"
    );

    // Only an operator reloads; a provisioner's request changes nothing.
    let provisioner = host.submit_raw("/v1/config/reload", json!({})).await;
    assert_eq!(provisioner.status, 403, "{:?}", provisioner.body);

    host.rewrite_targets(&(csv_target("hr", "approval = true\nmax_attributes = 8") + &token));
    // Hostile files: a key twice, a key in the wrong case, a file that is
    // gone; each names what is wrong and changes nothing.
    let text = std::fs::read_to_string(host.config_file()).unwrap();
    let duplicated = text.replace("approval = true", "approval = true\napproval = false");
    let mixed_case = text.replace("approval = true", "Approval = false");
    for (file, key) in [(duplicated, "approval"), (mixed_case, "Approval")] {
        std::fs::write(host.config_file(), &file).unwrap();
        let refused = host.post("/v1/config/reload", json!({})).await;
        assert_eq!(refused.status, 422, "{:?}", refused.body);
        assert!(
            refused.body["detail"].as_str().unwrap().contains(key),
            "{:?}",
            refused.body
        );
        assert_eq!(host.get("/v1/targets/hr").await.body["approval"], true);
    }
    std::fs::remove_file(host.config_file()).unwrap();
    let refused = host.post("/v1/config/reload", json!({})).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot read"),
        "{:?}",
        refused.body
    );
    std::fs::write(host.config_file(), &text).unwrap();
    // Reloads at once take turns: each answers, none sees half of another.
    let (a, b) = tokio::join!(
        host.post("/v1/config/reload", json!({})),
        host.post("/v1/config/reload", json!({}))
    );
    assert_eq!(
        (a.status, b.status),
        (200, 200),
        "{:?} {:?}",
        a.body,
        b.body
    );
    assert_eq!(a.body["changed"], json!([]));

    std::fs::write(host.config_file(), "[targets.hr\nconnector = ").unwrap();
    let refused = host.post("/v1/config/reload", json!({})).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "invalid-config");
    assert_eq!(host.get("/v1/targets/hr").await.body["approval"], true);

    host.rewrite_targets(&csv_target("hr", ""));
    let reloaded = host.post("/v1/config/reload", json!({})).await;
    assert_eq!(reloaded.status, 200, "{:?}", reloaded.body);
    assert_eq!(
        reloaded.body["changed"],
        json!(["targets.hr.approval", "targets.hr.max_attributes", "tokens"])
    );
    assert_eq!(
        as_newcomer(&host).await,
        401,
        "a removed token stops working"
    );
    // e1's next operation would queue behind its disable, in order.
    let created = host.run("hr", csv_account("e2", "2", "bob")).await;
    assert_eq!(created["status"], "succeeded", "{created}");
    assert_eq!(
        host.get(&format!("/v1/operations/{disable}")).await.body["status"],
        "pending-approval",
        "what waited for approval still does"
    );

    let audit = host.audit_all().await;
    let reloads: Vec<_> = audit
        .iter()
        .filter(|e| e["event"] == "config-reloaded")
        .map(|e| e["detail"]["changed"].clone())
        .collect();
    assert_eq!(reloads.len(), 5, "{reloads:?}");
    assert_eq!(reloads[1][2], "tokens");
    assert_eq!(
        reloads[2],
        json!([]),
        "the concurrent reloads changed nothing"
    );
    let refusals: Vec<_> = audit
        .iter()
        .filter(|e| e["event"] == "config-reload-refused")
        .collect();
    assert_eq!(refusals.len(), 6, "{refusals:?}");
    assert!(
        refusals[0]["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("targets.hr.concurrency"),
        "{:?}",
        refusals[0]
    );
    assert_eq!(refusals[0]["actor"], "ops");
}

mod directory {
    //! Items 1, 4, 5 and 6 against a real slapd (ppolicy loaded).

    use provisio_tests::host::TestHost;
    use provisio_tests::slapd::Slapd;
    use serde_json::{Value, json};
    use std::time::{Duration, Instant};

    const PEOPLE: &str = "ou=people,dc=example,dc=com";
    const GROUPS: &str = "ou=groups,dc=example,dc=com";

    async fn up() -> Slapd {
        let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
        slapd.admin(
            "ldapadd",
            &[],
            &format!(
                "dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
                 dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n"
            ),
        );
        slapd
    }

    /// `[targets.dir]` on the bundled LDAP connector over LDAPS, with
    /// `extra` lines in the target's table; the bind password is read from
    /// `{dir}/bind.pw`.
    fn target(slapd: &Slapd, extra: &str) -> String {
        format!(
            "[targets.dir]\nconnector = \"bundled:ldap\"\n{extra}\n\
             [targets.dir.grants.ldap]\nurls = [{ldaps:?}]\nbind_dn = {dn:?}\npassword = {{ file = \"{{dir}}/bind.pw\" }}\nca_file = {ca:?}\n\
             [targets.dir.config]\nurl = {ldaps:?}\nbase_dn = {base:?}\n\"account.base\" = {PEOPLE:?}\n\"group.base\" = {GROUPS:?}\n",
            ldaps = slapd.ldaps_url,
            dn = slapd.bind_dn,
            ca = slapd.ca_file.display().to_string(),
            base = slapd.base,
        )
    }

    async fn host(slapd: &Slapd, password: &str, extra: &str, server: &str) -> TestHost {
        let mut host = TestHost::start("", server, &[]).await;
        host.stop().await;
        std::fs::write(host.path("bind.pw"), password).unwrap();
        host.set_targets(&target(slapd, extra));
        host.restart().await;
        host
    }

    /// Polls the target until `ready` holds of it.
    async fn target_until(host: &TestHost, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let target = host.get("/v1/targets/dir").await.body;
            if ready(&target) {
                return target;
            }
            assert!(Instant::now() < deadline, "target never {what}: {target}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn person(identity: &str, name: &str) -> Value {
        json!({"kind": "create", "identity": identity,
               "attributes": {"__name__": name, "sn": name, "cn": name}})
    }

    /// A protected filter naming an attribute the directory does not have
    /// stops the host at start, naming it; one that holds refuses changes
    /// to what it matches, at submission when an approver would be asked,
    /// and says which part matched.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn protected_filters_are_checked_against_the_schema() {
        let slapd = up().await;
        let mut host = host(
            &slapd,
            &slapd.bind_password,
            "protected = 'name eq \"admin\" or departmentNumber eq \"0\"'\napproval = { kinds = [\"delete\"] }",
            "",
        )
        .await;
        let ada = host.run("dir", person("e1", "ada")).await;
        assert_eq!(ada["status"], "succeeded", "{ada}");
        slapd.admin(
            "ldapmodify",
            &[],
            &format!("dn: uid=ada,{PEOPLE}\nchangetype: modify\nadd: departmentNumber\ndepartmentNumber: 0\n"),
        );
        let refused = host
            .run(
                "dir",
                json!({"kind": "update", "identity": "e1",
                "changes": [{"op": "replace", "name": "cn", "values": "Ada L"}]}),
            )
            .await;
        assert_eq!(refused["error"]["code"], "protected", "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("matches `departmentNumber eq \"0\"`"),
            "{refused}"
        );
        // A delete would wait for approval: refused before an approver sees it.
        let delete = host
            .submit_raw(
                "/v1/targets/dir/operations",
                json!({"kind": "delete", "identity": "e1"}),
            )
            .await;
        assert_eq!(
            (delete.status, delete.body["code"].as_str()),
            (409, Some("protected")),
            "{:?}",
            delete.body
        );

        // The example every guide used to give: LDAP has no userName.
        host.stop().await;
        host.set_targets(&target(&slapd, "protected = 'userName eq \"admin\"'"));
        std::fs::write(host.config_file(), host.config_text()).unwrap();
        let config = provisio_host::config::Config::load(&host.config_file()).unwrap();
        let error = match provisio_host::server::Server::start(&config).await {
            Ok(_) => panic!("a filter naming no attribute of the target started"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            error.contains("protected")
                && error.contains("`userName`")
                && error.contains("`name` tests an account's name"),
            "{error}"
        );
    }

    /// A directory down at start: the schema cannot be read, so changes to
    /// a target with a protected filter wait (held, with the reason) and
    /// attributes cannot be checked; when the directory answers, the
    /// schema is read, the held work runs, and submissions are checked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_directory_down_at_start_holds_protected_changes_until_its_schema_is_read() {
        let slapd = up().await;
        slapd.stop();
        let host = host(
            &slapd,
            &slapd.bind_password,
            "protected = 'name eq \"admin\"'\nhealth = { interval = \"100ms\" }",
            "",
        )
        .await;
        let target = target_until(&host, "failing", |t| t["health"] == "failing").await;
        assert!(
            target["health_reason"]
                .as_str()
                .unwrap()
                .contains("cannot be reached"),
            "{target}"
        );
        assert_eq!(target["held"]["by"], "protection", "{target}");
        let id = host.submit("dir", person("e1", "ada")).await;
        let waiting = host.get(&format!("/v1/operations/{id}")).await.body;
        assert_eq!(waiting["status"], "queued", "{waiting}");
        assert_eq!(waiting["held"]["by"], "protection", "{waiting}");
        assert!(
            waiting["held"]["reason"]
                .as_str()
                .unwrap()
                .contains("schema"),
            "{waiting}"
        );

        slapd.start();
        let done = host.wait(&id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let target = target_until(&host, "healthy", |t| t["health"] == "ok").await;
        assert!(target["held"].is_null(), "{target}");
        // The schema is known now: an attribute the directory lacks is refused.
        let bogus = host
            .submit_raw(
                "/v1/targets/dir/operations",
                json!({"kind": "create", "identity": "e2",
                       "attributes": {"__name__": "bob", "sn": "b", "cn": "b", "favouriteColour": "blue"}}),
            )
            .await;
        assert_eq!(bogus.status, 400, "{:?}", bogus.body);
        assert!(
            bogus.body["detail"]
                .as_str()
                .unwrap()
                .contains("favouriteColour"),
            "{:?}",
            bogus.body
        );
    }

    /// A directory that goes away: health says so and why, `/readyz` (told
    /// to) answers 503 naming the target, the target is quarantined, its
    /// operations say they are held by it, and when the directory returns
    /// a probe lifts the quarantine and the held work runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quarantine_lifts_itself_when_the_directory_returns() {
        let slapd = up().await;
        let extra = "health = { interval = \"100ms\" }\n\
                     retry = { max_attempts = 1 }\n\
                     quarantine = { window = 4, min_calls = 4, failure_rate = 0.75, probe_interval = \"50ms\", max_probe_interval = \"400ms\" }";
        let host = host(
            &slapd,
            &slapd.bind_password,
            extra,
            "ready_requires_healthy_targets = true",
        )
        .await;
        target_until(&host, "healthy", |t| t["health"] == "ok").await;
        let ready = host
            .request(reqwest::Method::GET, "/readyz", None, None)
            .await;
        assert_eq!(ready.status, 200, "{:?}", ready.body);

        slapd.stop();
        let down = target_until(&host, "failing", |t| t["health"] == "failing").await;
        assert!(
            down["health_reason"]
                .as_str()
                .unwrap()
                .contains("cannot be reached"),
            "{down}"
        );
        let ready = host
            .request(reqwest::Method::GET, "/readyz", None, None)
            .await;
        assert_eq!(ready.status, 503);
        assert!(
            ready
                .body
                .as_str()
                .unwrap()
                .contains("target dir is failing"),
            "{:?}",
            ready.body
        );

        for i in 0..4 {
            let failed = host
                .run("dir", person(&format!("e{i}"), &format!("u{i}")))
                .await;
            assert_eq!(failed["error"]["code"], "unavailable", "{failed}");
        }
        target_until(&host, "quarantined", |t| t["health"] == "quarantined").await;
        let held = host.submit("dir", person("e9", "grace")).await;
        let waiting = host.get(&format!("/v1/operations/{held}")).await.body;
        assert_eq!(waiting["held"]["by"], "quarantine", "{waiting}");

        slapd.start();
        let done = host.wait(&held).await;
        assert_eq!(
            done["status"], "succeeded",
            "ran once the probe lifted the quarantine: {done}"
        );
        let lifted = host
            .audit_of_target("dir")
            .await
            .into_iter()
            .find(|e| e["event"] == "quarantine-lifted")
            .expect("the lift is audited");
        assert_eq!(lifted["actor"], "engine", "{lifted}");
        target_until(&host, "healthy", |t| t["health"] == "ok").await;
    }

    /// Credentials the directory refuses make the target `failing` with
    /// that reason, though the host itself is up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_credentials_make_the_target_failing() {
        let slapd = up().await;
        let host = host(
            &slapd,
            "not the password",
            "health = { interval = \"100ms\" }",
            "",
        )
        .await;
        let target = target_until(&host, "failing", |t| t["health"] == "failing").await;
        assert!(
            target["health_reason"]
                .as_str()
                .unwrap()
                .contains("refuses"),
            "{target}"
        );
    }

    /// OpenLDAP's ppolicy unlocks an account when an administrator sets its
    /// password; the host writes the disabled state back, so a disabled
    /// user stays out, and says it did.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn setting_a_password_keeps_a_disabled_account_disabled() {
        let slapd = up().await;
        let host = host(&slapd, &slapd.bind_password, "", "").await;
        let mut ada = person("e1", "ada");
        ada["attributes"]["__password__"] = json!("first secret 1");
        assert_eq!(host.run("dir", ada).await["status"], "succeeded");
        let dn = format!("uid=ada,{PEOPLE}");
        assert!(slapd.can_bind(&dn, "first secret 1"));
        let disabled = host
            .run("dir", json!({"kind": "disable", "identity": "e1"}))
            .await;
        assert_eq!(disabled["status"], "succeeded", "{disabled}");
        assert!(!slapd.can_bind(&dn, "first secret 1"), "disabled");

        let reset = host
            .run(
                "dir",
                json!({"kind": "set-password", "identity": "e1", "password": "second secret 2"}),
            )
            .await;
        assert_eq!(reset["status"], "succeeded", "{reset}");
        assert!(
            !slapd.can_bind(&dn, "second secret 2"),
            "a disabled account stays disabled after a password change: {reset}"
        );
        assert_eq!(reset["result"]["enable_restored"], false, "{reset}");
        let entry = slapd.admin(
            "ldapsearch",
            &["-LLL", "-b", &dn, "-s", "base", "pwdAccountLockedTime"],
            "",
        );
        assert!(
            entry.contains("pwdAccountLockedTime: 000001010000Z"),
            "{entry}"
        );

        // Enabled accounts stay enabled, and nothing is written back.
        let enabled = host
            .run("dir", json!({"kind": "enable", "identity": "e1"}))
            .await;
        assert_eq!(enabled["status"], "succeeded", "{enabled}");
        let reset = host
            .run(
                "dir",
                json!({"kind": "set-password", "identity": "e1", "password": "third secret 3"}),
            )
            .await;
        assert!(reset["result"].get("enable_restored").is_none(), "{reset}");
        assert!(slapd.can_bind(&dn, "third secret 3"));
    }

    /// `add-member` takes a group's name as well as its uid; a name no
    /// group has is `not-found` saying so, and linking a uid the directory
    /// does not have answers 404, not 502.
    /// A connector call's audit row names the entry (its name and uid) and
    /// the attributes written, never a password's value.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_audit_log_names_the_entry_and_what_was_written() {
        let slapd = up().await;
        let host = host(&slapd, &slapd.bind_password, "", "").await;
        let created = host.run("dir", person("e1", "ada")).await;
        assert_eq!(created["status"], "succeeded", "{created}");
        let changed = host
            .run(
                "dir",
                json!({"kind": "update", "identity": "e1", "changes": [
                    {"op": "replace", "name": "description", "values": "moved"},
                    {"op": "replace", "name": "__password__", "values": "S3cret-value-9"}]}),
            )
            .await;
        assert_eq!(changed["status"], "succeeded", "{changed}");
        let rows = host.audit_of(changed["id"].as_str().unwrap()).await;
        let write = rows
            .iter()
            .find(|e| e["event"] == "call" && e["detail"]["operation"] == "update")
            .unwrap_or_else(|| panic!("no update call in {rows:?}"));
        assert_eq!(write["detail"]["name"], "ada", "{write}");
        assert_eq!(write["detail"]["uid"], created["result"]["uid"], "{write}");
        assert_eq!(
            write["detail"]["attributes"],
            json!(["description", "__password__"]),
            "{write}"
        );
        let everything = serde_json::to_string(&host.audit_all().await).unwrap();
        assert!(!everything.contains("S3cret-value-9"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_by_name_and_links_to_nothing() {
        let slapd = up().await;
        let host = host(&slapd, &slapd.bind_password, "", "").await;
        // groupOfNames needs a member; the directory's own placeholder.
        slapd.admin(
            "ldapadd",
            &[],
            &format!(
                "dn: cn=engineering,{GROUPS}\nobjectClass: groupOfNames\ncn: engineering\nmember: cn=nobody\n"
            ),
        );
        assert_eq!(
            host.run("dir", person("e1", "ada")).await["status"],
            "succeeded"
        );
        let added = host
            .run(
                "dir",
                json!({"kind": "add-member", "identity": "e1", "group": "engineering"}),
            )
            .await;
        assert_eq!(added["status"], "succeeded", "{added}");
        let members = slapd.admin(
            "ldapsearch",
            &[
                "-LLL",
                "-b",
                &format!("cn=engineering,{GROUPS}"),
                "-s",
                "base",
                "member",
            ],
            "",
        );
        assert!(members.contains(&format!("uid=ada,{PEOPLE}")), "{members}");

        let missing = host
            .run(
                "dir",
                json!({"kind": "add-member", "identity": "e1", "group": "research"}),
            )
            .await;
        assert_eq!(missing["error"]["code"], "not-found", "{missing}");
        assert!(
            missing["error"]["message"]
                .as_str()
                .unwrap()
                .contains("uid or name \"research\""),
            "{missing}"
        );

        let link = host
            .post(
                "/v1/targets/dir/links",
                json!({"identity": "e7", "uid": "no-such-uid"}),
            )
            .await;
        assert_eq!(
            (link.status, link.body["code"].as_str()),
            (404, Some("unknown-account")),
            "{:?}",
            link.body
        );
    }
}

//! Reconciliation through the real host against real servers: every
//! situation seeded on the target behind Provisio's back, classified,
//! planned, applied exactly (a changed account `stale`), guarded by the
//! deletion budget, and a second run that finds nothing left to repair.

use provisio_tests::host::{PROVISIONER, TestHost};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Starts a run of `target` as the operator and waits for it to stop
/// moving (any state but `running` and `applying`).
async fn reconcile(host: &TestHost, target: &str, body: Value) -> Value {
    let started = host
        .post(&format!("/v1/targets/{target}/reconciliations"), body)
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    wait_run(host, started.body["id"].as_str().unwrap()).await
}

async fn wait_run(host: &TestHost, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let run = host.get(&format!("/v1/reconciliations/{id}")).await.body;
        if !["running", "applying"].contains(&run["state"].as_str().unwrap_or("")) {
            return run;
        }
        assert!(Instant::now() < deadline, "the run never ended: {run}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every item of a run, by account name (a deleted one by its uid).
async fn items(host: &TestHost, run: &Value) -> BTreeMap<String, Value> {
    let id = run["id"].as_str().unwrap();
    let page = host
        .get(&format!("/v1/reconciliations/{id}/items?limit=1000"))
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let key = item["name"].as_str().or(item["uid"].as_str()).unwrap();
            (key.to_owned(), item.clone())
        })
        .collect()
}

fn situation(items: &BTreeMap<String, Value>, name: &str) -> String {
    items
        .get(name)
        .unwrap_or_else(|| panic!("no item for {name} in {items:#?}"))["situation"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Operations of a target not yet ended, and all of them.
async fn operations(host: &TestHost, target: &str) -> (usize, usize) {
    let all = host
        .get(&format!("/v1/operations?target={target}&limit=1000"))
        .await
        .body["operations"]
        .as_array()
        .unwrap()
        .clone();
    let open = all
        .iter()
        .filter(|o| !["succeeded", "failed", "cancelled"].contains(&o["status"].as_str().unwrap()))
        .count();
    (open, all.len())
}

async fn settle(host: &TestHost, target: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while operations(host, target).await.0 > 0 {
        assert!(Instant::now() < deadline, "operations never ended");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A real target the scenario seeds behind Provisio's back.
trait Seeded {
    /// `[targets.acct]` on this server, with `accounts_extra` in its policy
    /// map's table and `recon` in its reconciliation table.
    fn target(&self, accounts_extra: &str, recon: &str) -> String;
    /// Files the target's configuration reads (passwords).
    fn prepare(&self, host: &TestHost);
    async fn add(&self, name: &str, first: &str, last: &str, extra: &[(&str, &str)]);
    async fn set(&self, name: &str, attribute: &str, value: &str);
    async fn delete(&self, name: &str);
    async fn disabled(&self, name: &str) -> bool;
    async fn value(&self, name: &str, attribute: &str) -> Option<String>;
    fn stop(&self);
    fn start(&self);
}

/// The policy map and reconciliation rules both servers share (the
/// attributes are named alike on both).
fn policy(accounts_extra: &str, recon: &str) -> String {
    format!(
        r#"
[targets.acct.accounts]
default_role = "staff"
{accounts_extra}
[targets.acct.accounts.attributes]
__name__ = "{{{{ (first[0] ~ last) | normalize_diacritics | lower }}}}"
cn = "{{{{ first }}}} {{{{ last }}}}"
sn = "{{{{ last }}}}"
givenName = "{{{{ first }}}}"
departmentNumber = "{{{{ department }}}}"
employeeNumber = {{ expr = "id", create_only = true }}

[targets.acct.reconciliation]
{recon}
[[targets.acct.reconciliation.correlation]]
match = {{ employeeNumber = "id" }}
[[targets.acct.reconciliation.correlation]]
match = {{ givenName = "first", sn = "last" }}
normalize = ["case", "whitespace", "diacritics"]

[roles.staff]
[roles.staff.targets.acct]
"#
    )
}

/// Every situation seeded, classified, planned, applied exactly (one item
/// stale), stopped by the budget until confirmed; a second run finds
/// nothing left to repair; the target down fails a run that applies
/// nothing, and a rerun completes.
async fn every_situation<S: Seeded>(server: S) {
    let mut host = TestHost::start("", "", &[]).await;
    host.stop().await;
    server.prepare(&host);
    // At first Alan (1003) and the two Will Smiths are out of scope: they
    // are identities with no account here.
    let scope = r#"scope = "id not in ['1003', '1005', '1006']""#;
    host.set_targets(&server.target(scope, "max_deletes = 1"));
    host.restart().await;
    let people = [
        ("1001", "Ada", "Lovelace", "Research"),
        ("1002", "Grace", "Hopper", "Research"),
        ("1003", "Alan", "Turing", "Research"),
        ("1004", "Edsger", "Dijkstra", "Research"),
        ("1005", "Will", "Smith", "Sales"),
        ("1006", "Will", "Smith", "Research"),
        ("1007", "Barbara", "Liskov", "Research"),
    ];
    for (id, first, last, department) in people {
        let outcome = host
            .put_identity(
                id,
                "",
                json!({"profile": {"first": first, "last": last, "department": department}}),
            )
            .await;
        assert_eq!(outcome.status, 201, "{:?}", outcome.body);
        host.settle(&outcome.body).await;
    }
    // Behind Provisio's back: a drifted attribute, Alan's account made by
    // hand (unlinked, matched by employee number), two orphans, an account
    // both Will Smiths match, a second account for Edsger, a linked
    // account deleted, and the protected admin.
    server.set("ghopper", "departmentNumber", "Marketing").await;
    server
        .add(
            "aturing",
            "Alan",
            "Turing",
            &[("departmentNumber", "Research"), ("employeeNumber", "1003")],
        )
        .await;
    server
        .add(
            "orphan1",
            "Old",
            "Contractor",
            &[("employeeNumber", "9001")],
        )
        .await;
    server
        .add("orphan2", "Gone", "Temp", &[("employeeNumber", "9002")])
        .await;
    server.add("wsmith", "Will", "Smith", &[]).await;
    server
        .add(
            "edijkstra2",
            "Edsger",
            "Dijkstra",
            &[("employeeNumber", "1004")],
        )
        .await;
    server
        .add("admin", "Directory", "Admin", &[("employeeNumber", "1001")])
        .await;
    server.delete("bliskov").await;

    // Now everyone is in scope; reactions repair.
    host.stop().await;
    let reactions = "max_deletes = 1\n[targets.acct.reconciliation.reactions]\n\
                     drifted = \"update\"\nunlinked = \"link\"\nunmatched = \"disable\"\ndeleted = \"create\"\n";
    host.set_targets(&server.target("", reactions));
    host.restart().await;
    let (_, before) = operations(&host, "acct").await;

    // A dry run classifies every account exactly and submits nothing.
    let dry = reconcile(&host, "acct", json!({"dry_run": true})).await;
    assert_eq!(dry["state"], "planned", "{dry}");
    let plan = items(&host, &dry).await;
    let expected = [
        ("alovelace", "in-sync"),
        ("edijkstra", "in-sync"),
        ("ghopper", "drifted"),
        ("aturing", "unlinked"),
        ("orphan1", "unmatched"),
        ("orphan2", "unmatched"),
        ("wsmith", "disputed"),
        ("edijkstra2", "collision"),
        ("admin", "protected"),
    ];
    for (name, expected) in expected {
        assert_eq!(
            situation(&plan, name),
            expected,
            "{name}: {:#?}",
            plan[name]
        );
    }
    let deleted: Vec<&Value> = plan
        .values()
        .filter(|i| i["situation"] == "deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{plan:#?}");
    assert_eq!(deleted[0]["identity"], "1007");
    assert_eq!(deleted[0]["reaction"], "create");
    assert_eq!(
        deleted[0]["operations"][0]["kind"], "create",
        "{:#?}",
        deleted[0]
    );
    assert_eq!(plan.len(), expected.len() + 1, "nothing else: {plan:#?}");
    assert_eq!(dry["seen"], 9, "{dry}");
    assert_eq!(dry["situations"]["unmatched"], 2, "{dry}");
    assert_eq!(dry["removals"], 2, "{dry}");
    let drift = &plan["ghopper"];
    assert_eq!(drift["reaction"], "update");
    assert_eq!(
        drift["diffs"],
        json!([{"attribute": "departmentNumber", "expected": "Research", "actual": "Marketing"}]),
        "{drift:#}"
    );
    assert_eq!(plan["aturing"]["identity"], "1003");
    assert_eq!(plan["wsmith"]["candidates"], json!(["1005", "1006"]));
    assert_eq!(plan["edijkstra2"]["identity"], "1004");
    assert_eq!(plan["admin"]["reaction"], "report");
    assert_eq!(
        operations(&host, "acct").await.1,
        before,
        "a dry run submits nothing"
    );
    assert_eq!(
        server.value("ghopper", "departmentNumber").await.as_deref(),
        Some("Marketing")
    );
    assert!(!server.disabled("orphan1").await);

    // The report says the same, one row per item.
    let id = dry["id"].as_str().unwrap();
    let csv = host
        .get(&format!("/v1/reconciliations/{id}/report.csv"))
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap().to_owned();
    assert!(
        text.starts_with("seq,situation,uid,name,identity,reaction,why"),
        "{text}"
    );
    assert_eq!(text.lines().count(), plan.len() + 1, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("ghopper") && l.contains("departmentNumber: Marketing -> Research")),
        "{text}"
    );
    let only = host
        .get(&format!(
            "/v1/reconciliations/{id}/items?situation=unmatched"
        ))
        .await;
    assert_eq!(
        only.body["items"].as_array().unwrap().len(),
        2,
        "{:?}",
        only.body
    );
    let bad = host
        .get(&format!("/v1/reconciliations/{id}/items?situation=lost"))
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);

    // Between the dry run and applying it, orphan2 changes on the target:
    // it is stale and not touched.
    server.set("orphan2", "sn", "Temporary").await;

    // Applying needs the operator; two disables is over the budget of one,
    // so applying stops before anything is done.
    let refused = host
        .request(
            reqwest::Method::POST,
            &format!("/v1/reconciliations/{id}/apply"),
            Some(PROVISIONER),
            None,
        )
        .await;
    assert_eq!(refused.status, 403);
    let applying = host
        .post(&format!("/v1/reconciliations/{id}/apply"), json!({}))
        .await;
    assert_eq!(applying.status, 202, "{:?}", applying.body);
    let stopped = wait_run(&host, id).await;
    assert_eq!(stopped["state"], "needs-confirmation", "{stopped}");
    assert_eq!(stopped["budget"]["removals"], 2, "{stopped}");
    assert!(
        stopped["budget"]["reason"]
            .as_str()
            .unwrap()
            .contains("max_deletes"),
        "{stopped}"
    );
    assert_eq!(
        operations(&host, "acct").await.1,
        before,
        "nothing was applied"
    );
    assert!(!server.disabled("orphan1").await);

    // The operator confirms: exactly the planned items are applied.
    let confirmed = host
        .post(&format!("/v1/reconciliations/{id}/confirm"), json!({}))
        .await;
    assert_eq!(confirmed.status, 202, "{:?}", confirmed.body);
    let done = wait_run(&host, id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["confirmed_by"], "ops", "{done}");
    assert_eq!(done["applied"]["stale"], 1, "{done}");
    assert_eq!(done["applied"]["failed"], 0, "{done}");
    settle(&host, "acct").await;
    let applied = items(&host, &done).await;
    let orphan2 = &applied["orphan2"]["outcome"];
    assert_eq!(orphan2["result"], "stale", "{orphan2:#}");
    assert!(
        orphan2["detail"].as_str().unwrap().contains("sn"),
        "{orphan2:#}"
    );
    assert!(
        !server.disabled("orphan2").await,
        "a stale item is not touched"
    );
    assert!(server.disabled("orphan1").await, "the orphan is disabled");
    assert_eq!(
        server.value("ghopper", "departmentNumber").await.as_deref(),
        Some("Research"),
        "drift repaired"
    );
    assert_eq!(
        server.value("bliskov", "employeeNumber").await.as_deref(),
        Some("1007"),
        "re-created"
    );
    let links = host.get("/v1/targets/acct/links?limit=1000").await.body;
    let alan = links
        .as_array()
        .or(links["links"].as_array())
        .unwrap()
        .iter()
        .find(|l| l["identity"] == "1003")
        .cloned()
        .unwrap_or_else(|| panic!("1003 is not linked: {links}"));
    assert_eq!(
        alan["uid"], plan["aturing"]["uid"],
        "linked to the account it matched"
    );
    assert!(!server.disabled("admin").await);
    assert_eq!(
        server.value("admin", "employeeNumber").await.as_deref(),
        Some("1001")
    );
    assert!(
        !server.disabled("edijkstra2").await,
        "a collision is reported only"
    );
    let again = host
        .post(&format!("/v1/reconciliations/{id}/apply"), json!({}))
        .await;
    assert_eq!(again.status, 409, "a run applies once: {:?}", again.body);

    // A second run finds nothing to repair: what is left is what the
    // reactions only report (the dispute, the collision, the admin) and the
    // stale orphan.
    let second_run = reconcile(&host, "acct", json!({"dry_run": true})).await;
    let second = items(&host, &second_run).await;
    for name in [
        "alovelace",
        "ghopper",
        "aturing",
        "edijkstra",
        "bliskov",
        "orphan1",
    ] {
        assert_eq!(
            situation(&second, name),
            "in-sync",
            "{name}: {:#?}",
            second[name]
        );
    }
    assert_eq!(situation(&second, "orphan2"), "unmatched");
    assert_eq!(situation(&second, "wsmith"), "disputed");
    assert_eq!(situation(&second, "edijkstra2"), "collision");
    assert_eq!(situation(&second, "admin"), "protected");
    assert!(
        second_run["situations"].get("drifted").is_none(),
        "{second_run}"
    );
    assert!(
        second_run["situations"].get("deleted").is_none(),
        "{second_run}"
    );

    // The target down: the run fails at its first page, applying nothing;
    // back up, a rerun completes (and disables orphan2, within budget).
    server.stop();
    let failed = reconcile(&host, "acct", json!({})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["pages"], 0, "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("page 1"),
        "{failed}"
    );
    assert_eq!(failed["applied"]["applied"], 0, "{failed}");
    server.start();
    let rerun = reconcile(&host, "acct", json!({})).await;
    assert_eq!(rerun["state"], "succeeded", "{rerun}");
    settle(&host, "acct").await;
    assert!(server.disabled("orphan2").await, "{rerun}");
}

/// A host stopped while a run reads: the run stays `running`, and the host
/// started again reads it again from the start (connector page cookies do
/// not outlive a process) to the end, each account once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_a_stopped_host_left_resumes_when_it_starts_again() {
    const ACCOUNTS: usize = 20_000;
    let mut host = TestHost::start(
        &provisio_tests::host::csv_target("acct", "[targets.acct.reconciliation]"),
        "",
        &["acct"],
    )
    .await;
    let mut rows = String::from("id,userName,department,active\n");
    for i in 0..ACCOUNTS {
        rows.push_str(&format!("{i:05},user{i:05},Sales,true\n"));
    }
    std::fs::write(host.path("acct/accounts.csv"), rows).unwrap();
    let started = host
        .post("/v1/targets/acct/reconciliations", json!({"dry_run": true}))
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let id = started.body["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = host.get(&format!("/v1/reconciliations/{id}")).await.body;
        assert_eq!(
            run["state"], "running",
            "the run ended before the host stopped: {run}"
        );
        if run["pages"].as_u64().unwrap() >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    host.restart().await;
    let done = wait_run(&host, &id).await;
    assert_eq!(done["state"], "planned", "{done}");
    assert_eq!(done["seen"], ACCOUNTS, "every account once: {done}");
    assert_eq!(done["situations"]["unmatched"], ACCOUNTS, "{done}");
    let resumed = host
        .audit_all()
        .await
        .into_iter()
        .filter(|row| row["event"] == "reconciliation-resumed")
        .count();
    assert_eq!(resumed, 1, "the host resumed the run it left");
}

mod slapd {
    use super::*;
    use provisio_tests::slapd::Slapd;

    const PEOPLE: &str = "ou=people,dc=example,dc=com";

    struct Directory(Slapd);

    impl Seeded for Directory {
        fn target(&self, accounts_extra: &str, recon: &str) -> String {
            let slapd = &self.0;
            format!(
                r#"[targets.acct]
connector = "bundled:ldap"
on_delete = "delete"
protected = 'name eq "admin"'
[targets.acct.grants.ldap]
urls = [{ldaps:?}]
bind_dn = {dn:?}
password = {{ file = "{{dir}}/bind.pw" }}
ca_file = {ca:?}
[targets.acct.config]
url = {ldaps:?}
base_dn = {base:?}
"account.base" = {PEOPLE:?}
"sync.accesslog_base" = "cn=accesslog"
"#,
                ldaps = slapd.ldaps_url,
                dn = slapd.bind_dn,
                ca = slapd.ca_file.display().to_string(),
                base = slapd.base,
            ) + &policy(accounts_extra, recon)
        }

        fn prepare(&self, host: &TestHost) {
            std::fs::write(host.path("bind.pw"), &self.0.bind_password).unwrap();
        }

        async fn add(&self, name: &str, first: &str, last: &str, extra: &[(&str, &str)]) {
            let mut ldif = format!(
                "dn: uid={name},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {name}\n\
                 cn: {first} {last}\nsn: {last}\ngivenName: {first}\n"
            );
            for (attribute, value) in extra {
                ldif.push_str(&format!("{attribute}: {value}\n"));
            }
            self.0.admin("ldapadd", &[], &ldif);
        }

        async fn set(&self, name: &str, attribute: &str, value: &str) {
            self.0.admin(
                "ldapmodify",
                &[],
                &format!(
                    "dn: uid={name},{PEOPLE}\nchangetype: modify\nreplace: {attribute}\n{attribute}: {value}\n"
                ),
            );
        }

        async fn delete(&self, name: &str) {
            self.0
                .admin("ldapdelete", &[&format!("uid={name},{PEOPLE}")], "");
        }

        async fn disabled(&self, name: &str) -> bool {
            // ppolicy's lock is how the LDAP connector disables.
            self.value(name, "pwdAccountLockedTime").await.is_some()
        }

        async fn value(&self, name: &str, attribute: &str) -> Option<String> {
            let found = self.0.admin(
                "ldapsearch",
                &["-LLL", "-b", PEOPLE, &format!("(uid={name})"), attribute],
                "",
            );
            found
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{attribute}: ")))
                .map(str::to_owned)
        }

        fn stop(&self) {
            self.0.stop();
        }

        fn start(&self) {
            self.0.start();
        }
    }

    /// Live reconciliation: an account added behind Provisio's back shows
    /// up `unmatched`, a linked one deleted `deleted`, within a few polls of
    /// one second (the LDAP connector reports a change once it is a second
    /// old).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn live_reconciliation_on_slapd_sees_changes_as_they_happen() {
        let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
        slapd.admin(
            "ldapadd",
            &[],
            &format!("dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"),
        );
        let directory = Directory(slapd);
        let mut host = TestHost::start("", "", &[]).await;
        host.stop().await;
        directory.prepare(&host);
        host.set_targets(&directory.target("", "live = \"1s\""));
        host.restart().await;
        let outcome = host
            .put_identity(
                "1001",
                "",
                json!({"profile": {"first": "Ada", "last": "Lovelace", "department": "Research"}}),
            )
            .await;
        assert_eq!(outcome.status, 201, "{:?}", outcome.body);
        host.settle(&outcome.body).await;
        // The first poll marks "now"; what exists before it is a full run's.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        directory
            .add("intruder", "Eve", "Intruder", &[("employeeNumber", "6666")])
            .await;
        directory.delete("alovelace").await;

        let deadline = Instant::now() + Duration::from_secs(30);
        let seen = loop {
            let runs = host.get("/v1/targets/acct/reconciliations").await.body;
            let mut seen: BTreeMap<String, Value> = BTreeMap::new();
            for run in runs.as_array().unwrap() {
                assert_eq!(run["requested_by"], "provisio:live", "{run}");
                if run["state"] == "succeeded" {
                    seen.extend(items(&host, run).await);
                }
            }
            let done =
                seen.contains_key("intruder") && seen.values().any(|i| i["situation"] == "deleted");
            if done {
                break seen;
            }
            assert!(
                Instant::now() < deadline,
                "live reconciliation saw only {seen:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(situation(&seen, "intruder"), "unmatched", "{seen:#?}");
        let deleted = seen.values().find(|i| i["situation"] == "deleted").unwrap();
        assert_eq!(deleted["identity"], "1001", "{deleted:#}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_situation_on_slapd() {
        let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
        slapd.admin(
            "ldapadd",
            &[],
            &format!("dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"),
        );
        every_situation(Directory(slapd)).await;
    }
}

mod postgres {
    use super::*;
    use provisio_tests::postgres::Postgres;

    struct Database(Postgres);

    /// The column behind each attribute the scenario touches.
    fn column(attribute: &str) -> &str {
        match attribute {
            "givenName" => "given_name",
            "departmentNumber" => "department",
            "employeeNumber" => "employee_number",
            other => other,
        }
    }

    impl Database {
        async fn execute(&self, statement: String, binds: &[&str]) {
            let pool = self.0.connect().await;
            let statement = sqlx::AssertSqlSafe(statement);
            let mut query = sqlx::query(statement);
            for bind in binds {
                query = query.bind(*bind);
            }
            query.execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    impl Seeded for Database {
        fn target(&self, accounts_extra: &str, recon: &str) -> String {
            format!(
                r#"[targets.acct]
connector = "bundled:sql"
on_delete = "delete"
protected = 'name eq "admin"'
[targets.acct.grants.sql.main]
url = {url:?}
password = {{ file = "{{dir}}/pg.pw" }}
[targets.acct.config]
classes = "account"
"account.table" = "accounts"
"account.key_generated" = "true"
"account.name" = "username"
"account.enable" = "active"
"account.attribute.givenName" = "given_name"
"account.attribute.departmentNumber" = "department"
"account.attribute.employeeNumber" = "employee_number"
"#,
                url = self.0.url,
            ) + &policy(accounts_extra, recon)
        }

        fn prepare(&self, host: &TestHost) {
            std::fs::write(host.path("pg.pw"), &self.0.password).unwrap();
        }

        async fn add(&self, name: &str, first: &str, last: &str, extra: &[(&str, &str)]) {
            let mut columns = vec!["username", "cn", "sn", "given_name"];
            let cn = format!("{first} {last}");
            let mut values = vec![name, cn.as_str(), last, first];
            for (attribute, value) in extra {
                columns.push(column(attribute));
                values.push(value);
            }
            let marks: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
            self.execute(
                format!(
                    "INSERT INTO accounts ({}) VALUES ({})",
                    columns.join(", "),
                    marks.join(", ")
                ),
                &values,
            )
            .await;
        }

        async fn set(&self, name: &str, attribute: &str, value: &str) {
            self.execute(
                format!(
                    "UPDATE accounts SET {} = $1 WHERE username = $2",
                    column(attribute)
                ),
                &[value, name],
            )
            .await;
        }

        async fn delete(&self, name: &str) {
            self.execute("DELETE FROM accounts WHERE username = $1".into(), &[name])
                .await;
        }

        async fn disabled(&self, name: &str) -> bool {
            self.value(name, "active").await.as_deref() == Some("false")
        }

        async fn value(&self, name: &str, attribute: &str) -> Option<String> {
            let pool = self.0.connect().await;
            let query = sqlx::AssertSqlSafe(format!(
                "SELECT CAST({} AS TEXT) FROM accounts WHERE username = $1",
                column(attribute)
            ));
            let value: Option<Option<String>> = sqlx::query_scalar(query)
                .bind(name)
                .fetch_optional(&pool)
                .await
                .unwrap();
            pool.close().await;
            value.flatten()
        }

        fn stop(&self) {
            self.0.stop();
        }

        fn start(&self) {
            self.0.start();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_situation_on_postgres() {
        let pg = tokio::task::spawn_blocking(Postgres::up).await.unwrap();
        let db = Database(pg);
        db.execute(
            "CREATE TABLE accounts (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                username text NOT NULL UNIQUE,
                cn text, sn text, given_name text, department text,
                employee_number text,
                active boolean NOT NULL DEFAULT true)"
                .into(),
            &[],
        )
        .await;
        every_situation(db).await;
    }
}

/// A reconciliation section that cannot work is refused when the file
/// loads, naming the key.
#[test]
fn a_bad_reconciliation_section_is_refused_at_load_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (section, key, reason) in [
        (
            "[targets.acct.reconciliation.reactions]\ndeleted = \"disable\"",
            "targets.acct.reconciliation.reactions.deleted",
            "may be report, create, unlink",
        ),
        (
            "[targets.acct.reconciliation.reactions]\nlost = \"report\"",
            "targets.acct.reconciliation",
            "lost",
        ),
        (
            "[targets.acct.reconciliation]\nmax_delete_share = 1.5",
            "targets.acct.reconciliation.max_delete_share",
            "between 0 and 1",
        ),
        (
            "[[targets.acct.reconciliation.correlation]]\nmatch = {}",
            "targets.acct.reconciliation.correlation[0].match",
            "at least one attribute",
        ),
    ] {
        std::fs::create_dir_all(dir.path().join("acct")).unwrap();
        let text = format!(
            "[server]\ninsecure_no_auth = true\n{}\n{section}\n",
            provisio_tests::host::csv_target("acct", "")
                .replace("{dir}", dir.path().to_str().unwrap())
        );
        let error = provisio_host::config::Config::parse(
            &text,
            &dir.path().join("provisio.toml"),
            dir.path(),
        )
        .expect_err(section)
        .to_string();
        assert!(error.contains(key), "{section}: {error}");
        assert!(error.contains(reason), "{section}: {error}");
    }
}

/// What a hostile or careless caller can send the reconciliation routes:
/// each is a clear refusal that starts and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_reconciliation_requests_start_nothing() {
    let host = TestHost::start(
        &provisio_tests::host::csv_target("acct", "[targets.acct.reconciliation]"),
        "",
        &["acct"],
    )
    .await;
    let raw = |body: &'static str| {
        let host = &host;
        async move {
            reqwest::Client::new()
                .post(format!("{}/v1/targets/acct/reconciliations", host.base))
                .bearer_auth(provisio_tests::host::OPERATOR)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(raw("{\"dry_run\": ").await, 400, "malformed JSON");
    assert_eq!(
        raw("{\"dry_run\": true, \"sort\": 1}").await,
        400,
        "an unknown field"
    );
    assert_eq!(raw("{\"dry_run\": \"yes\"}").await, 400, "a wrong type");
    assert_eq!(
        raw("{\"reactions\": {\"lost\": \"report\"}}").await,
        400,
        "an unknown situation"
    );
    let huge = format!("{{\"class\": \"{}\"}}", "x".repeat(2 << 20));
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/targets/acct/reconciliations", host.base))
        .bearer_auth(provisio_tests::host::OPERATOR)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 413, "a body over the server's limit");
    let wrong = host
        .post(
            "/v1/targets/acct/reconciliations",
            json!({"reactions": {"deleted": "disable"}}),
        )
        .await;
    assert_eq!(wrong.status, 400, "{:?}", wrong.body);
    assert_eq!(wrong.body["field"], "reactions.deleted", "{:?}", wrong.body);
    let not_operator = host
        .request(
            reqwest::Method::POST,
            "/v1/targets/acct/reconciliations",
            Some(PROVISIONER),
            Some(json!({"reactions": {"unmatched": "delete"}})),
        )
        .await;
    assert_eq!(
        not_operator.status, 403,
        "overriding reactions takes an operator"
    );
    for path in [
        "/v1/targets/nowhere/reconciliations",
        "/v1/targets/..%2Facct/reconciliations",
    ] {
        let reply = host.post(path, json!({})).await;
        assert_eq!(reply.status, 404, "{path}: {:?}", reply.body);
    }
    let runs = host.get("/v1/targets/acct/reconciliations").await;
    assert_eq!(runs.body, json!([]), "nothing was started: {:?}", runs.body);

    // Unknown runs, bad paging, and decisions in the wrong state.
    assert_eq!(host.get("/v1/reconciliations/nope").await.status, 404);
    assert_eq!(host.get("/v1/reconciliations/nope/items").await.status, 404);
    assert_eq!(
        host.get("/v1/reconciliations/nope/report.csv").await.status,
        404
    );
    for verb in ["apply", "confirm", "abandon"] {
        let reply = host
            .post(&format!("/v1/reconciliations/nope/{verb}"), json!({}))
            .await;
        assert_eq!(reply.status, 404, "{verb}: {:?}", reply.body);
    }
    std::fs::write(
        host.path("acct/accounts.csv"),
        "id,userName,department,active\n1,ada,Sales,true\n",
    )
    .unwrap();
    let done = reconcile(&host, "acct", json!({})).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let id = done["id"].as_str().unwrap();
    for (verb, status) in [("apply", 409), ("confirm", 409), ("abandon", 409)] {
        let reply = host
            .post(&format!("/v1/reconciliations/{id}/{verb}"), json!({}))
            .await;
        assert_eq!(
            reply.status, status,
            "{verb} of a finished run: {:?}",
            reply.body
        );
    }
    assert_eq!(
        host.get(&format!("/v1/reconciliations/{id}/items?after=x"))
            .await
            .status,
        400
    );
    let clamped = host
        .get(&format!("/v1/reconciliations/{id}/items?limit=0"))
        .await;
    assert_eq!(clamped.status, 200, "{:?}", clamped.body);
    assert_eq!(clamped.body["items"].as_array().unwrap().len(), 1);
    // A class the target does not have fails the run naming it, applying
    // nothing.
    let unknown = reconcile(&host, "acct", json!({"class": "printer"})).await;
    assert_eq!(unknown["state"], "failed", "{unknown}");
    assert!(
        unknown["error"].as_str().unwrap().contains("printer"),
        "{unknown}"
    );
    assert_eq!(unknown["applied"]["applied"], 0);
}

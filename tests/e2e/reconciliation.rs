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

mod slapd {
    use super::*;
    use provisio_tests::slapd::Slapd;

    const PEOPLE: &str = "ou=people,dc=example,dc=com";

    async fn up() -> Slapd {
        let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
        slapd.admin(
            "ldapadd",
            &[],
            &format!("dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"),
        );
        slapd
    }

    /// The directory target with a policy map; `scope` keeps some
    /// identities out of it at first.
    fn target(slapd: &Slapd, scope: &str, recon: &str) -> String {
        format!(
            r#"[targets.dir]
connector = "bundled:ldap"
on_delete = "delete"
protected = 'name eq "admin"'
[targets.dir.grants.ldap]
urls = [{ldaps:?}]
bind_dn = {dn:?}
password = {{ file = "{{dir}}/bind.pw" }}
ca_file = {ca:?}
[targets.dir.config]
url = {ldaps:?}
base_dn = {base:?}
"account.base" = {PEOPLE:?}

[targets.dir.accounts]
default_role = "staff"
{scope}
[targets.dir.accounts.attributes]
__name__ = "{{{{ (first[0] ~ last) | normalize_diacritics | lower }}}}"
cn = "{{{{ first }}}} {{{{ last }}}}"
sn = "{{{{ last }}}}"
givenName = "{{{{ first }}}}"
departmentNumber = "{{{{ department }}}}"
employeeNumber = {{ expr = "id", create_only = true }}

[targets.dir.reconciliation]
{recon}
[[targets.dir.reconciliation.correlation]]
match = {{ employeeNumber = "id" }}
[[targets.dir.reconciliation.correlation]]
match = {{ givenName = "first", sn = "last" }}
normalize = ["case", "whitespace", "diacritics"]

[roles.staff]
[roles.staff.targets.dir]
"#,
            ldaps = slapd.ldaps_url,
            dn = slapd.bind_dn,
            ca = slapd.ca_file.display().to_string(),
            base = slapd.base,
        )
    }

    fn person(slapd: &Slapd, uid: &str, first: &str, last: &str, extra: &str) {
        slapd.admin(
            "ldapadd",
            &[],
            &format!(
                "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {first} {last}\n\
                 sn: {last}\ngivenName: {first}\n{extra}"
            ),
        );
    }

    fn locked(slapd: &Slapd, uid: &str) -> bool {
        slapd
            .admin(
                "ldapsearch",
                &[
                    "-LLL",
                    "-b",
                    PEOPLE,
                    &format!("(uid={uid})"),
                    "pwdAccountLockedTime",
                ],
                "",
            )
            .contains("pwdAccountLockedTime:")
    }

    fn entry(slapd: &Slapd, uid: &str) -> String {
        slapd.admin(
            "ldapsearch",
            &["-LLL", "-b", PEOPLE, &format!("(uid={uid})"), "*"],
            "",
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_situation_on_slapd_is_classified_planned_and_repaired() {
        let slapd = up().await;
        let mut host = TestHost::start("", "", &[]).await;
        host.stop().await;
        std::fs::write(host.path("bind.pw"), &slapd.bind_password).unwrap();
        // At first Alan (1003) and the two Will Smiths are out of scope:
        // they are identities with no account here.
        let scope = r#"scope = "id not in ['1003', '1005', '1006']""#;
        host.set_targets(&target(&slapd, scope, "max_deletes = 1"));
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
        // Behind Provisio's back: a drifted attribute, Alan's account made
        // by hand (unlinked, matched by employee number), two orphans, an
        // account both Will Smiths match, a second account for Edsger, a
        // linked account deleted, and the protected admin.
        slapd.admin(
            "ldapmodify",
            &[],
            &format!("dn: uid=ghopper,{PEOPLE}\nchangetype: modify\nreplace: departmentNumber\ndepartmentNumber: Marketing\n"),
        );
        person(
            &slapd,
            "aturing",
            "Alan",
            "Turing",
            "departmentNumber: Research\nemployeeNumber: 1003\n",
        );
        person(
            &slapd,
            "orphan1",
            "Old",
            "Contractor",
            "employeeNumber: 9001\n",
        );
        person(&slapd, "orphan2", "Gone", "Temp", "employeeNumber: 9002\n");
        person(&slapd, "wsmith", "Will", "Smith", "");
        person(
            &slapd,
            "edijkstra2",
            "Edsger",
            "Dijkstra",
            "employeeNumber: 1004\n",
        );
        person(
            &slapd,
            "admin",
            "Directory",
            "Admin",
            "employeeNumber: 1001\n",
        );
        slapd.admin("ldapdelete", &[&format!("uid=bliskov,{PEOPLE}")], "");

        // Now everyone is in scope; reactions repair.
        host.stop().await;
        let reactions = "max_deletes = 1\n[targets.dir.reconciliation.reactions]\n\
                         drifted = \"update\"\nunlinked = \"link\"\nunmatched = \"disable\"\ndeleted = \"create\"\n";
        host.set_targets(&target(&slapd, "", reactions));
        host.restart().await;
        let (_, before) = operations(&host, "dir").await;

        // A dry run classifies every account exactly and submits nothing.
        let dry = reconcile(&host, "dir", json!({"dry_run": true})).await;
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
            operations(&host, "dir").await.1,
            before,
            "a dry run submits nothing"
        );
        assert!(entry(&slapd, "ghopper").contains("departmentNumber: Marketing"));
        assert!(!locked(&slapd, "orphan1"));

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
                .any(|l| l.contains("ghopper")
                    && l.contains("departmentNumber: Marketing -> Research")),
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

        // Between the dry run and applying it, orphan2 changes on the
        // target: it is stale and not touched.
        slapd.admin(
            "ldapmodify",
            &[],
            &format!("dn: uid=orphan2,{PEOPLE}\nchangetype: modify\nreplace: sn\nsn: Temporary\n"),
        );

        // Applying needs the operator; two disables is over the budget of
        // one, so applying stops before anything is done.
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
            operations(&host, "dir").await.1,
            before,
            "nothing was applied"
        );
        assert!(!locked(&slapd, "orphan1"));

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
        settle(&host, "dir").await;
        let applied = items(&host, &done).await;
        assert_eq!(
            applied["orphan2"]["outcome"]["result"], "stale",
            "{:#?}",
            applied["orphan2"]
        );
        assert!(
            applied["orphan2"]["outcome"]["detail"]
                .as_str()
                .unwrap()
                .contains("sn"),
            "{:#?}",
            applied["orphan2"]
        );
        assert!(!locked(&slapd, "orphan2"), "a stale item is not touched");
        assert!(locked(&slapd, "orphan1"), "the orphan is disabled");
        assert!(
            entry(&slapd, "ghopper").contains("departmentNumber: Research"),
            "drift repaired"
        );
        assert!(
            entry(&slapd, "bliskov").contains("employeeNumber: 1007"),
            "re-created"
        );
        let links = host.get("/v1/targets/dir/links?limit=1000").await.body;
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
        assert!(
            !locked(&slapd, "admin") && entry(&slapd, "admin").contains("employeeNumber: 1001")
        );
        assert!(
            !locked(&slapd, "edijkstra2"),
            "a collision is reported only"
        );
        let applying_again = host
            .post(&format!("/v1/reconciliations/{id}/apply"), json!({}))
            .await;
        assert_eq!(
            applying_again.status, 409,
            "a run applies once: {:?}",
            applying_again.body
        );

        // A second run finds nothing to repair: what is left is what the
        // reactions only report (the dispute, the collision, the admin)
        // and the stale orphan.
        let again = reconcile(&host, "dir", json!({"dry_run": true})).await;
        let second = items(&host, &again).await;
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
        assert!(again["situations"].get("drifted").is_none(), "{again}");
        assert!(again["situations"].get("deleted").is_none(), "{again}");

        // The target down: the run fails at its first page, applying
        // nothing; back up, a rerun completes.
        slapd.stop();
        let failed = reconcile(&host, "dir", json!({})).await;
        assert_eq!(failed["state"], "failed", "{failed}");
        assert_eq!(failed["pages"], 0, "{failed}");
        assert!(
            failed["error"].as_str().unwrap().contains("page 1"),
            "{failed}"
        );
        assert_eq!(failed["applied"]["applied"], 0, "{failed}");
        slapd.start();
        let rerun = reconcile(&host, "dir", json!({})).await;
        assert_eq!(rerun["state"], "succeeded", "{rerun}");
    }
}

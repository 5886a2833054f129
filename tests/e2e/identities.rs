//! Identities, roles and policy maps (issue 18) through the real host:
//! a person's desired state becomes accounts, attributes and groups on CSV
//! and LDAP targets, and movers, leavers and rehires converge.

use provisio_tests::host::{OPERATOR, PROVISIONER, TestHost};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Roles giving groups on `target`: `staff` (the target's default role),
/// and birthright `sales` and `research` by department; `projects` is
/// assigned explicitly.
fn roles(target: &str) -> String {
    format!(
        r#"
[roles.staff]
description = "everyone with an account"
[roles.staff.targets.{target}]
groups = ["everyone"]

[roles.sales]
when = 'department == "Sales"'
[roles.sales.targets.{target}]
groups = ["sales"]

[roles.research]
when = 'department == "Research"'
[roles.research.targets.{target}]
groups = ["research"]

[roles.projects]
[roles.projects.targets.{target}]
groups = ["projects"]
"#
    )
}

const APP_COLUMNS: &str = "id,userName,displayName,mail,department,active";

/// A CSV application target with a policy map; `extra` lines go in the
/// target's table.
fn app_target(extra: &str) -> String {
    format!(
        r#"
[targets.app]
connector = "bundled:csv"
on_delete = "disable"
membership = {{ mode = "group-attribute", group_class = "group", attribute = "members" }}
{extra}
[targets.app.grants]
directory = "{{dir}}/app"
[targets.app.config]
"account.key" = "id"
"account.name" = "userName"
"account.enable" = "active"
"account.columns" = "{APP_COLUMNS}"
"group.key" = "id"
"group.name" = "name"
"group.references" = "members"
"group.multivalued" = "members"
"group.columns" = "id,name,members"

[targets.app.accounts]
scope = 'profile.type != "contractor"'
default_role = "staff"
[targets.app.accounts.attributes]
id = {{ expr = "id", create_only = true }}
__name__ = "{{{{ (first[0] ~ last) | normalize_diacritics | lower }}}}"
displayName = "{{{{ first }}}} {{{{ last }}}}"
mail = {{ value = "{{{{ (first ~ '.' ~ last) | normalize_diacritics | lower }}}}@example.com", create_only = true }}
department = "{{{{ department }}}}"
"#
    )
}

async fn app_host(server: &str) -> TestHost {
    let host = TestHost::start(&(app_target("") + &roles("app")), server, &["app"]).await;
    std::fs::write(
        host.path("app/groups.csv"),
        "id,name,members\neveryone,Everyone,\nsales,Sales,\nresearch,Research,\nprojects,Projects,\n",
    )
    .unwrap();
    host
}

/// The rows of a CSV file as maps from column to cell.
fn rows(host: &TestHost, file: &str) -> Vec<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(host.path(file)).unwrap_or_default();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), Value::String(v.to_owned())))
                .collect()
        })
        .collect()
}

fn account(host: &TestHost, id: &str) -> Option<serde_json::Map<String, Value>> {
    rows(host, "app/accounts.csv")
        .into_iter()
        .find(|r| r["id"] == id)
}

/// The groups whose members list `uid`.
fn groups_of(host: &TestHost, uid: &str) -> Vec<String> {
    let mut groups: Vec<String> = rows(host, "app/groups.csv")
        .into_iter()
        .filter(|g| {
            g["members"]
                .as_str()
                .unwrap_or_default()
                .split('|')
                .any(|m| m == uid)
        })
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    groups.sort();
    groups
}

fn zoe(department: &str) -> Value {
    json!({"profile": {"first": "Zoë", "last": "Ødegård", "department": department}})
}

fn kinds(outcome: &Value) -> Vec<String> {
    outcome["plan"]["targets"][0]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let kind = o["request"]["kind"].as_str().unwrap();
            match o["request"]["group"].as_str() {
                Some(group) => format!("{kind} {group}"),
                None => kind.to_owned(),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joiner_mover_leaver_and_rehire_on_a_csv_target() {
    let host = app_host("").await;

    // A dry run answers the plan and changes nothing.
    let dry = host
        .put_identity("emp-1", "?dry_run=true", zoe("Sales"))
        .await;
    assert_eq!(dry.status, 200, "{:?}", dry.body);
    assert_eq!(dry.body["dry_run"], true);
    assert_eq!(
        kinds(&dry.body),
        ["create", "add-member everyone", "add-member sales"],
        "{}",
        dry.body
    );
    assert!(dry.body["operations"].as_array().unwrap().is_empty());
    assert_eq!(host.get("/v1/identities/emp-1").await.status, 404);
    assert!(account(&host, "emp-1").is_none());
    let stored = host.get("/v1/operations?target=app").await;
    assert_eq!(stored.body["operations"], json!([]), "{:?}", stored.body);

    // Joiner: an account with computed attributes and the roles' groups.
    let joined = host.put_identity("emp-1", "", zoe("Sales")).await;
    assert_eq!(joined.status, 201, "{:?}", joined.body);
    assert_eq!(joined.body["revision"], 1);
    host.settle(&joined.body).await;
    let row = account(&host, "emp-1").expect("an account row");
    assert_eq!(row["userName"], "zodegard");
    assert_eq!(row["displayName"], "Zoë Ødegård");
    assert_eq!(row["mail"], "zoe.odegard@example.com");
    assert_eq!(row["department"], "Sales");
    assert_eq!(row["active"], "true");
    assert_eq!(groups_of(&host, "emp-1"), ["everyone", "sales"]);

    // The same state again plans nothing.
    let again = host.put_identity("emp-1", "", zoe("Sales")).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["revision"], 1, "unchanged: same revision");
    assert_eq!(again.body["plan"]["targets"][0]["action"], "none");
    assert!(again.body["operations"].as_array().unwrap().is_empty());

    // Mover: only what differs is written; the old role's group goes, the
    // default role's stays, the create-only mail is kept.
    let mut moved = zoe("Research");
    moved["profile"]["last"] = json!("Ødegård-Berg");
    let mover = host
        .put_identity("emp-1", "?explain=true", moved.clone())
        .await;
    assert_eq!(mover.status, 200, "{:?}", mover.body);
    assert_eq!(
        kinds(&mover.body),
        ["update", "remove-member sales", "add-member research"],
        "{}",
        mover.body
    );
    let changes = &mover.body["plan"]["targets"][0]["operations"][0]["request"]["changes"];
    let changed: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        ["__name__", "department", "displayName"],
        "{changes}"
    );
    let explain = &mover.body["plan"]["targets"][0]["explain"];
    let display = explain["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["attribute"] == "displayName")
        .unwrap();
    assert_eq!(display["source"], "{{ first }} {{ last }}");
    assert_eq!(
        display["inputs"],
        json!({"first": "Zoë", "last": "Ødegård-Berg"})
    );
    assert_eq!(display["current"], "Zoë Ødegård");
    assert!(
        display["decision"]
            .as_str()
            .unwrap()
            .starts_with("replaced")
    );
    let mail = explain["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["attribute"] == "mail")
        .unwrap();
    assert!(
        mail["decision"].as_str().unwrap().contains("create_only"),
        "{mail}"
    );
    let research = explain["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "research")
        .unwrap();
    assert_eq!(research["granted_by"], json!(["research"]));
    assert!(
        mover.body["plan"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "research" && r["by"] == "birthright"),
        "{}",
        mover.body["plan"]
    );
    host.settle(&mover.body).await;
    let row = account(&host, "emp-1").unwrap();
    assert_eq!(row["userName"], "zodegard-berg");
    assert_eq!(row["department"], "Research");
    assert_eq!(row["mail"], "zoe.odegard@example.com", "create_only");
    assert_eq!(groups_of(&host, "emp-1"), ["everyone", "research"]);

    // How long the change took to reach the target, for SLA monitoring.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = host
            .get("/metrics")
            .await
            .body
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if metrics.contains("provisio_time_to_provision_seconds_count{target=\"app\"}") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no time to provision in {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The identity reads back with its account and the last operations.
    let view = host.get("/v1/identities/emp-1").await;
    assert_eq!(view.status, 200, "{:?}", view.body);
    assert_eq!(view.body["revision"], 2);
    assert_eq!(view.body["profile"]["department"], "Research");
    let app = &view.body["accounts"][0];
    assert_eq!(app["target"], "app");
    assert_eq!(app["uid"], "emp-1");
    assert_eq!(app["groups"], json!(["everyone", "research"]));
    assert!(
        app["operations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["status"] == "succeeded"),
        "{app}"
    );

    // Suspended: disabled, kept; back: enabled, nothing re-created.
    let mut suspended = moved.clone();
    suspended["status"] = json!("suspended");
    let out = host.put_identity("emp-1", "", suspended).await;
    assert_eq!(kinds(&out.body), ["disable"], "{}", out.body);
    host.settle(&out.body).await;
    assert_eq!(account(&host, "emp-1").unwrap()["active"], "false");
    let back = host.put_identity("emp-1", "", moved.clone()).await;
    assert_eq!(kinds(&back.body), ["enable"], "{}", back.body);
    host.settle(&back.body).await;
    assert_eq!(account(&host, "emp-1").unwrap()["active"], "true");

    // Leaver: groups removed, then the target's on_delete (disable).
    let mut left = moved.clone();
    left["status"] = json!("terminated");
    let leaver = host.put_identity("emp-1", "", left.clone()).await;
    assert_eq!(
        kinds(&leaver.body),
        ["remove-member everyone", "remove-member research", "delete"],
        "{}",
        leaver.body
    );
    assert_eq!(leaver.body["plan"]["targets"][0]["action"], "deprovision");
    host.settle(&leaver.body).await;
    assert_eq!(account(&host, "emp-1").unwrap()["active"], "false");
    assert!(groups_of(&host, "emp-1").is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !host
        .get("/metrics")
        .await
        .body
        .as_str()
        .unwrap_or_default()
        .contains("provisio_time_to_deprovision_seconds_count{target=\"app\"}")
    {
        assert!(Instant::now() < deadline, "no time to deprovision");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let still = host.put_identity("emp-1", "", left).await;
    assert!(kinds(&still.body).is_empty(), "{}", still.body);

    // Rehire: the same account is enabled again and gets its groups back.
    let rehired = host.put_identity("emp-1", "", moved).await;
    assert_eq!(
        kinds(&rehired.body),
        ["enable", "add-member everyone", "add-member research"],
        "{}",
        rehired.body
    );
    host.settle(&rehired.body).await;
    let rows_now = rows(&host, "app/accounts.csv");
    assert_eq!(rows_now.len(), 1, "no second account: {rows_now:?}");
    assert_eq!(account(&host, "emp-1").unwrap()["active"], "true");
    assert_eq!(groups_of(&host, "emp-1"), ["everyone", "research"]);

    // Out of scope: no account at all.
    let contractor = host
        .put_identity(
            "emp-2",
            "?explain=true",
            json!({"profile": {"first": "Con", "last": "Tractor", "type": "contractor"}}),
        )
        .await;
    assert_eq!(contractor.status, 201, "{:?}", contractor.body);
    assert!(kinds(&contractor.body).is_empty());
    assert!(
        contractor.body["plan"]["targets"][0]["explain"]["entitlement"]
            .to_string()
            .contains("does not hold"),
        "{}",
        contractor.body
    );

    // The audit log names what changed, never the values.
    let audit = host.audit_all().await;
    let set = audit
        .iter()
        .filter(|e| e["event"] == "identity-set")
        .find(|e| e["detail"]["revision"] == 2)
        .expect("an identity-set row for the mover");
    assert_eq!(
        set["detail"]["changed"],
        json!(["profile.department", "profile.last"]),
        "{set}"
    );
    assert!(!serde_json::to_string(&set).unwrap().contains("Berg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_ends_deprovisions_what_it_gave_without_a_call() {
    let host = app_host("review_interval = \"200ms\"").await;
    let ends = provisio_host::expr::date_of_ms(provisio_host::store::now_ms() + 3_000);
    let state = json!({
        "profile": {"first": "Ada", "last": "Lovelace", "department": "Finance"},
        "roles": [{"role": "projects", "end": ends}],
    });
    let joined = host.put_identity("emp-7", "", state).await;
    assert_eq!(joined.status, 201, "{:?}", joined.body);
    assert_eq!(joined.body["plan"]["next_review"], ends);
    host.settle(&joined.body).await;
    assert_eq!(groups_of(&host, "emp-7"), ["everyone", "projects"]);

    // The plan as of the end date says what will happen then.
    let later = host
        .get(&format!("/v1/identities/emp-7/plan?at={ends}"))
        .await;
    assert_eq!(later.status, 200, "{:?}", later.body);
    assert_eq!(
        kinds(&json!({"plan": later.body})),
        ["remove-member projects"]
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while groups_of(&host, "emp-7") != ["everyone"] {
        assert!(
            Instant::now() < deadline,
            "the role's end never removed its group: {:?}",
            groups_of(&host, "emp-7")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let audit = host.audit_all().await;
    assert!(
        audit
            .iter()
            .any(|e| e["event"] == "identity-provisioned" && e["actor"] == "provisio:review"),
        "the review is audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_identities_and_failing_expressions_change_nothing() {
    let fuel = "\nloop = \"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\"\n";
    let mut host = app_host("").await;
    let unknown_role = host
        .put_identity("emp-1", "", json!({"roles": ["admins"]}))
        .await;
    assert_eq!(unknown_role.status, 400, "{:?}", unknown_role.body);
    assert_eq!(unknown_role.body["field"], "roles[0]");
    assert!(
        unknown_role.body["detail"]
            .as_str()
            .unwrap()
            .contains("no role `admins`")
    );
    let nested = host
        .put_identity("emp-1", "", json!({"profile": {"manager": {"id": 1}}}))
        .await;
    assert_eq!(nested.status, 400, "{:?}", nested.body);
    assert_eq!(nested.body["field"], "profile.manager");
    let unknown_field = host.put_identity("emp-1", "", json!({"profle": {}})).await;
    assert_eq!(unknown_field.status, 400, "{:?}", unknown_field.body);
    let bad_date = host
        .put_identity("emp-1", "", json!({"end_date": "next tuesday"}))
        .await;
    assert_eq!(bad_date.status, 400, "{:?}", bad_date.body);
    assert_eq!(bad_date.body["field"], "end_date");
    let provisioner_delete = host
        .request(
            reqwest::Method::DELETE,
            "/v1/identities/emp-1",
            Some(PROVISIONER),
            None,
        )
        .await;
    assert_eq!(provisioner_delete.status, 403, "deleting takes an operator");

    // An expression that runs out of fuel fails the plan, naming the
    // attribute; nothing is stored or submitted.
    host.stop().await;
    let text = app_target("").replace(
        "department = \"{{ department }}\"\n",
        &format!("department = \"{{{{ department }}}}\"{fuel}"),
    );
    host.set_targets(&(text + &roles("app")));
    host.restart().await;
    let failed = host.put_identity("emp-1", "", zoe("Sales")).await;
    assert_eq!(failed.status, 422, "{:?}", failed.body);
    assert_eq!(failed.body["code"], "plan-failed");
    assert_eq!(failed.body["field"], "targets.app.accounts.attributes.loop");
    assert!(
        failed.body["detail"].as_str().unwrap().contains("fuel"),
        "{:?}",
        failed.body
    );
    assert_eq!(host.get("/v1/identities/emp-1").await.status, 404);
    assert!(account(&host, "emp-1").is_none());
}

#[test]
fn an_expression_error_stops_the_load_naming_target_attribute_and_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    let text = format!(
        "[server]\ninsecure_no_auth = true\n{}{}",
        app_target("").replace(
            "displayName = \"{{ first }} {{ last }}\"",
            "displayName = \"{{ first }} {{ last | lower( }}\""
        ),
        roles("app")
    )
    .replace("{dir}", &dir.path().display().to_string());
    let file = dir.path().join("provisio.toml");
    let error = provisio_host::config::Config::parse(&text, &file, dir.path()).unwrap_err();
    assert_eq!(
        error.key, "targets.app.accounts.attributes.displayName",
        "{error}"
    );
    assert!(error.reason.contains("line 1, column"), "{error}");

    for (from, to, key, says) in [
        (
            "[roles.sales.targets.app]",
            "[roles.sales.targets.nowhere]",
            "roles.sales.targets.nowhere",
            "no target `nowhere`",
        ),
        (
            "default_role = \"staff\"",
            "default_role = \"everyone\"",
            "targets.app.accounts.default_role",
            "no role `everyone`",
        ),
        (
            "department = \"{{ department }}\"",
            "__password__ = \"{{ department }}\"",
            "targets.app.accounts.attributes.__password__",
            "never computed",
        ),
        (
            "when = 'department == \"Sales\"'",
            "when = 'department =='",
            "roles.sales.when",
            "syntax error",
        ),
    ] {
        let text = format!(
            "[server]\ninsecure_no_auth = true\n{}{}",
            app_target(""),
            roles("app")
        )
        .replace("{dir}", &dir.path().display().to_string())
        .replace(from, to);
        let error = provisio_host::config::Config::parse(&text, &file, dir.path()).unwrap_err();
        assert_eq!(error.key, key, "{error}");
        assert!(error.reason.contains(says), "{error}");
    }
}

/// Operators delete identities; the accounts go per `on_delete`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_identity_deprovisions_it_everywhere() {
    let host = app_host("").await;
    let joined = host.put_identity("emp-3", "", zoe("Sales")).await;
    host.settle(&joined.body).await;
    let removed = host
        .request(
            reqwest::Method::DELETE,
            "/v1/identities/emp-3",
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{:?}", removed.body);
    host.settle(&removed.body).await;
    assert_eq!(account(&host, "emp-3").unwrap()["active"], "false");
    assert!(groups_of(&host, "emp-3").is_empty());
    assert_eq!(host.get("/v1/identities/emp-3").await.status, 404);
    let listed = host.get("/v1/identities").await;
    assert_eq!(listed.body["identities"], json!([]), "{:?}", listed.body);
}

/// The kill switch disables a person on every target at once, ahead of
/// the work other people's changes queued; the termination report reads
/// each account back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_goes_ahead_of_queued_work_and_the_report_reads_back() {
    let app = app_target("rate_limit = { per_second = 20.0, burst = 1 }");
    let app2 = app_target("")
        .replace("targets.app", "targets.app2")
        .replace("{dir}/app", "{dir}/app2");
    let host = TestHost::start(&(app + &app2 + &roles("app")), "", &["app", "app2"]).await;
    let groups = "id,name,members\neveryone,Everyone,\nsales,Sales,\nresearch,Research,\nprojects,Projects,\n";
    std::fs::write(host.path("app/groups.csv"), groups).unwrap();
    std::fs::write(host.path("app2/groups.csv"), groups).unwrap();
    let joined = host.put_identity("emp-1", "", zoe("Sales")).await;
    host.settle(&joined.body).await;

    // Others' joiners queue up behind the rate limit: 25 × 3 operations.
    for n in 0..25 {
        let other =
            json!({"profile": {"first": format!("P{n}"), "last": "Other", "department": "Sales"}});
        let put = host.put_identity(&format!("other-{n}"), "", other).await;
        assert_eq!(put.status, 201, "{:?}", put.body);
    }
    let refused = host
        .request(
            reqwest::Method::POST,
            "/v1/identities/emp-1/terminate-now",
            Some(PROVISIONER),
            None,
        )
        .await;
    assert_eq!(refused.status, 403, "the kill switch takes an operator");
    let killed = host
        .post("/v1/identities/emp-1/terminate-now", json!({}))
        .await;
    assert_eq!(killed.status, 200, "{:?}", killed.body);
    let first: Vec<(String, String)> = killed.body["operations"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|o| {
            (
                o["target"].as_str().unwrap().to_owned(),
                o["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        first,
        [
            ("app".to_owned(), "disable".to_owned()),
            ("app2".to_owned(), "disable".to_owned())
        ],
        "{}",
        killed.body
    );
    let disable = killed.body["operations"][0]["id"].as_str().unwrap();
    let done = host.wait(disable).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    // Of the work queued before it, only what the dispatcher had already
    // taken (at most the target's concurrency, each waiting for a token of
    // the rate limit) started before the disable did; without the urgent
    // queue the 75 queued operations would all go first.
    let concurrency = host.get("/v1/targets/app").await.body["concurrency"]
        .as_u64()
        .unwrap() as usize;
    let listed = host.get("/v1/operations?target=app&limit=1000").await.body;
    let started = done["started_at"].as_str().unwrap().to_owned();
    let created = done["created_at"].as_str().unwrap().to_owned();
    let overtook = listed["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["identity"] != "emp-1")
        .filter(|o| o["created_at"].as_str().unwrap() < created.as_str())
        .filter(|o| {
            o["started_at"]
                .as_str()
                .is_some_and(|s| s > created.as_str() && s < started.as_str())
        })
        .count();
    assert!(
        overtook <= concurrency,
        "{overtook} operations queued earlier started between its submission and its start (concurrency {concurrency})"
    );
    assert_eq!(account(&host, "emp-1").unwrap()["active"], "false");
    host.settle(&killed.body).await;

    let report = host.get("/v1/identities/emp-1/termination-report").await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    assert_eq!(report.body["verified"], true, "{}", report.body);
    assert_eq!(report.body["status"], "terminated");
    for target in report.body["targets"].as_array().unwrap() {
        assert_eq!(target["read_back"]["account"], "disabled", "{target}");
        assert_eq!(target["deprovisioned"], true, "{target}");
        assert!(
            target["operations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["status"] == "succeeded"),
            "{target}"
        );
    }
    let audit = host.audit_all().await;
    assert!(
        audit
            .iter()
            .any(|e| e["event"] == "identity-terminated-now" && e["actor"] == "ops")
    );
    assert_eq!(
        host.get("/v1/identities/nobody/termination-report")
            .await
            .status,
        404
    );
}

mod directory {
    //! The same life on a real slapd: entries, attributes and groupOfNames
    //! memberships, deleted on leaving.

    use super::kinds;
    use provisio_tests::host::TestHost;
    use provisio_tests::slapd::Slapd;
    use serde_json::json;

    const PEOPLE: &str = "ou=people,dc=example,dc=com";
    const GROUPS: &str = "ou=groups,dc=example,dc=com";

    async fn up() -> Slapd {
        let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
        let mut ldif = format!(
            "dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n"
        );
        // groupOfNames must have a member: the directory's placeholder.
        for group in ["everyone", "sales", "research"] {
            ldif.push_str(&format!(
                "\ndn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}\nmember: cn=nobody\n"
            ));
        }
        slapd.admin("ldapadd", &[], &ldif);
        slapd
    }

    fn target(slapd: &Slapd) -> String {
        format!(
            r#"[targets.dir]
connector = "bundled:ldap"
on_delete = "delete"
[targets.dir.grants.ldap]
urls = [{ldaps:?}]
bind_dn = {dn:?}
password = {{ file = "{{dir}}/bind.pw" }}
ca_file = {ca:?}
[targets.dir.config]
url = {ldaps:?}
base_dn = {base:?}
"account.base" = {PEOPLE:?}
"group.base" = {GROUPS:?}

[targets.dir.accounts]
default_role = "staff"
[targets.dir.accounts.attributes]
__name__ = "{{{{ (first[0] ~ last) | normalize_diacritics | lower }}}}"
cn = "{{{{ first }}}} {{{{ last }}}}"
sn = "{{{{ last }}}}"
givenName = "{{{{ first }}}}"
departmentNumber = "{{{{ department }}}}"
employeeNumber = {{ expr = "id", create_only = true }}
title = {{ value = "{{{{ department }}}} staff", strength = "weak" }}
"#,
            ldaps = slapd.ldaps_url,
            dn = slapd.bind_dn,
            ca = slapd.ca_file.display().to_string(),
            base = slapd.base,
        ) + &super::roles("dir")
    }

    fn entry(slapd: &Slapd, uid: &str) -> String {
        slapd.admin(
            "ldapsearch",
            &["-LLL", "-b", PEOPLE, &format!("(uid={uid})"), "*"],
            "",
        )
    }

    /// Whether ppolicy locks the entry (how the LDAP connector disables).
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

    fn members(slapd: &Slapd, group: &str) -> String {
        slapd.admin(
            "ldapsearch",
            &[
                "-LLL",
                "-b",
                &format!("cn={group},{GROUPS}"),
                "-s",
                "base",
                "member",
            ],
            "",
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn joiner_mover_and_leaver_on_slapd() {
        let slapd = up().await;
        let mut host = TestHost::start("", "", &[]).await;
        host.stop().await;
        std::fs::write(host.path("bind.pw"), &slapd.bind_password).unwrap();
        // The department places the entry in its OU (the connector's
        // `parent`), from an operator table.
        slapd.admin(
            "ldapadd",
            &[],
            &format!(
                "dn: ou=sales,{PEOPLE}\nobjectClass: organizationalUnit\nou: sales\n\n\
                 dn: ou=research,{PEOPLE}\nobjectClass: organizationalUnit\nou: research\n"
            ),
        );
        let text = target(&slapd).replace(
            "departmentNumber = ",
            "parent = \"{{ department | lookup('ous') }}\"\ndepartmentNumber = ",
        ) + &format!(
            "\n[tables.ous]\nSales = \"ou=sales,{PEOPLE}\"\nResearch = \"ou=research,{PEOPLE}\"\n"
        );
        host.set_targets(&text);
        host.restart().await;
        let dn = format!("uid=zodegard,ou=sales,{PEOPLE}");
        let moved = format!("uid=zodegard,ou=research,{PEOPLE}");

        let joined = host.put_identity("emp-1", "", super::zoe("Sales")).await;
        assert_eq!(joined.status, 201, "{:?}", joined.body);
        assert_eq!(
            kinds(&joined.body),
            ["create", "add-member everyone", "add-member sales"]
        );
        host.settle(&joined.body).await;
        let person = entry(&slapd, "zodegard");
        for line in [
            "cn:: Wm/DqyDDmGRlZ8OlcmQ=", // "Zoë Ødegård", base64 as LDIF writes non-ASCII
            "departmentNumber: Sales",
            "employeeNumber: emp-1",
            "title: Sales staff",
        ] {
            assert!(person.contains(line), "{line} not in {person}");
        }
        assert!(person.starts_with(&format!("dn: {dn}")), "{person}");
        assert!(members(&slapd, "sales").contains(&dn));
        assert!(members(&slapd, "everyone").contains(&dn));

        // A directory admin sets the title by hand: the weak mapping keeps it.
        slapd.admin(
            "ldapmodify",
            &[],
            &format!("dn: {dn}\nchangetype: modify\nreplace: title\ntitle: Team lead\n"),
        );
        let same = host.put_identity("emp-1", "", super::zoe("Sales")).await;
        assert_eq!(
            same.body["plan"]["targets"][0]["action"], "none",
            "{}",
            same.body
        );

        // Mover: the attribute and the groups follow the department.
        let mover = host
            .put_identity("emp-1", "?explain=true", super::zoe("Research"))
            .await;
        assert_eq!(
            kinds(&mover.body),
            ["update", "remove-member sales", "add-member research"],
            "{}",
            mover.body
        );
        let changes = &mover.body["plan"]["targets"][0]["operations"][0]["request"]["changes"];
        assert_eq!(
            changes,
            &json!([
                {"op": "replace", "name": "departmentNumber", "values": "Research"},
                {"op": "replace", "name": "parent", "values": format!("ou=research,{PEOPLE}")},
            ]),
            "only what differs; the weak title stays"
        );
        host.settle(&mover.body).await;
        let person = entry(&slapd, "zodegard");
        assert!(person.contains("departmentNumber: Research"), "{person}");
        assert!(person.contains("title: Team lead"), "{person}");
        assert!(
            person.starts_with(&format!("dn: {moved}")),
            "moved to its new OU: {person}"
        );
        assert!(!members(&slapd, "sales").contains(&dn));
        assert!(
            members(&slapd, "research").contains(&moved),
            "refint follows the move"
        );
        let again = host.put_identity("emp-1", "", super::zoe("Research")).await;
        assert_eq!(
            again.body["plan"]["targets"][0]["action"], "none",
            "{}",
            again.body
        );

        // Leaver: out of every group Provisio gave, then deleted.
        let mut left = super::zoe("Research");
        left["status"] = json!("terminated");
        let leaver = host.put_identity("emp-1", "", left).await;
        assert_eq!(
            kinds(&leaver.body),
            ["remove-member everyone", "remove-member research", "delete"],
            "{}",
            leaver.body
        );
        host.settle(&leaver.body).await;
        assert!(!entry(&slapd, "zodegard").contains("dn:"));
        assert!(!members(&slapd, "research").contains(&moved));
        assert!(!members(&slapd, "everyone").contains(&moved));
        let view = host.get("/v1/identities/emp-1").await;
        assert_eq!(
            view.body["accounts"][0]["provisioned"], false,
            "{:?}",
            view.body
        );
        assert!(
            view.body["accounts"][0].get("uid").is_none(),
            "the link is gone"
        );

        // Rehired after deletion: a new account.
        let back = host.put_identity("emp-1", "", super::zoe("Research")).await;
        assert_eq!(
            kinds(&back.body),
            ["create", "add-member everyone", "add-member research"],
            "{}",
            back.body
        );
        host.settle(&back.body).await;
        assert!(entry(&slapd, "zodegard").contains("dn:"));
    }

    /// Account names and addresses by a uniqueness rule that asks the
    /// directory.
    const UNIQUE: &str = r#"__name__ = { unique = ["{{ (last ~ first[0]) | normalize_diacritics | lower }}", "{{ (last ~ first[0]) | normalize_diacritics | lower }}{{ n }}"], max_counter = 3 }
mail = { unique = ["{{ (first ~ '.' ~ last) | lower }}@example.com", "{{ (first ~ '.' ~ last) | lower }}{{ n }}@example.com"] }"#;

    fn will_smith(n: u32) -> serde_json::Value {
        json!({"profile": {"first": "Will", "last": "Smith", "department": format!("D{n}")}})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn uniqueness_rules_ask_the_directory_and_what_is_planned() {
        let slapd = up().await;
        // A Will Smith the directory already has, made outside Provisio.
        slapd.admin(
            "ldapadd",
            &[],
            &format!(
                "dn: uid=smithw,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: smithw\ncn: Will Smith\nsn: Smith\nmail: will.smith@example.com\n"
            ),
        );
        let mut host = TestHost::start("", "", &[]).await;
        host.stop().await;
        std::fs::write(host.path("bind.pw"), &slapd.bind_password).unwrap();
        let text = target(&slapd).replace(
            "__name__ = \"{{ (first[0] ~ last) | normalize_diacritics | lower }}\"",
            UNIQUE,
        );
        assert!(text.contains("unique = "), "the rule is in the map");
        // Creates wait for an operator, so the second plan is made while
        // the first account does not exist yet.
        let text = text.replace(
            "on_delete = \"delete\"",
            "on_delete = \"delete\"\napproval = { kinds = [\"create\"] }",
        );
        host.set_targets(&text);
        host.restart().await;

        // Two more Will Smiths planned one after the other, before either
        // account exists: each gets its own name and address.
        let first = host
            .put_identity("emp-1", "?explain=true", will_smith(1))
            .await;
        let second = host
            .put_identity("emp-2", "?explain=true", will_smith(2))
            .await;
        for (outcome, name, mail) in [
            (&first, "smithw2", "will.smith2@example.com"),
            (&second, "smithw3", "will.smith3@example.com"),
        ] {
            assert_eq!(outcome.status, 201, "{:?}", outcome.body);
            let create = &outcome.body["plan"]["targets"][0]["operations"][0]["request"];
            assert_eq!(create["attributes"]["__name__"], name, "{create}");
            assert_eq!(create["attributes"]["mail"], mail, "{create}");
        }
        let explained = &second.body["plan"]["targets"][0]["explain"]["values"];
        let name = explained
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["attribute"] == "__name__")
            .unwrap();
        let refused: Vec<String> = name["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}: {}",
                    c["value"].as_str().unwrap(),
                    c["refused"].as_str().unwrap_or("chosen")
                )
            })
            .collect();
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(
            refused[0].starts_with("smithw: taken on the target by smithw"),
            "{refused:?}"
        );
        assert_eq!(refused[1], "smithw2: planned for identity emp-1");
        assert_eq!(refused[2], "smithw3: chosen");
        for outcome in [&first, &second] {
            let create = outcome.body["operations"][0]["id"].as_str().unwrap();
            let approved = host
                .post(&format!("/v1/operations/{create}/approve"), json!({}))
                .await;
            assert_eq!(approved.status, 200, "{:?}", approved.body);
            host.settle(&outcome.body).await;
        }
        assert!(entry(&slapd, "smithw2").contains("mail: will.smith2@example.com"));
        assert!(entry(&slapd, "smithw3").contains("mail: will.smith3@example.com"));

        // Planning an existing account again keeps its name.
        let again = host.put_identity("emp-1", "", will_smith(1)).await;
        assert_eq!(
            again.body["plan"]["targets"][0]["action"], "none",
            "{}",
            again.body
        );

        // A fourth: every candidate up to max_counter is taken, so it is
        // held with the reason and nothing is submitted.
        let fourth = host.put_identity("emp-4", "", will_smith(4)).await;
        assert_eq!(fourth.status, 201, "{:?}", fourth.body);
        let plan = &fourth.body["plan"]["targets"][0];
        assert_eq!(plan["action"], "held", "{plan}");
        let reason = plan["reason"].as_str().unwrap();
        assert!(
            reason.contains("every candidate for __name__ is taken"),
            "{reason}"
        );
        assert!(
            reason.contains("smithw3 (taken on the target by smithw3"),
            "{reason}"
        );
        assert!(fourth.body["operations"].as_array().unwrap().is_empty());
        assert!(!entry(&slapd, "smithw4").contains("dn:"));
    }

    /// The field's staged deprovisioning: disable and leave the groups at
    /// once, mark the entry later, delete last; each step durable across a
    /// restart, and a rehire before the end cancels the rest.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_staged_leaver_on_slapd_survives_a_restart_and_a_rehire_cancels_it() {
        let slapd = up().await;
        let mut host = TestHost::start("", "review_interval = \"200ms\"", &[]).await;
        host.stop().await;
        std::fs::write(host.path("bind.pw"), &slapd.bind_password).unwrap();
        let text = target(&slapd).replace(
            "default_role = \"staff\"\n",
            "default_role = \"staff\"\nleaver = [{ after = \"0s\", do = \"disable\" }, { after = \"0s\", do = \"remove-groups\" }, { after = \"2s\", do = { update = { description = \"left\" } } }, { after = \"10s\", do = \"delete\" }]\n",
        );
        assert!(text.contains("leaver = ["));
        host.set_targets(&text);
        host.restart().await;
        let dn = format!("uid=zodegard,{PEOPLE}");
        let joined = host.put_identity("emp-1", "", super::zoe("Sales")).await;
        host.settle(&joined.body).await;
        assert!(members(&slapd, "sales").contains(&dn));

        let mut left = super::zoe("Sales");
        left["status"] = json!("terminated");
        let leaver = host.put_identity("emp-1", "", left).await;
        assert_eq!(
            kinds(&leaver.body),
            ["disable", "remove-member everyone", "remove-member sales"],
            "{}",
            leaver.body
        );
        let plan = &leaver.body["plan"]["targets"][0];
        let scheduled: Vec<&str> = plan["scheduled"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["action"].as_str().unwrap())
            .collect();
        assert_eq!(scheduled, ["update", "delete"], "{plan}");
        host.settle(&leaver.body).await;
        assert!(locked(&slapd, "zodegard"), "disabled");
        assert!(!members(&slapd, "sales").contains(&dn));
        assert!(!members(&slapd, "everyone").contains(&dn));

        // The plan shows what comes; a restart loses nothing of it.
        let shown = host.get("/v1/identities/emp-1/plan").await.body;
        assert_eq!(
            shown["targets"][0]["scheduled"][0]["action"], "update",
            "{shown}"
        );
        host.restart().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !entry(&slapd, "zodegard").contains("description: left") {
            assert!(
                std::time::Instant::now() < deadline,
                "the 2 s step never ran"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let shown = host.get("/v1/identities/emp-1/plan").await.body;
        assert_eq!(
            shown["targets"][0]["scheduled"][0]["action"], "delete",
            "{shown}"
        );

        // Rehired before the last step: the same entry is enabled again and
        // gets its groups back; nothing is deleted later.
        let back = host.put_identity("emp-1", "", super::zoe("Sales")).await;
        let kinds_back = kinds(&back.body);
        assert!(kinds_back.contains(&"enable".to_owned()), "{}", back.body);
        assert!(!kinds_back.iter().any(|k| k == "create"), "{}", back.body);
        assert!(
            back.body["plan"]["targets"][0].get("scheduled").is_none(),
            "{}",
            back.body
        );
        host.settle(&back.body).await;
        assert!(members(&slapd, "sales").contains(&dn));
        assert!(!locked(&slapd, "zodegard"), "enabled again");
        let left_at = leaver.body["plan"]["reference_time"]
            .as_str()
            .unwrap()
            .to_owned();
        let delete_due = provisio_host::expr::ms_of_date(&left_at).unwrap() + 10_000;
        while provisio_host::store::now_ms() < delete_due + 1_000 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(
            entry(&slapd, "zodegard").contains("dn:"),
            "the delete was cancelled"
        );
        let audit = host.audit_all().await;
        assert!(
            audit
                .iter()
                .any(|e| e["event"] == "identity-provisioned" && e["actor"] == "provisio:review"),
            "the later step ran at its review"
        );
    }

    /// Waits for every operation a source run's identities submitted.
    async fn settle_run(host: &TestHost, run: &serde_json::Value) {
        let id = run["id"].as_str().unwrap();
        let items = host
            .get(&format!("/v1/sources/hr/runs/{id}/items?limit=1000"))
            .await
            .body;
        for identity in items["items"].as_array().unwrap() {
            let view = host
                .get(&format!(
                    "/v1/identities/{}",
                    identity["identity"].as_str().unwrap()
                ))
                .await
                .body;
            for account in view["accounts"].as_array().unwrap() {
                for op in account["operations"].as_array().unwrap() {
                    let done = host.wait(op["id"].as_str().unwrap()).await;
                    assert_eq!(done["status"], "succeeded", "{done}");
                }
            }
        }
    }

    /// An HR export run into slapd through a source: joiners get entries
    /// and groups, a mover's groups follow, a leaver gone from the file is
    /// deleted, and the same file again plans nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_hr_source_converges_slapd() {
        let slapd = up().await;
        let mut host = TestHost::start("", "", &["hr"]).await;
        host.stop().await;
        std::fs::write(host.path("bind.pw"), &slapd.bind_password).unwrap();
        host.set_targets(&(target(&slapd) + &super::sources::hr_source("")));
        host.restart().await;
        super::sources::drop_file(
            &host,
            &["1001,Zoë,Ødegård,Sales,", "1002,Grace,Hopper,Research,"],
        );
        let first = super::sources::run(&host, "").await;
        assert_eq!(first["counts"]["joiners"], 2, "{first}");
        settle_run(&host, &first).await;
        let zoe = format!("uid=zodegard,{PEOPLE}");
        let grace = format!("uid=ghopper,{PEOPLE}");
        assert!(members(&slapd, "sales").contains(&zoe));
        assert!(members(&slapd, "research").contains(&grace));
        assert!(members(&slapd, "everyone").contains(&grace));

        super::sources::drop_file(&host, &["1001,Zoë,Ødegård,Research,"]);
        let second = super::sources::run(&host, "").await;
        assert_eq!(
            (
                second["counts"]["movers"].as_u64(),
                second["counts"]["leavers"].as_u64()
            ),
            (Some(1), Some(1)),
            "{second}"
        );
        settle_run(&host, &second).await;
        assert!(!members(&slapd, "sales").contains(&zoe));
        assert!(members(&slapd, "research").contains(&zoe));
        assert!(entry(&slapd, "zodegard").contains("departmentNumber: Research"));
        assert!(
            !entry(&slapd, "ghopper").contains("dn:"),
            "the leaver is deleted"
        );
        assert!(!members(&slapd, "research").contains(&grace));

        // The same file again: the sync reports no change, nothing is planned.
        let third = super::sources::run(&host, "").await;
        assert_eq!(third["read_by"], "sync", "{third}");
        assert_eq!(third["counts"]["read"], 0, "{third}");
        assert_eq!(third["counts"]["operations"], 0, "{third}");
    }
}

mod sources {
    //! An HR system drops a CSV file; a source run turns it into joiners,
    //! movers and leavers, and the application target converges.

    use super::{account, groups_of, rows};
    use provisio_tests::host::{PROVISIONER, TestHost};
    use serde_json::{Value, json};
    use std::time::{Duration, Instant};

    const HR_COLUMNS: &str = "employeeId,givenName,familyName,department,status";

    pub(super) fn hr_source(extra: &str) -> String {
        format!(
            r#"
[targets.hr]
connector = "bundled:csv"
[targets.hr.grants]
directory = "{{dir}}/hr"
[targets.hr.config]
"account.key" = "employeeId"
"account.columns" = "{HR_COLUMNS}"
"classes" = "account"

[sources.hr]
target = "hr"
key = "employeeId"
required = ["familyName"]
missing = "terminate"
{extra}
[sources.hr.mapping]
first = "{{{{ givenName }}}}"
last = "{{{{ familyName }}}}"
department = "{{{{ department }}}}"
status = {{ expr = "'terminated' if status == 'left' else 'active'" }}
"#
        )
    }

    async fn host(extra: &str) -> TestHost {
        let app = super::app_target("").replace(
            "__name__ = \"{{ (first[0] ~ last) | normalize_diacritics | lower }}\"",
            r#"__name__ = { unique = ["{{ (last ~ first[0]) | normalize_diacritics | lower }}", "{{ (last ~ first[0]) | normalize_diacritics | lower }}{{ n }}"] }"#,
        );
        assert!(app.contains("unique"));
        let host = TestHost::start(
            &(app + &super::roles("app") + &hr_source(extra)),
            "",
            &["app", "hr"],
        )
        .await;
        std::fs::write(
            host.path("app/groups.csv"),
            "id,name,members\neveryone,Everyone,\nsales,Sales,\nresearch,Research,\nprojects,Projects,\n",
        )
        .unwrap();
        host
    }

    pub(super) fn drop_file(host: &TestHost, rows: &[&str]) {
        let mut text = format!("{HR_COLUMNS}\n");
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        std::fs::write(host.path("hr/accounts.csv"), text).unwrap();
    }

    /// Starts a run and waits for it to stop running.
    pub(super) async fn run(host: &TestHost, query: &str) -> Value {
        let started = host
            .request(
                reqwest::Method::POST,
                &format!("/v1/sources/hr/runs{query}"),
                Some(PROVISIONER),
                None,
            )
            .await;
        assert_eq!(started.status, 202, "{:?}", started.body);
        let id = started.body["id"].as_str().unwrap().to_owned();
        wait_run(host, &id).await
    }

    pub(super) async fn wait_run(host: &TestHost, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run = host.get(&format!("/v1/sources/hr/runs/{id}")).await.body;
            if run["state"] != "running" {
                return run;
            }
            assert!(Instant::now() < deadline, "the run never ended: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn items(host: &TestHost, run: &Value) -> Vec<Value> {
        let id = run["id"].as_str().unwrap();
        host.get(&format!("/v1/sources/hr/runs/{id}/items?limit=1000"))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until every operation of the app target has ended.
    async fn settle_target(host: &TestHost) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let open = host.get("/v1/operations?target=app&limit=1000").await.body["operations"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| {
                    !["succeeded", "failed", "cancelled"].contains(&o["status"].as_str().unwrap())
                })
                .count();
            if open == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{open} operations never ended");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn by_name(host: &TestHost, name: &str) -> Option<serde_json::Map<String, Value>> {
        rows(host, "app/accounts.csv")
            .into_iter()
            .find(|r| r["userName"] == name)
    }

    /// Joiners are submitted several at once but planned one at a time in
    /// the order the source answers its records, so thirty Will Smiths get
    /// `smithw`, `smithw2`, … `smithw30` in that order on every run.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn namesakes_joining_together_get_unique_names_in_the_sources_order() {
        let host = host("").await;
        let rows: Vec<String> = (1..=30)
            .map(|i| format!("{},Will,Smith,Sales,", 2000 + i))
            .collect();
        drop_file(&host, &rows.iter().map(String::as_str).collect::<Vec<_>>());
        let run = run(&host, "").await;
        assert_eq!(run["state"], "succeeded", "{run}");
        assert_eq!(run["counts"]["joiners"], 30, "{run}");
        settle_target(&host).await;
        for i in 1..=30 {
            let expected = if i == 1 {
                "smithw".to_owned()
            } else {
                format!("smithw{i}")
            };
            let id = (2000 + i).to_string();
            assert_eq!(
                account(&host, &id).unwrap()["userName"],
                expected.as_str(),
                "identity {id}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_hr_file_converges_the_targets() {
        let host = host("").await;
        drop_file(
            &host,
            &[
                "1001,Ada,Lovelace,Research,",
                "1002,Will,Smith,Sales,",
                "1003,Grace,Hopper,Research,",
            ],
        );

        // A dry run decides and changes nothing.
        let dry = run(&host, "?dry_run=true").await;
        assert_eq!(dry["state"], "planned", "{dry}");
        assert_eq!(dry["counts"]["joiners"], 3, "{dry}");
        assert!(rows(&host, "app/accounts.csv").is_empty());
        assert_eq!(
            host.get("/v1/identities").await.body["identities"],
            json!([])
        );

        let first = run(&host, "").await;
        assert_eq!(first["state"], "succeeded", "{first}");
        assert_eq!(first["counts"]["joiners"], 3, "{first}");
        assert_eq!(
            first["counts"]["operations"],
            3 * 3,
            "create and two groups each: {first}"
        );
        settle_target(&host).await;
        assert_eq!(by_name(&host, "smithw").unwrap()["department"], "Sales");
        assert_eq!(groups_of(&host, "1002"), ["everyone", "sales"]);

        assert_eq!(
            first["read_by"], "search",
            "the first run reads every record"
        );

        // The same file again plans nothing: the CSV connector has `sync`,
        // so the run reads only what changed since the first (nothing).
        let again = run(&host, "").await;
        assert_eq!(again["read_by"], "sync", "{again}");
        assert_eq!(again["counts"]["read"], 0, "{again}");
        assert_eq!(again["counts"]["operations"], 0, "{again}");

        // The next file: a mover, a leaver by status, one gone from the
        // file, a second Will Smith, and a row without a family name.
        drop_file(
            &host,
            &[
                "1001,Ada,Lovelace,Sales,",
                "1002,Will,Smith,Sales,left",
                "1004,Will,Smith,Research,",
                "1005,Nobody,,Research,",
            ],
        );
        let second = run(&host, "").await;
        assert_eq!(second["state"], "succeeded", "{second}");
        let counts = &second["counts"];
        assert_eq!(
            (
                counts["joiners"].as_u64(),
                counts["movers"].as_u64(),
                counts["leavers"].as_u64(),
                counts["rejected"].as_u64()
            ),
            (Some(1), Some(1), Some(2), Some(1)),
            "{second}"
        );
        assert_eq!(second["rejected"][0]["identity"], "1005", "{second}");
        assert!(
            second["rejected"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("familyName"),
            "{second}"
        );
        let items = items(&host, &second).await;
        let change = |id: &str| {
            items
                .iter()
                .find(|i| i["identity"] == id)
                .map(|i| i["change"].as_str().unwrap().to_owned())
        };
        assert_eq!(change("1001").as_deref(), Some("mover"));
        assert_eq!(change("1002").as_deref(), Some("leaver"));
        assert_eq!(
            change("1003").as_deref(),
            Some("leaver"),
            "gone from the file"
        );
        assert_eq!(change("1004").as_deref(), Some("joiner"));
        settle_target(&host).await;
        assert_eq!(account(&host, "1001").unwrap()["department"], "Sales");
        assert_eq!(groups_of(&host, "1001"), ["everyone", "sales"]);
        assert_eq!(account(&host, "1002").unwrap()["active"], "false");
        assert_eq!(account(&host, "1003").unwrap()["active"], "false");
        assert!(groups_of(&host, "1003").is_empty());
        // The second Will Smith: the first still holds smithw (disabled).
        assert_eq!(account(&host, "1004").unwrap()["userName"], "smithw2");
        let view = host.get("/v1/identities/1003").await.body;
        assert_eq!(view["status"], "terminated", "{view}");
        // The sync read only the four rows that changed or came; 1003's row
        // is gone and its delete named the identity it had set.
        assert_eq!(second["read_by"], "sync", "{second}");
        assert_eq!(second["counts"]["read"], 4, "{second}");

        // A token the connector no longer knows (its snapshots removed):
        // the run says so and reads everything, deciding the same.
        std::fs::remove_dir_all(host.path("hr/.provisio-sync")).unwrap();
        let fallback = run(&host, "").await;
        assert_eq!(fallback["state"], "succeeded", "{fallback}");
        assert_eq!(fallback["read_by"], "search", "{fallback}");
        assert!(
            fallback["notes"][0].as_str().unwrap().contains("sync"),
            "{fallback}"
        );
        assert_eq!(fallback["counts"]["read"], 4, "{fallback}");
        assert_eq!(fallback["counts"]["unchanged"], 3, "{fallback}");
        assert_eq!(fallback["counts"]["operations"], 0, "{fallback}");

        // A known person's row that is rejected (no family name) is
        // skipped, never taken for a leaver: read by sync, and read whole.
        drop_file(
            &host,
            &[
                "1001,Ada,,Sales,",
                "1002,Will,Smith,Sales,left",
                "1004,Will,Smith,Research,",
                "1005,Nobody,,Research,",
            ],
        );
        for read_by in ["sync", "search"] {
            if read_by == "search" {
                std::fs::remove_dir_all(host.path("hr/.provisio-sync")).unwrap();
            }
            let skipped = run(&host, "").await;
            assert_eq!(skipped["read_by"], read_by, "{skipped}");
            assert_eq!(skipped["counts"]["leavers"], 0, "{skipped}");
            assert_eq!(skipped["rejected"][0]["identity"], "1001", "{skipped}");
        }
        assert_eq!(account(&host, "1001").unwrap()["active"], "true");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_deletion_guard_stops_a_run_before_it_acts() {
        let host = host("max_leaver_share = 0.5").await;
        drop_file(
            &host,
            &[
                "1001,Ada,Lovelace,Research,",
                "1002,Will,Smith,Sales,",
                "1003,Grace,Hopper,Research,",
                "1004,Alan,Turing,Research,",
            ],
        );
        assert_eq!(run(&host, "").await["state"], "succeeded");
        settle_target(&host).await;

        // A truncated export: three of four people missing.
        drop_file(&host, &["1001,Ada,Lovelace,Research,"]);
        let stopped = run(&host, "").await;
        assert_eq!(stopped["state"], "needs-confirmation", "{stopped}");
        assert_eq!(stopped["guard"]["leavers"], 3, "{stopped}");
        assert_eq!(stopped["guard"]["known"], 4, "{stopped}");
        assert!(
            stopped["guard"]["reason"]
                .as_str()
                .unwrap()
                .contains("max_leaver_share"),
            "{stopped}"
        );
        for id in ["1002", "1003", "1004"] {
            assert_eq!(
                account(&host, id).unwrap()["active"],
                "true",
                "nothing was sent"
            );
        }
        let id = stopped["id"].as_str().unwrap();
        let busy = run_status(&host, "").await;
        assert_eq!(busy, 202, "a stopped run does not block the next");

        // A provisioner cannot confirm; an operator can, and exactly the
        // decided items are applied.
        let refused = host
            .request(
                reqwest::Method::POST,
                &format!("/v1/sources/hr/runs/{id}/confirm"),
                Some(PROVISIONER),
                None,
            )
            .await;
        assert_eq!(refused.status, 403);
        let confirmed = host
            .post(&format!("/v1/sources/hr/runs/{id}/confirm"), json!({}))
            .await;
        assert_eq!(confirmed.status, 202, "{:?}", confirmed.body);
        let done = wait_run(&host, id).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["confirmed_by"], "ops", "{done}");
        settle_target(&host).await;
        for id in ["1002", "1003", "1004"] {
            assert_eq!(account(&host, id).unwrap()["active"], "false");
        }
        assert_eq!(account(&host, "1001").unwrap()["active"], "true");
        let again = host
            .post(&format!("/v1/sources/hr/runs/{id}/confirm"), json!({}))
            .await;
        assert_eq!(again.status, 409, "{:?}", again.body);
    }

    async fn run_status(host: &TestHost, query: &str) -> u16 {
        let started = host
            .request(
                reqwest::Method::POST,
                &format!("/v1/sources/hr/runs{query}"),
                Some(PROVISIONER),
                None,
            )
            .await;
        let id = started.body["id"].as_str().unwrap_or_default().to_owned();
        if started.status == 202 {
            wait_run(host, &id).await;
        }
        started.status
    }
}

mod hostile {
    //! What a hostile caller, operator file or connector can do to the
    //! identity layer: a clear error, a bound that holds, nothing stored.

    use super::{app_host, app_target, roles};
    use provisio_tests::host::{PROVISIONER, TestHost};
    use serde_json::json;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_identity_requests_store_nothing() {
        let host = app_host("").await;
        let many: serde_json::Map<String, serde_json::Value> =
            (0..501).map(|i| (format!("a{i}"), json!("x"))).collect();
        let huge = "x".repeat(70 * 1024);
        for (id, body, field) in [
            ("emp-1", json!({"profile": many}), Some("profile")),
            ("emp-1", json!({"profile": {"note": huge}}), Some("profile")),
            ("emp-1", json!({"roles": ["Staff"]}), Some("roles[0]")),
            (
                "emp-1",
                json!({"roles": ["staff", "staff"]}),
                Some("roles[1]"),
            ),
            (
                "emp-1",
                json!({"roles": [{"role": "staff", "start": "2027-01-02", "end": "2027-01-01"}]}),
                Some("roles[0].end"),
            ),
            (
                "emp-1",
                json!({"profile": {"bad name": "x"}}),
                Some("profile.bad name"),
            ),
            ("a%2Fb", json!({}), Some("id")),
            ("a%01b", json!({}), Some("id")),
            ("%20lead", json!({}), Some("id")),
            // Reconciliation's stand-in for orphan accounts.
            ("orphan:9999", json!({}), Some("id")),
            (&"x".repeat(300), json!({}), Some("id")),
        ] {
            let reply = host.put_identity(id, "", body).await;
            assert_eq!(reply.status, 400, "{id}: {:?}", reply.body);
            if let Some(field) = field {
                assert_eq!(reply.body["field"], field, "{id}: {:?}", reply.body);
            }
        }
        // A body with a field twice, or not JSON at all.
        for raw in [
            r#"{"profile": {}, "profile": {"first": "x"}}"#,
            "{\"profile\": ",
        ] {
            let reply = reqwest::Client::new()
                .put(format!("{}/v1/identities/emp-1", host.base))
                .bearer_auth(PROVISIONER)
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 400, "{raw}");
        }
        // A body over the server's limit is refused before it is read.
        let big = json!({"profile": {"note": "x".repeat(2 << 20)}});
        assert_eq!(host.put_identity("emp-1", "", big).await.status, 413);
        let plan = host
            .get("/v1/identities/emp-1/plan?at=next%20tuesday")
            .await;
        assert_eq!(plan.status, 404, "no such identity: {:?}", plan.body);
        let listed = host.get("/v1/identities?limit=abc").await;
        assert_eq!(listed.status, 400, "{:?}", listed.body);
        let listed = host.get("/v1/identities?limit=0").await;
        assert_eq!(listed.status, 200, "clamped: {:?}", listed.body);
        assert_eq!(listed.body["identities"], json!([]), "nothing was stored");
        let operations = host.get("/v1/operations?target=app").await;
        assert_eq!(
            operations.body["operations"],
            json!([]),
            "nothing was submitted"
        );

        // A bad reference time on an identity that exists names the field.
        let made = host.put_identity("emp-2", "", super::zoe("Sales")).await;
        assert_eq!(made.status, 201);
        let plan = host
            .get("/v1/identities/emp-2/plan?at=next%20tuesday")
            .await;
        assert_eq!(plan.status, 400, "{:?}", plan.body);
        assert_eq!(plan.body["field"], "at");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_source_requests_and_a_source_that_never_ends() {
        use provisio_tests::fixtures;
        let endless = format!(
            "[targets.endless]\nconnector = {:?}\ntimeout = \"60s\"\n\
             [sources.endless]\ntarget = \"endless\"\nkey = \"employeeId\"\nmissing = \"terminate\"\n\
             [sources.endless.mapping]\nfirst = \"{{{{ name }}}}\"\n",
            fixtures::HOSTILE
        );
        let host = TestHost::start(&endless, "", &[]).await;
        let post = |path: &str| {
            let path = path.to_owned();
            let host = &host;
            async move {
                host.request(reqwest::Method::POST, &path, Some(PROVISIONER), None)
                    .await
            }
        };
        assert_eq!(post("/v1/sources/nope/runs").await.status, 404);
        assert_eq!(host.get("/v1/sources/endless/runs/nope").await.status, 404);
        assert_eq!(
            host.get("/v1/sources/endless/runs/nope/items").await.status,
            404
        );
        assert_eq!(host.get("/v1/sources/endless/runs?x=1").await.status, 200);
        assert_eq!(
            post("/v1/sources/endless/runs?dry_run=maybe").await.status,
            400
        );

        // The connector pages forever: the run fails saying so, having
        // decided (and terminated) nobody.
        let started = post("/v1/sources/endless/runs").await;
        assert_eq!(started.status, 202, "{:?}", started.body);
        let id = started.body["id"].as_str().unwrap().to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let run = loop {
            let run = host
                .get(&format!("/v1/sources/endless/runs/{id}"))
                .await
                .body;
            if run["state"] != "running" {
                break run;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the run never ended: {run}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(run["state"], "failed", "{run}");
        assert!(
            run["error"]
                .as_str()
                .unwrap()
                .contains("without reaching the end"),
            "{run}"
        );
        assert_eq!(
            host.get("/v1/identities").await.body["identities"],
            json!([])
        );
        let confirm = host
            .post(&format!("/v1/sources/endless/runs/{id}/confirm"), json!({}))
            .await;
        assert_eq!(
            confirm.status, 409,
            "only a stopped run is confirmed: {:?}",
            confirm.body
        );
    }

    #[test]
    fn hostile_configuration_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        let file = dir.path().join("provisio.toml");
        let base = format!(
            "[server]\ninsecure_no_auth = true\n{}{}",
            app_target(""),
            roles("app")
        )
        .replace("{dir}", &dir.path().display().to_string());
        let source = "\n[sources.hr]\ntarget = \"app\"\nkey = \"id\"\n[sources.hr.mapping]\nfirst = \"{{ givenName }}\"\n";
        for (from, to, key, says) in [
            (
                "default_role = \"staff\"\n",
                "default_role = \"staff\"\nleaver = [{ after = \"30d\", do = \"disable\" }, { after = \"1d\", do = \"delete\" }]\n",
                "targets.app.accounts.leaver[1].after",
                "comes before",
            ),
            (
                "default_role = \"staff\"\n",
                "default_role = \"staff\"\nleaver = [{ after = \"0s\", do = \"delete\" }, { after = \"1d\", do = \"disable\" }]\n",
                "targets.app.accounts.leaver[0]",
                "last step",
            ),
            (
                "default_role = \"staff\"\n",
                "default_role = \"staff\"\nleaver = [{ after = \"0s\", do = \"explode\" }]\n",
                "targets.app.accounts.leaver",
                "",
            ),
            (
                "department = \"{{ department }}\"",
                "department = { unique = [\"{{ department }}{{ n }}\"], max_counter = 1 }",
                "targets.app.accounts.attributes.department.max_counter",
                "at least 2",
            ),
            (
                "department = \"{{ department }}\"",
                "department = { value = \"x\", unique = [\"y\"] }",
                "targets.app.accounts.attributes.department",
                "one of",
            ),
            (
                "department = \"{{ department }}\"",
                "Department = \"{{ department }}\"\ndepartment = \"{{ department }}\"",
                "targets.app.accounts.attributes.department",
                "spelled another way",
            ),
        ] {
            let text = base.replace(from, to);
            assert_ne!(text, base, "{from} is in the configuration");
            let error = provisio_host::config::Config::parse(&text, &file, dir.path())
                .err()
                .unwrap_or_else(|| panic!("{to} was accepted"));
            assert!(error.key.starts_with(key), "{key}: {error}");
            assert!(error.reason.contains(says), "{says}: {error}");
        }
        for (to, key, says) in [
            ("target = \"nowhere\"", "sources.hr.target", "no target"),
            (
                "target = \"app\"\nmax_leaver_share = 2.0",
                "sources.hr.max_leaver_share",
                "at most 1",
            ),
            (
                "target = \"app\"\ninterval = \"0s\"",
                "sources.hr.interval",
                "longer than zero",
            ),
        ] {
            let text = format!("{base}{}", source.replace("target = \"app\"", to));
            let error = provisio_host::config::Config::parse(&text, &file, dir.path()).unwrap_err();
            assert_eq!(error.key, key, "{error}");
            assert!(error.reason.contains(says), "{error}");
        }
        let text = format!(
            "{base}{}",
            source.replace(
                "first = \"{{ givenName }}\"",
                "first = { unique = [\"x\"] }"
            )
        );
        let error = provisio_host::config::Config::parse(&text, &file, dir.path()).unwrap_err();
        assert_eq!(error.key, "sources.hr.mapping.first", "{error}");
        let text = format!(
            "{base}{}",
            source.replace("first = \"{{ givenName }}\"", "first = \"{{ givenName \"")
        );
        let error = provisio_host::config::Config::parse(&text, &file, dir.path()).unwrap_err();
        assert_eq!(error.key, "sources.hr.mapping.first", "{error}");
        assert!(error.reason.contains("line 1"), "{error}");
    }
}

//! Identities benchmark (issue 18), in one run:
//!
//! - a source's dry run over an HR export of 100,000 rows read through
//!   the CSV connector (read, map, classify), with the peak memory (first,
//!   so the process holds nothing but the host);
//! - planning alone: 10,000 and 100,000 joiners planned for a policy map
//!   of eight attributes and birthright roles, with the peak memory;
//! - converging: an HR export of 10,000 people run into slapd (an account
//!   and one group membership each) through the source, the planner and
//!   the engine, against the native limit: `ldapadd -c` of the same 10,000
//!   entries, then `ldapmodify -c` adding each to the group.
//!
//! Run: `cargo bench -p provisio-tests --bench identities`
//! (`PROVISIO_BENCH_PEOPLE=N` sets the converge size, default 10,000, 0
//! to leave converging out; `PROVISIO_BENCH_CONCURRENCY=N` the slapd
//! target's concurrency, default 8;
//! `PROVISIO_BENCH_PLAN=N` the larger planning size, default 100,000).

use provisio_host::config::Config;
use provisio_host::expr::Context;
use provisio_host::identity::{DesiredState, Observed, Planning, Policies, Read};
use provisio_tests::host::{PROVISIONER, TestHost};
use provisio_tests::load::{env_or, peak_mib, reset_peak, resident_mib};
use provisio_tests::slapd::Slapd;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MAP: &str = r#"
[targets.dir.accounts]
default_role = "staff"
[targets.dir.accounts.attributes]
__name__ = "{{ ('p' ~ id) | lower }}"
cn = "{{ first }} {{ last }}"
sn = "{{ last }}"
givenName = "{{ first }}"
mail = { value = "{{ (first ~ '.' ~ last ~ '.' ~ id) | normalize_diacritics | lower }}@example.com", create_only = true }
departmentNumber = "{{ department | lookup('codes', '000') }}"
employeeNumber = { expr = "id", create_only = true }
title = { value = "{{ title }}", strength = "weak" }

[tables.codes]
Sales = "410"
Research = "520"
Engineering = "610"

[roles.staff]
[roles.staff.targets.dir]
groups = ["everyone"]
[roles.sales]
when = 'department == "Sales"'
[roles.sales.targets.dir]
groups = ["sales"]
"#;

const DEPARTMENTS: [&str; 3] = ["Sales", "Research", "Engineering"];

fn person(i: usize) -> DesiredState {
    serde_json::from_value(json!({"profile": {
        "first": format!("Zoë{i}"), "last": "Ødegård", "department": DEPARTMENTS[i % 3],
        "title": "Analyst"}}))
    .unwrap()
}

/// Plans `n` joiners against the map; answers the time, the number of
/// operations planned, the peak RSS and the resident memory before.
fn plan(policies: &Policies, n: usize) -> (Duration, usize, f64, f64) {
    let map = policies.maps.values().next().unwrap();
    let observed = Observed {
        uid: None,
        read: Read::Nothing,
        previous: None,
        creating: false,
        unique: BTreeMap::new(),
    };
    let before = resident_mib();
    let states: Vec<DesiredState> = (0..n).map(person).collect();
    reset_peak();
    let started = Instant::now();
    // As a source run does: every desired state held, each plan made,
    // submitted and dropped.
    let mut operations = 0;
    let now = "2026-12-02T00:00:00Z";
    for (i, state) in states.iter().enumerate() {
        let id = format!("{i:07}");
        let assigned = state.roles_at(now);
        let context = Context::new(state.context(&id, now, &[]));
        let roles = policies.held_roles(&assigned, &context).unwrap();
        let names: Vec<String> = roles.iter().map(|r| r.role.clone()).collect();
        let context = Context::new(state.context(&id, now, &names));
        let planning = Planning {
            policies,
            state,
            roles: &roles,
            context: &context,
            now,
            now_ms: 0,
            explain: false,
        };
        operations += planning.target(map, &observed).unwrap().operations.len();
    }
    let elapsed = started.elapsed();
    let peak = peak_mib();
    drop(states);
    (elapsed, operations, peak, before)
}

fn planning_config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[server]\ninsecure_no_auth = true\n[targets.dir]\nconnector = \"bundled:ldap\"\n{MAP}"
    );
    Config::parse(&text, &dir.path().join("provisio.toml"), dir.path()).unwrap()
}

async fn wait_run(host: &TestHost, id: &str) -> Value {
    loop {
        let run = host.get(&format!("/v1/sources/hr/runs/{id}")).await.body;
        if run["state"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start_run(host: &TestHost, query: &str) -> String {
    let started = host
        .request(
            reqwest::Method::POST,
            &format!("/v1/sources/hr/runs{query}"),
            Some(PROVISIONER),
            None,
        )
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    started.body["id"].as_str().unwrap().to_owned()
}

/// Waits until the target has no open operation; answers how many ended,
/// how many of them did not succeed, and per kind the mean time an
/// attempt took (started to finished).
async fn settle(host: &TestHost, target: &str) -> (usize, usize, BTreeMap<String, (usize, f64)>) {
    loop {
        let mut after = String::new();
        let (mut open, mut ended, mut bad) = (0, 0, 0);
        let mut kinds: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        loop {
            let page = host
                .get(&format!("/v1/operations?target={target}&limit=1000{after}"))
                .await
                .body;
            for o in page["operations"].as_array().unwrap() {
                let at = |k: &str| {
                    o[k].as_str().and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    })
                };
                if let (Some(a), Some(b)) = (at("started_at"), at("finished_at")) {
                    let entry = kinds
                        .entry(o["kind"].as_str().unwrap().to_owned())
                        .or_default();
                    entry.0 += 1;
                    entry.1 += (b - a).as_seconds_f64() * 1000.0;
                }
                match o["status"].as_str().unwrap() {
                    "succeeded" => ended += 1,
                    "failed" | "cancelled" => {
                        ended += 1;
                        bad += 1;
                    }
                    _ => open += 1,
                }
            }
            match page["next"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => break,
            }
        }
        if open == 0 {
            for (n, total) in kinds.values_mut() {
                *total /= (*n).max(1) as f64;
            }
            return (ended, bad, kinds);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn hr_csv(n: usize) -> String {
    let mut text = String::from("employeeId,givenName,familyName,department,title\n");
    for i in 0..n {
        text.push_str(&format!(
            "{i:07},Zoë{i},Ødegård,{},Analyst\n",
            DEPARTMENTS[i % 3]
        ));
    }
    text
}

const SOURCE: &str = r#"
[targets.hr]
connector = "bundled:csv"
[targets.hr.grants]
directory = "{dir}/hr"
[targets.hr.config]
classes = "account"
"account.key" = "employeeId"

[sources.hr]
target = "hr"
key = "employeeId"
max_leavers = 1000000
[sources.hr.mapping]
first = "{{ givenName }}"
last = "{{ familyName }}"
department = "{{ department }}"
title = "{{ title }}"
"#;

fn main() {
    let people = env_or("PROVISIO_BENCH_PEOPLE", 10_000);
    let large = env_or("PROVISIO_BENCH_PLAN", 100_000);
    println!("# Provisio identities benchmark\n");
    let config = planning_config();
    let policies = Policies::from_config(&config);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // A source's dry run over a large HR export.
        let csv_map = MAP.replace("targets.dir", "targets.app");
        let targets = format!(
            "[targets.app]\nconnector = \"bundled:csv\"\n[targets.app.grants]\ndirectory = \"{{dir}}/app\"\n[targets.app.config]\n\"account.columns\" = \"id,userName,cn,sn,givenName,mail,departmentNumber,employeeNumber,title,active\"\n\"account.name\" = \"userName\"\n\"account.enable\" = \"active\"\n{csv_map}{SOURCE}"
        ).replace("[roles.staff.targets.dir]", "[roles.staff.targets.app]").replace("[roles.sales.targets.dir]", "[roles.sales.targets.app]");
        let host = TestHost::start(&targets, "", &["app", "hr"]).await;
        std::fs::write(host.path("hr/accounts.csv"), hr_csv(large)).unwrap();
        let before = resident_mib();
        reset_peak();
        let started = Instant::now();
        let id = start_run(&host, "?dry_run=true").await;
        let run = wait_run(&host, &id).await;
        let elapsed = started.elapsed();
        assert_eq!(run["state"], "planned", "{run}");
        assert_eq!(run["counts"]["joiners"], large as u64, "{run}");
        println!("## A source's dry run (read through the CSV connector, map, classify)\n");
        println!(
            "{large} rows: {:.2} s ({:.0} rows/s), peak RSS of the whole host {:.0} MiB ({before:.0} MiB before the run)\n",
            elapsed.as_secs_f64(),
            large as f64 / elapsed.as_secs_f64(),
            peak_mib()
        );
        drop(host);

        // Planning alone.
        println!("## Planning (joiners, a map of 8 attributes, 2 roles, no target reads)\n");
        println!("| identities | time | per identity | operations | peak RSS (resident before) |");
        println!("|---:|---:|---:|---:|---:|");
        for n in [people.max(1_000), large] {
            let (elapsed, operations, peak, before) = plan(&policies, n);
            println!(
                "| {n} | {:.2} s | {:.1} µs | {operations} | {peak:.0} MiB ({before:.0} MiB) |",
                elapsed.as_secs_f64(),
                elapsed.as_secs_f64() * 1e6 / n as f64
            );
        }

        if people == 0 {
            return;
        }

        // Converging into slapd against ldapadd.
        let slapd = Slapd::up();
        let mut ldif = String::new();
        for ou in ["native", "people", "groups"] {
            ldif.push_str(&format!("dn: ou={ou},{b}\nobjectClass: organizationalUnit\nou: {ou}\n\n", b = slapd.base));
        }
        for group in ["everyone", "sales", "native-everyone"] {
            ldif.push_str(&format!(
                "dn: cn={group},ou=groups,{b}\nobjectClass: groupOfNames\ncn: {group}\nmember: cn=nobody\n\n",
                b = slapd.base
            ));
        }
        slapd.admin("ldapadd", &[], &ldif);
        let bind = ["-D", slapd.bind_dn.as_str(), "-w", slapd.bind_password.as_str()];
        let entries: String = (0..people)
            .map(|i| format!(
                "dn: uid=p{i:07},ou=native,{b}\nobjectClass: inetOrgPerson\nuid: p{i:07}\ncn: Zoë{i} Ødegård\nsn: Ødegård\ngivenName: Zoë{i}\nmail: zoe{i}.odegard.{i:07}@example.com\ndepartmentNumber: 410\nemployeeNumber: {i:07}\ntitle: Analyst\n\n",
                b = slapd.base
            ))
            .collect();
        let members: String = (0..people)
            .map(|i| format!(
                "dn: cn=native-everyone,ou=groups,{b}\nchangetype: modify\nadd: member\nmember: uid=p{i:07},ou=native,{b}\n\n",
                b = slapd.base
            ))
            .collect();
        let started = Instant::now();
        let out = slapd.tool("ldapadd", &[&bind[..], &["-c"]].concat(), &entries);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let add_seconds = started.elapsed().as_secs_f64();
        let out = slapd.tool("ldapmodify", &[&bind[..], &["-c"]].concat(), &members);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let native_seconds = started.elapsed().as_secs_f64();

        let pw = std::env::temp_dir().join(format!("provisio-identities-bench-{}.pw", std::process::id()));
        std::fs::write(&pw, &slapd.bind_password).unwrap();
        let targets = format!(
            "[targets.dir]\nconnector = \"bundled:ldap\"\nconcurrency = {concurrency}\ntimeout = \"60s\"\n\
             membership = {{ mode = \"group-attribute\", group_class = \"group\", attribute = \"members\" }}\n\
             [targets.dir.grants.ldap]\nurls = [{url:?}]\nbind_dn = {dn:?}\npassword = {{ file = {pw:?} }}\nallow_plaintext_bind = true\n\
             [targets.dir.config]\nurl = {url:?}\nbase_dn = {base:?}\n\"account.base\" = \"ou=people,{base}\"\n\"group.base\" = \"ou=groups,{base}\"\n{MAP}{SOURCE}",
            url = slapd.url,
            concurrency = env_or("PROVISIO_BENCH_CONCURRENCY", 8),
            dn = slapd.bind_dn,
            base = slapd.base,
            pw = pw.display().to_string(),
        ).replace("[roles.sales]\nwhen = 'department == \"Sales\"'\n[roles.sales.targets.dir]\ngroups = [\"sales\"]\n", "");
        let host = TestHost::start(&targets, "", &["hr"]).await;
        std::fs::write(host.path("hr/accounts.csv"), hr_csv(people)).unwrap();
        let started = Instant::now();
        let id = start_run(&host, "").await;
        let run = wait_run(&host, &id).await;
        let submitted = started.elapsed().as_secs_f64();
        assert_eq!(run["state"], "succeeded", "{run}");
        let (ended, bad, kinds) = settle(&host, "dir").await;
        let converged = started.elapsed().as_secs_f64();
        assert_eq!(bad, 0, "every operation succeeds");
        assert_eq!(ended, people * 2, "an account and a membership each");
        let count = host.get("/v1/targets/dir/count").await.body;
        println!("## Converging {people} people into slapd (an account and one group membership each)\n");
        println!("| | time | per person | ratio |");
        println!("|---|---:|---:|---:|");
        println!("| `ldapadd -c` of the entries | {add_seconds:.2} s | {:.2} ms | |", add_seconds * 1000.0 / people as f64);
        println!("| `ldapadd -c` + `ldapmodify -c` (entries, then memberships): the native limit | {native_seconds:.2} s | {:.2} ms | 1.00 |", native_seconds * 1000.0 / people as f64);
        println!("| Provisio: source run, plans submitted | {submitted:.2} s | {:.2} ms | {:.2} |", submitted * 1000.0 / people as f64, submitted / native_seconds);
        println!("| Provisio: every operation ended ({ended}) | {converged:.2} s | {:.2} ms | {:.2} |", converged * 1000.0 / people as f64, converged / native_seconds);
        let held = count.get("count").map_or_else(|| format!("? (count answered {count})"), ToString::to_string);
        println!("\n(ratio to `ldapadd -c` of the entries alone: {:.2}; the directory holds {held} accounts)", converged / add_seconds);
        for (kind, (n, mean)) in &kinds {
            println!("- {kind}: {n} operations, {mean:.2} ms per attempt on average");
        }
        let _ = std::fs::remove_file(pw);
    });
}

//! Reconciliation benchmark (issue 19), in one run, at two sizes (a tenth
//! of N, then N; N is 100,000 unless `PROVISIO_BENCH_ACCOUNTS` says):
//!
//! - slapd holds N accounts, each linked to its identity (a first run
//!   links them by correlation), then 10% get a drifted attribute and 1%
//!   more are orphans;
//! - measured: a dry run over the whole directory (page, classify against
//!   the links and each identity's policy map, store every item), its
//!   time per account and the host's peak memory, against the native
//!   limit measured in the same run: `ldapsearch -E pr=1000/noprompt`
//!   dumping the same entries with the same attributes.
//!
//! Run: `cargo bench -p provisio-tests --bench reconciliation`

use futures_util::StreamExt;
use provisio_tests::host::{PROVISIONER, TestHost};
use provisio_tests::load::{cpu_seconds, env_or, peak_mib, reset_peak, resident_mib};
use provisio_tests::slapd::Slapd;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEPARTMENTS: [&str; 3] = ["Sales", "Research", "Engineering"];
const ATTRIBUTES: &str = "cn sn givenName departmentNumber employeeNumber pwdAccountLockedTime";

fn target(slapd: &Slapd, pw: &str, scope: &str) -> String {
    format!(
        r#"[targets.dir]
connector = "bundled:ldap"
concurrency = 8
timeout = "60s"
[targets.dir.grants.ldap]
urls = [{url:?}]
bind_dn = {dn:?}
password = {{ file = {pw:?} }}
allow_plaintext_bind = true
[targets.dir.config]
url = {url:?}
base_dn = {base:?}
"account.base" = "ou=people,{base}"

[targets.dir.accounts]
default_role = "staff"
{scope}
[targets.dir.accounts.attributes]
__name__ = "{{{{ 'p' ~ id }}}}"
cn = "{{{{ first }}}} {{{{ last }}}}"
sn = "{{{{ last }}}}"
givenName = "{{{{ first }}}}"
departmentNumber = "{{{{ department }}}}"
employeeNumber = {{ expr = "id", create_only = true }}

[targets.dir.reconciliation]
max_deletes = 1000000
[[targets.dir.reconciliation.correlation]]
match = {{ employeeNumber = "id" }}
[targets.dir.reconciliation.reactions]
unlinked = "link"

[roles.staff]
[roles.staff.targets.dir]
"#,
        url = slapd.url,
        dn = slapd.bind_dn,
        base = slapd.base,
    )
}

async fn reconcile(host: &TestHost, body: Value) -> Value {
    let started = host.post("/v1/targets/dir/reconciliations", body).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let id = started.body["id"].as_str().unwrap().to_owned();
    loop {
        let run = host.get(&format!("/v1/reconciliations/{id}")).await.body;
        if !["running", "applying"].contains(&run["state"].as_str().unwrap_or("")) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Figures {
    accounts: usize,
    native: f64,
    provisio: f64,
    read: f64,
    peak: f64,
    /// Resident memory when the dry run started.
    before: f64,
    /// CPU time the bench process (the host) used during the dry run.
    cpu: f64,
    drifted: u64,
    unmatched: u64,
}

async fn measure(n: usize) -> Figures {
    let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
    let b = slapd.base.clone();
    slapd.admin(
        "ldapadd",
        &[],
        &format!("dn: ou=people,{b}\nobjectClass: organizationalUnit\nou: people\n"),
    );
    let bind = [
        "-D",
        slapd.bind_dn.as_str(),
        "-w",
        slapd.bind_password.as_str(),
    ];
    let orphans = n / 100;
    let entries: String = (0..n + orphans)
        .map(|i| {
            format!(
                "dn: uid=p{i:07},ou=people,{b}\nobjectClass: inetOrgPerson\nuid: p{i:07}\ncn: First{i} Last{i}\n\
                 sn: Last{i}\ngivenName: First{i}\ndepartmentNumber: {}\nemployeeNumber: {i:07}\n\n",
                DEPARTMENTS[i % 3]
            )
        })
        .collect();
    let out = slapd.tool("ldapadd", &[&bind[..], &["-c"]].concat(), &entries);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Identities for the first n entries, with no account planned (the
    // scope holds for nobody) ...
    let pw = std::env::temp_dir().join(format!("provisio-recon-bench-{}.pw", std::process::id()));
    std::fs::write(&pw, &slapd.bind_password).unwrap();
    let pw = pw.display().to_string();
    let mut host = TestHost::start(&target(&slapd, &pw, "scope = \"false\""), "", &[]).await;
    let started = Instant::now();
    futures_util::stream::iter(0..n)
        .map(|i| {
            let host = &host;
            async move {
                let reply = host
                    .request(
                        reqwest::Method::PUT,
                        &format!("/v1/identities/{i:07}"),
                        Some(PROVISIONER),
                        Some(json!({"profile": {"first": format!("First{i}"), "last": format!("Last{i}"),
                                                "department": DEPARTMENTS[i % 3]}})),
                    )
                    .await;
                assert!(reply.status < 300, "{:?}", reply.body);
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    eprintln!(
        "{n} identities set in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // ... then in scope, and linked by a first run (correlation on the
    // employee number).
    host.stop().await;
    host.set_targets(&target(&slapd, &pw, ""));
    host.restart().await;
    let started = Instant::now();
    let linked = reconcile(&host, json!({})).await;
    assert_eq!(linked["state"], "succeeded", "{linked}");
    assert_eq!(linked["applied"]["applied"], n, "{linked}");
    eprintln!(
        "first run (linking {n}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // 10% drift behind Provisio's back.
    let drift: String = (0..n)
        .step_by(10)
        .map(|i| format!("dn: uid=p{i:07},ou=people,{b}\nchangetype: modify\nreplace: departmentNumber\ndepartmentNumber: Drifted\n\n"))
        .collect();
    let out = slapd.tool("ldapmodify", &[&bind[..], &["-c"]].concat(), &drift);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The native limit: the same entries and attributes, paged.
    let mut args: Vec<&str> = bind.to_vec();
    let base = format!("ou=people,{b}");
    args.extend([
        "-LLL",
        "-E",
        "pr=1000/noprompt",
        "-b",
        &base,
        "(objectClass=inetOrgPerson)",
    ]);
    args.extend(ATTRIBUTES.split(' '));
    let started = Instant::now();
    let out = slapd.tool("ldapsearch", &args, "");
    let native = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped = String::from_utf8_lossy(&out.stdout)
        .matches("\ndn: ")
        .count()
        + 1;
    assert_eq!(dumped, n + orphans, "ldapsearch dumped every entry");

    let before = resident_mib();
    reset_peak();
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let run = reconcile(&host, json!({"dry_run": true})).await;
    let provisio = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let peak = peak_mib();
    assert_eq!(run["state"], "planned", "{run}");
    assert_eq!(run["seen"], n + orphans, "{run}");
    let figures = Figures {
        accounts: n + orphans,
        native,
        provisio,
        read: run["read_ms"].as_f64().unwrap_or_default() / 1000.0,
        peak,
        before,
        cpu,
        drifted: run["situations"]["drifted"].as_u64().unwrap_or(0),
        unmatched: run["situations"]["unmatched"].as_u64().unwrap_or(0),
    };
    assert_eq!(figures.drifted as usize, n / 10, "{run}");
    assert_eq!(figures.unmatched as usize, orphans, "{run}");
    let _ = std::fs::remove_file(pw);
    figures
}

fn main() {
    let n = env_or("PROVISIO_BENCH_ACCOUNTS", 100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let small = measure(n / 10).await;
        let large = measure(n).await;
        println!("## Reconciling slapd (10% drifted, 1% orphans): a dry run against `ldapsearch -E pr=1000/noprompt`\n");
        println!("| accounts | ldapsearch | Provisio dry run | ratio | per account | host CPU | peak RSS (resident before) |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for f in [&small, &large] {
            println!(
                "| {} | {:.2} s | {:.2} s (read {:.2} s) | {:.2} | {:.3} ms | {:.2} s | {:.0} MiB ({:.0} MiB) |",
                f.accounts,
                f.native,
                f.provisio,
                f.read,
                f.provisio / f.native,
                f.provisio * 1000.0 / f.accounts as f64,
                f.cpu,
                f.peak,
                f.before
            );
        }
        let per = |f: &Figures| f.provisio / f.accounts as f64;
        println!(
            "\ntime per account at {} over {}: {:.2} (drifted {}, unmatched {})",
            large.accounts,
            small.accounts,
            per(&large) / per(&small),
            large.drifted,
            large.unmatched
        );
    });
}

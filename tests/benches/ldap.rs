//! LDAP benchmark against one throwaway slapd, in one run:
//!
//! - creates per second through the host's HTTP API and engine, through the
//!   host runtime alone (the bundled LDAP connector called directly), and
//!   with `ldapadd -c` (one connection, the native limit), all bound as the
//!   same service account;
//! - a full paged read of 10,000 entries (page size 500) through the
//!   runtime and the connector, against `ldapsearch -E pr=500/noprompt`;
//! - the process's resident memory after reading 2,000 and then 10,000
//!   entries, to show the read streams page by page.
//!
//! Run: `cargo bench -p provisio-tests --bench ldap` (`PROVISIO_BENCH_OPS=N`
//! sets the creates per case, `PROVISIO_BENCH_ENTRIES=N` the bulk size).

use provisio_host::model::{Attribute, PageRequest, SearchRequest, Value};
use provisio_host::runtime::capabilities::ldap::LdapGrant;
use provisio_host::runtime::{Connector, TargetSettings};
use provisio_tests::host::TestHost;
use provisio_tests::load::{drive, env_or, submit_and_wait};
use provisio_tests::slapd::Slapd;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// VmRSS and VmHWM of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn connector(slapd: &Slapd, base: &str, instances: usize) -> Connector {
    let mut settings = TargetSettings::new("ldap-bench");
    settings.max_instances = instances;
    settings.limits.timeout = Duration::from_secs(60);
    for (k, v) in [
        ("url", slapd.url.as_str()),
        ("base_dn", slapd.base.as_str()),
        ("account.base", base),
        ("group.base", base),
        ("page_size", "500"),
    ] {
        settings.grants.config.values.insert(k.into(), v.into());
    }
    settings.grants.ldap = Some(Arc::new(
        LdapGrant::new("ldap-bench", &slapd.spec()).unwrap(),
    ));
    provisio_tests::start(provisio_host::bundled::LDAP.bytes, settings)
}

fn ou(slapd: &Slapd, name: &str) {
    slapd.admin(
        "ldapadd",
        &[],
        &format!(
            "dn: ou={name},{}\nobjectClass: organizationalUnit\nou: {name}\n",
            slapd.base
        ),
    );
}

/// Reads every entry matching `filter`, page by page.
async fn read_all(connector: &Connector, filter: &str) -> usize {
    let mut cookie = None;
    let mut count = 0;
    loop {
        let page = connector
            .search(SearchRequest {
                class: "account".into(),
                filter: Some(filter.into()),
                page: PageRequest { size: 500, cookie },
                attributes: vec![],
            })
            .await
            .unwrap();
        count += page.objects.len();
        cookie = page.cookie;
        if cookie.is_none() {
            return count;
        }
    }
}

fn main() {
    let ops = env_or("PROVISIO_BENCH_OPS", 2000);
    let entries = env_or("PROVISIO_BENCH_ENTRIES", 10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let slapd = Slapd::up();
        for name in ["bulk", "small", "runtime", "api"] {
            ou(&slapd, name);
        }
        let bind = ["-D", slapd.bind_dn.as_str(), "-w", slapd.bind_password.as_str()];

        // Native: ldapadd -c, one connection, the same service account.
        let ldif = |ou: &str, n: usize| -> String {
            (0..n)
                .map(|i| format!("dn: uid={ou}{i},ou={ou},{}\nobjectClass: inetOrgPerson\nuid: {ou}{i}\ncn: Bench {i}\nsn: Bench\ngivenName: Bench\n\n", slapd.base))
                .collect()
        };
        let bulk = ldif("bulk", entries);
        let started = Instant::now();
        let out = slapd.tool("ldapadd", &[&bind[..], &["-c"]].concat(), &bulk);
        let native_seconds = started.elapsed().as_secs_f64();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let native_rate = entries as f64 / native_seconds;
        let small = ldif("small", 2000.min(entries));
        let out = slapd.tool("ldapadd", &[&bind[..], &["-c"]].concat(), &small);
        assert!(out.status.success());

        let targets = format!(
            "[targets.dir]\nconnector = \"bundled:ldap\"\nconcurrency = 8\ntimeout = \"60s\"\n\
             [targets.dir.grants.ldap]\nurls = [{url:?}]\nbind_dn = {dn:?}\npassword = {{ file = {pw:?} }}\nallow_plaintext_bind = true\n\
             [targets.dir.config]\nurl = {url:?}\nbase_dn = {base:?}\n\"account.base\" = \"ou=api,{base}\"\n\"group.base\" = \"ou=api,{base}\"\n",
            url = slapd.url,
            dn = slapd.bind_dn,
            base = slapd.base,
            pw = {
                let path = std::env::temp_dir().join(format!("provisio-ldap-bench-{}.pw", std::process::id()));
                std::fs::write(&path, &slapd.bind_password).unwrap();
                path.display().to_string()
            },
        );
        let host = Arc::new(TestHost::start(&targets, "", &[]).await);
        let direct = connector(&slapd, &format!("ou=runtime,{}", slapd.base), 8);

        println!("# Provisio LDAP benchmark (OpenLDAP slapd on loopback, nosync)\n");
        println!("`ldapadd -c` of {entries} entries (one connection): {native_rate:.0}/s\n");
        println!("| clients | creates | API + engine | host runtime | runtime / ldapadd | API / ldapadd |");
        println!("|---:|---:|---:|---:|---:|---:|");
        for clients in [1usize, 8] {
            let api = {
                let (http, base) = (reqwest::Client::new(), host.base.clone());
                drive(clients, ops, move |i| {
                    let (http, base) = (http.clone(), base.clone());
                    async move {
                        let name = format!("api{clients}-{i}");
                        let body = json!({"kind": "create", "identity": name,
                            "attributes": {"__name__": name, "sn": "Bench", "cn": "Bench", "givenName": "Bench"}});
                        let done = submit_and_wait(&http, &base, "dir", &body).await;
                        assert_eq!(done["status"], "succeeded", "{done}");
                    }
                })
                .await
            };
            let run = {
                let direct = direct.clone();
                drive(clients, ops, move |i| {
                    let direct = direct.clone();
                    async move {
                        let attributes = vec![
                            Attribute::single("__name__", Value::Text(format!("rt{clients}-{i}"))),
                            Attribute::single("sn", Value::Text("Bench".into())),
                            Attribute::single("cn", Value::Text("Bench".into())),
                            Attribute::single("givenName", Value::Text("Bench".into())),
                        ];
                        direct.create("account", attributes).await.unwrap();
                    }
                })
                .await
            };
            println!(
                "| {clients} | {ops} | {:.0}/s | {:.0}/s | {:.2} | {:.2} |",
                api.rate(),
                run.rate(),
                run.rate() / native_rate,
                api.rate() / native_rate
            );
        }

        // Full paged reads.
        let started = Instant::now();
        let out = slapd.tool(
            "ldapsearch",
            &[&bind[..], &["-E", "pr=500/noprompt", "-b", &format!("ou=bulk,{}", slapd.base), "(objectClass=inetOrgPerson)"]].concat(),
            "",
        );
        let native_read = started.elapsed();
        assert!(out.status.success());
        let native_count = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("dn: ")).count();
        assert_eq!(native_count, entries);

        // One reader (one instance) for both reads, so the second shows
        // whether memory grows with the number of entries.
        let reader = connector(&slapd, &slapd.base, 1);
        let (rss_before, _) = memory();
        let small_count = read_all(&reader, r#"name sw "small""#).await;
        let (rss_small, hwm_small) = memory();
        let started = Instant::now();
        let count = read_all(&reader, r#"name sw "bulk""#).await;
        let read = started.elapsed();
        let (rss_big, hwm_big) = memory();
        assert_eq!(count, entries);
        println!("\n| full paged read (page 500) | entries | time | / ldapsearch |");
        println!("|---|---:|---:|---:|");
        println!("| `ldapsearch -E pr=500/noprompt` | {native_count} | {:.0} ms | 1.00 |", native_read.as_secs_f64() * 1e3);
        println!(
            "| host runtime + LDAP connector | {count} | {:.0} ms | {:.2} |",
            read.as_secs_f64() * 1e3,
            read.as_secs_f64() / native_read.as_secs_f64()
        );
        println!("\n| memory (process) | RSS | peak RSS |");
        println!("|---|---:|---:|");
        println!("| before the reads | {rss_before:.1} MiB | |");
        println!("| after reading {small_count} entries | {rss_small:.1} MiB | {hwm_small:.1} MiB |");
        println!("| after reading {count} entries | {rss_big:.1} MiB | {hwm_big:.1} MiB |");
    });
}

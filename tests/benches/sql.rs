//! SQL benchmark: account creates per second into a real PostgreSQL, in one
//! run, at 1 and 8 concurrent clients:
//!
//! - through the host's HTTP API and engine into the bundled SQL connector
//!   (`Prefer: wait`, so each create has ended when its answer arrives);
//! - through the host runtime alone (the connector called directly);
//! - a native sqlx client issuing the statement the connector issues for a
//!   create (one INSERT … RETURNING the row), its pool set up as the host's
//!   (no ping before a connection used within the last second);
//! - a native sqlx client issuing the bare INSERT.
//!
//! Both pools and the runtime's instances are warmed up first (400 untimed
//! creates each at 8 clients). The runtime and native cases then run five
//! times, alternating; each ratio is taken within a round and the median
//! round's is reported, with the lowest and highest, followed by every
//! round's figures.
//!
//! Run: `cargo bench -p provisio-tests --bench sql` (`PROVISIO_BENCH_OPS=N`
//! sets the creates per case). `-- runtime` or `-- native` runs only that
//! case, at one client, for a profiler or `strace -c` to watch.

use provisio_host::model::{Attribute, Value};
use provisio_host::runtime::TargetSettings;
use provisio_host::runtime::capabilities::sql::{self, SqlGrant};
use provisio_tests::host::TestHost;
use provisio_tests::load::{Run, drive, submit_and_wait};
use provisio_tests::postgres::Postgres;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DDL: &str = "CREATE TABLE accounts (
    id text PRIMARY KEY,
    username text NOT NULL UNIQUE,
    department text,
    updated_at timestamptz)";

const CONFIG: &[(&str, &str)] = &[
    ("account.table", "accounts"),
    ("account.name", "username"),
    ("account.updated", "updated_at"),
];

fn main() {
    let ops: usize = std::env::var("PROVISIO_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pg = Postgres::up();
        let pool = pg.connect().await;
        sqlx::query(DDL).execute(&pool).await.unwrap();
        let secrets = tempfile::tempdir().unwrap();
        let password_file = secrets.path().join("pg-password");
        std::fs::write(&password_file, &pg.password).unwrap();
        let config: String = CONFIG.iter().map(|(k, v)| format!("{k:?} = {v:?}\n")).collect();
        let targets = format!(
            "[targets.pg]\nconnector = \"bundled:sql\"\nconcurrency = 8\n[targets.pg.grants.sql.main]\nurl = {:?}\npassword = {{ file = {:?} }}\nmax_connections = 8\n[targets.pg.config]\n{config}",
            pg.url,
            password_file.display().to_string()
        );
        let connector = {
            let mut settings = TargetSettings::new("pg-direct");
            settings.max_instances = 8;
            for (k, v) in CONFIG {
                settings.grants.config.values.insert((*k).into(), (*v).into());
            }
            let mut spec = pg.spec();
            spec.max_connections = 8;
            let grants = BTreeMap::from([("main".to_owned(), spec)]);
            settings.grants.sql = Some(Arc::new(SqlGrant::connect_lazy(&grants, Duration::from_secs(30)).unwrap()));
            // A build of the connector with its symbols, for a profiler.
            let bytes = match std::env::var_os("PROVISIO_BENCH_SQL_WASM") {
                Some(path) => std::fs::read(path).expect("the connector file named by PROVISIO_BENCH_SQL_WASM"),
                None => provisio_host::bundled::SQL.bytes.to_vec(),
            };
            provisio_tests::start(&bytes, settings)
        };
        let native_pool = {
            let options: sqlx::postgres::PgConnectOptions = pg.url.parse().unwrap();
            // The pool settings of the host's SQL capability, so both
            // sides make the same round trips per statement.
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| Box::pin(sql::ping_if_idle(conn, meta)))
                .connect_with(options.password(&pg.password))
                .await
                .unwrap()
        };

        let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
        if let Some(case) = only {
            let cpu_before = process_cpu();
            let run = match case.as_str() {
                "runtime" => runtime_creates(&connector, 1, ops, "rt-only".into()).await,
                "native" => native(&native_pool, 1, ops, "ns-only-".into(), SAME_STATEMENT).await,
                other => panic!("unknown case {other:?} (runtime or native)"),
            };
            let cpu = process_cpu() - cpu_before;
            println!(
                "{case}: {ops} creates at 1 client, {:.0}/s, {:.1} µs of this process's CPU per create",
                run.rate(),
                cpu.as_secs_f64() * 1e6 / ops as f64
            );
            return;
        }

        let host = Arc::new(TestHost::start(&targets, "", &[]).await);
        // Both pools open their eight connections (a SCRAM handshake each)
        // and the runtime its eight instances before anything is timed.
        runtime_creates(&connector, 8, WARM_UP, "rt-warm".into()).await;
        native(&native_pool, 8, WARM_UP, "ns-warm-".into(), SAME_STATEMENT).await;
        println!("# Provisio SQL benchmark (PostgreSQL on loopback)\n");
        println!("| clients | creates | API + engine | host runtime | native, same statement | native, one INSERT | API / native INSERT | runtime / native same | runtime / native INSERT |");
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let mut rows = Vec::new();
        for clients in [1usize, 8] {
            let api = {
                let (http, base) = (reqwest::Client::new(), host.base.clone());
                drive(clients, ops, move |i| {
                    let (http, base) = (http.clone(), base.clone());
                    async move {
                        let body = json!({"kind": "create", "identity": format!("api{clients}-{i}"),
                            "attributes": {"id": format!("api{clients}-{i}"), "__name__": format!("api{clients}-{i}"), "department": "Bench"}});
                        let done = submit_and_wait(&http, &base, "pg", &body).await;
                        assert_eq!(done["status"], "succeeded", "{done}");
                    }
                })
                .await
            };
            // The three cases alternate for ROUNDS rounds. A ratio is taken
            // within each round, whose cases ran seconds apart, and the
            // median round's is reported with the spread: a slow spell of
            // this shared VM then moves a round's cases together instead
            // of one case's figure.
            let mut rounds = Vec::new();
            for round in 0..ROUNDS {
                let direct = runtime_creates(&connector, clients, ops, format!("rt{clients}-{round}")).await;
                let same = native(&native_pool, clients, ops, format!("ns{clients}-{round}-"), SAME_STATEMENT).await;
                let insert = native(&native_pool, clients, ops, format!("ni{clients}-{round}-"), BARE_INSERT).await;
                rounds.push([direct.rate(), same.rate(), insert.rate()]);
            }
            let rate = |case: usize| median(rounds.iter().map(|r| r[case]).collect());
            let ratio = |over: usize| spread(rounds.iter().map(|r| r[0] / r[over]).collect());
            let insert = rate(2);
            println!(
                "| {clients} | {ops} | {:.0}/s | {:.0}/s | {:.0}/s | {insert:.0}/s | {:.2} | {} | {} |",
                api.rate(), rate(0), rate(1), api.rate() / insert, ratio(1), ratio(2)
            );
            rows.push((clients, rounds));
        }
        println!("\nRounds (creates/s: host runtime, native same statement, native one INSERT):");
        for (clients, rounds) in rows {
            for (i, [direct, same, insert]) in rounds.iter().enumerate() {
                println!("- {clients} client(s), round {i}: {direct:.0}, {same:.0}, {insert:.0} (runtime / native same {:.2})", direct / same);
            }
        }
    });
}

/// The statement the connector issues for a create.
const SAME_STATEMENT: &str = "INSERT INTO accounts (id, username, department, updated_at) VALUES ($1, $2, $3, clock_timestamp()) RETURNING id, username, department, CAST(updated_at AS TEXT)";

/// The least a client can send to store the same row.
const BARE_INSERT: &str = "INSERT INTO accounts (id, username, department, updated_at) VALUES ($1, $2, $3, clock_timestamp())";

/// `ops` creates through the host runtime, the connector called directly.
async fn runtime_creates(
    connector: &provisio_host::runtime::Connector,
    clients: usize,
    ops: usize,
    prefix: String,
) -> Run {
    let connector = connector.clone();
    drive(clients, ops, move |i| {
        let (connector, id) = (connector.clone(), format!("{prefix}-{i}"));
        async move {
            let attributes = vec![
                Attribute::single("id", Value::Text(id.clone())),
                Attribute::single("__name__", Value::Text(id)),
                Attribute::single("department", Value::Text("Bench".into())),
            ];
            connector.create("account", attributes).await.unwrap();
        }
    })
    .await
}

/// `ops` creates by a native sqlx client, `clients` at a time.
async fn native(
    pool: &sqlx::PgPool,
    clients: usize,
    ops: usize,
    prefix: String,
    sql: &'static str,
) -> Run {
    let pool = pool.clone();
    drive(clients, ops, move |i| {
        let (pool, id) = (pool.clone(), format!("{prefix}{i}"));
        async move {
            sqlx::query(sql)
                .bind(&id)
                .bind(&id)
                .bind("Bench")
                .fetch_all(&pool)
                .await
                .unwrap();
        }
    })
    .await
}

/// User and system CPU time of this process so far.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Clock ticks of USER_HZ, which is 100 on Linux.
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

/// Rounds of the runtime and native cases per client count.
const ROUNDS: usize = 5;

/// Creates per case run untimed first, at eight clients.
const WARM_UP: usize = 400;

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// "median (lowest–highest)" of ratios.
fn spread(mut ratios: Vec<f64>) -> String {
    ratios.sort_by(f64::total_cmp);
    format!(
        "{:.2} ({:.2}–{:.2})",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    )
}

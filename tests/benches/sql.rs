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
//! The runtime and native cases run three times, alternating, and report
//! the median round.
//!
//! Run: `cargo bench -p provisio-tests --bench sql` (`PROVISIO_BENCH_OPS=N`
//! sets the creates per case).

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
        .unwrap_or(2000);
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
        let host = Arc::new(TestHost::start(&targets, "", &[]).await);
        let connector = {
            let mut settings = TargetSettings::new("pg-direct");
            settings.max_instances = 8;
            for (k, v) in CONFIG {
                settings.config.values.insert((*k).into(), (*v).into());
            }
            let mut spec = pg.spec();
            spec.max_connections = 8;
            let grants = BTreeMap::from([("main".to_owned(), spec)]);
            settings.sql = Some(Arc::new(SqlGrant::connect_lazy(&grants, Duration::from_secs(30)).unwrap()));
            provisio_tests::start(provisio_host::bundled::SQL.bytes, settings)
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

        println!("# Provisio SQL benchmark (PostgreSQL on loopback)\n");
        println!("| clients | creates | API + engine | host runtime | native, same statement | native, one INSERT | API / native INSERT | runtime / native same | runtime / native INSERT |");
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
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
            // The three cases alternate for ROUNDS rounds and each figure
            // is the median round, so that a slow spell of this shared VM
            // lands on every case instead of one.
            let (mut directs, mut sames, mut inserts) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                let direct = {
                    let connector = connector.clone();
                    drive(clients, ops, move |i| {
                        let connector = connector.clone();
                        async move {
                            let id = format!("rt{clients}-{round}-{i}");
                            let attributes = vec![
                                Attribute::single("id", Value::Text(id.clone())),
                                Attribute::single("__name__", Value::Text(id)),
                                Attribute::single("department", Value::Text("Bench".into())),
                            ];
                            connector.create("account", attributes).await.unwrap();
                        }
                    })
                    .await
                };
                let same = native(&native_pool, clients, ops, format!("ns{clients}-{round}-"), SAME_STATEMENT).await;
                let insert = native(&native_pool, clients, ops, format!("ni{clients}-{round}-"), BARE_INSERT).await;
                directs.push(direct.rate());
                sames.push(same.rate());
                inserts.push(insert.rate());
            }
            let (direct, same, insert) = (median(directs), median(sames), median(inserts));
            println!(
                "| {clients} | {ops} | {:.0}/s | {direct:.0}/s | {same:.0}/s | {insert:.0}/s | {:.2} | {:.2} | {:.2} |",
                api.rate(), api.rate() / insert, direct / same, direct / insert
            );
        }
    });
}

/// The statement the connector issues for a create.
const SAME_STATEMENT: &str = "INSERT INTO accounts (id, username, department, updated_at) VALUES ($1, $2, $3, clock_timestamp()) RETURNING id, username, department, CAST(updated_at AS TEXT)";

/// The least a client can send to store the same row.
const BARE_INSERT: &str = "INSERT INTO accounts (id, username, department, updated_at) VALUES ($1, $2, $3, clock_timestamp())";

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

/// Rounds of the runtime and native cases per client count.
const ROUNDS: usize = 3;

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

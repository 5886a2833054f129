//! A throwaway PostgreSQL cluster per test, on a free loopback port,
//! started by `scripts/servers/postgres.sh` and stopped when dropped.
//! `scripts/test.sh` installs the server when it is missing; a missing
//! server fails the test, it is never skipped.

use provisio_host::runtime::Secret;
use provisio_host::runtime::capabilities::sql::DatabaseSpec;
use std::path::PathBuf;
use std::process::Command;

pub struct Postgres {
    _dir: tempfile::TempDir,
    cluster: PathBuf,
    pub port: u16,
    /// `postgres://provisio@127.0.0.1:PORT/provisio`, no password.
    pub url: String,
    pub password: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers/postgres.sh")
}

fn run(args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "postgres.sh {args:?} failed (./scripts/test.sh installs PostgreSQL):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Postgres {
    /// A fresh cluster with a `provisio` role and database.
    pub fn up() -> Postgres {
        let dir = tempfile::tempdir().unwrap();
        // The server runs as the `postgres` user when the tests run as root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = dir.path().join("pg");
        let env = run(&["up", cluster.to_str().unwrap(), &port.to_string()]);
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("postgres.sh printed no {name}"))
                .to_owned()
        };
        Postgres {
            url: var("PROVISIO_TEST_POSTGRES_URL"),
            password: var("PROVISIO_TEST_POSTGRES_PASSWORD"),
            cluster,
            port,
            _dir: dir,
        }
    }

    pub fn stop(&self) {
        run(&["stop", self.cluster.to_str().unwrap()]);
    }

    pub fn start(&self) {
        run(&["start", self.cluster.to_str().unwrap()]);
    }

    /// The grant of this database to a target.
    pub fn spec(&self) -> DatabaseSpec {
        DatabaseSpec {
            url: self.url.clone(),
            password: Some(Secret::new(self.password.clone())),
            max_connections: 4,
        }
    }

    /// A direct connection, for setting up tables and checking rows.
    pub async fn connect(&self) -> sqlx::PgPool {
        let options: sqlx::postgres::PgConnectOptions = self.url.parse().unwrap();
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.password(&self.password))
            .await
            .unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", self.cluster.to_str().unwrap()])
            .output();
    }
}

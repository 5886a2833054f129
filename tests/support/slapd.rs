//! A throwaway OpenLDAP slapd per test, on free loopback ports, started by
//! `scripts/servers/slapd.sh` and stopped when dropped. `scripts/test.sh`
//! installs the server when it is missing; a missing server fails the
//! test, it is never skipped.

use provisio_host::runtime::Secret;
use provisio_host::runtime::capabilities::ldap::{BindCredentials, LdapSpec};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

pub struct Slapd {
    _dir: tempfile::TempDir,
    server: PathBuf,
    /// `ldap://127.0.0.1:PORT`
    pub url: String,
    /// `ldaps://127.0.0.1:PORT`
    pub ldaps_url: String,
    /// PEM of the CA that signed the server's certificate.
    pub ca_file: PathBuf,
    pub base: String,
    pub admin_dn: String,
    pub admin_password: String,
    /// The service account connectors bind as (size limit 500 unpaged).
    pub bind_dn: String,
    pub bind_password: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers/slapd.sh")
}

fn run(args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "slapd.sh {args:?} failed (./scripts/test.sh installs slapd):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Slapd {
    /// A fresh directory with the suffix, the service account and a
    /// password policy, and nothing else.
    pub fn up() -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let server = dir.path().join("slapd");
        let (port, tls_port) = (free_port(), free_port());
        let env = run(&[
            "up",
            server.to_str().unwrap(),
            &port.to_string(),
            &tls_port.to_string(),
        ]);
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("slapd.sh printed no {name}"))
                .to_owned()
        };
        Slapd {
            url: var("PROVISIO_TEST_LDAP_URL"),
            ldaps_url: var("PROVISIO_TEST_LDAPS_URL"),
            ca_file: PathBuf::from(var("PROVISIO_TEST_LDAP_CA")),
            base: var("PROVISIO_TEST_LDAP_BASE"),
            admin_dn: var("PROVISIO_TEST_LDAP_ADMIN_DN"),
            admin_password: var("PROVISIO_TEST_LDAP_ADMIN_PASSWORD"),
            bind_dn: var("PROVISIO_TEST_LDAP_BIND_DN"),
            bind_password: var("PROVISIO_TEST_LDAP_BIND_PASSWORD"),
            server,
            _dir: dir,
        }
    }

    pub fn stop(&self) {
        run(&["stop", self.server.to_str().unwrap()]);
    }

    pub fn start(&self) {
        run(&["start", self.server.to_str().unwrap()]);
    }

    /// The grant of this directory (both URLs, the service account).
    pub fn spec(&self) -> LdapSpec {
        LdapSpec {
            urls: vec![self.url.clone(), self.ldaps_url.clone()],
            bind: Some(BindCredentials {
                dn: self.bind_dn.clone(),
                password: Secret::new(self.bind_password.clone()),
            }),
            ca_file: Some(self.ca_file.clone()),
            tls_verify: true,
            // Loopback test servers; the refusal itself is tested apart.
            allow_plaintext_bind: true,
            timeout: Duration::from_secs(10),
        }
    }

    /// Runs an OpenLDAP client tool (`ldapadd`, `ldapsearch`, …) against
    /// the plain URL with `args`, feeding `input`.
    pub fn tool(&self, tool: &str, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(tool)
            .arg("-x")
            .arg("-H")
            .arg(&self.url)
            .args(args)
            .env("LDAPTLS_CACERT", &self.ca_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e} (./scripts/test.sh installs ldap-utils)"));
        // Fed from a thread: a tool that prints while it reads would fill
        // its stdout pipe and stop reading stdin.
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_owned();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let output = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        output
    }

    /// Runs `tool` bound as the root DN; panics when it fails.
    pub fn admin(&self, tool: &str, args: &[&str], input: &str) -> String {
        let mut full = vec!["-D", &self.admin_dn, "-w", &self.admin_password];
        full.extend_from_slice(args);
        let out = self.tool(tool, &full, input);
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `dn` can bind with `password` (checked by `ldapwhoami`).
    pub fn can_bind(&self, dn: &str, password: &str) -> bool {
        self.tool("ldapwhoami", &["-D", dn, "-w", password], "")
            .status
            .success()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", self.server.to_str().unwrap()])
            .output();
    }
}

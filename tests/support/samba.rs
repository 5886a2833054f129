//! A throwaway Samba AD domain controller, provisioned offline by
//! `scripts/servers/samba.sh` on 127.0.0.1's standard LDAP ports (so one
//! per machine at a time) and stopped when dropped. `scripts/test.sh`
//! installs Samba when it is missing; a missing server fails the test.

use provisio_host::runtime::Secret;
use provisio_host::runtime::capabilities::ldap::{BindCredentials, LdapSpec};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

pub struct Samba {
    _dir: tempfile::TempDir,
    server: PathBuf,
    pub url: String,
    pub ldaps_url: String,
    pub ca_file: PathBuf,
    pub base: String,
    pub bind_dn: String,
    pub bind_password: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers/samba.sh")
}

impl Samba {
    pub fn up() -> Samba {
        let dir = tempfile::tempdir().unwrap();
        let server = dir.path().join("dc");
        let output = Command::new("bash")
            .arg(script())
            .arg("up")
            .arg(&server)
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "samba.sh up failed (./scripts/test.sh installs Samba; it needs root):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let env = String::from_utf8_lossy(&output.stdout).into_owned();
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("samba.sh printed no {name}"))
                .to_owned()
        };
        Samba {
            url: var("PROVISIO_TEST_AD_URL"),
            ldaps_url: var("PROVISIO_TEST_AD_LDAPS_URL"),
            ca_file: PathBuf::from(var("PROVISIO_TEST_AD_CA")),
            base: var("PROVISIO_TEST_AD_BASE"),
            bind_dn: var("PROVISIO_TEST_AD_BIND_DN"),
            bind_password: var("PROVISIO_TEST_AD_BIND_PASSWORD"),
            server,
            _dir: dir,
        }
    }

    /// The grant: both URLs, bound as the domain's Administrator.
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
            timeout: Duration::from_secs(20),
        }
    }

    /// `ldapsearch` over LDAPS bound as `dn` with `password`.
    pub fn search_as(&self, dn: &str, password: &str, args: &[&str]) -> Output {
        Command::new("ldapsearch")
            .args([
                "-x",
                "-H",
                &self.ldaps_url,
                "-D",
                dn,
                "-w",
                password,
                "-LLL",
            ])
            .args(args)
            .env("LDAPTLS_CACERT", &self.ca_file)
            .output()
            .expect("ldapsearch runs")
    }

    /// `ldapsearch` as Administrator; panics when it fails.
    pub fn admin_search(&self, args: &[&str]) -> String {
        let out = self.search_as(&self.bind_dn, &self.bind_password, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether `user` (a UPN or DN) can bind with `password`. Samba has no
    /// `ldapwhoami`; a base search of the root DSE binds first.
    pub fn can_bind(&self, user: &str, password: &str) -> bool {
        self.search_as(user, password, &["-b", "", "-s", "base", "1.1"])
            .status
            .success()
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.server)
            .output();
    }
}

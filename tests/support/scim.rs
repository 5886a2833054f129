//! A `scim2-server` per test on a free loopback port, installed by
//! `scripts/servers/scim.sh` and stopped (SIGTERM) when dropped. (The
//! second implementation, SCIMMY, is [`crate::scimmy`].)

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ScimServer {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT`: the SCIM root.
    pub base: String,
    pub token: String,
}

/// The scim2-server program (installing it first when missing).
fn program() -> PathBuf {
    installed("scim.sh")
}

/// The path `scripts/servers/<script>` prints once it has installed what
/// is missing.
pub(crate) fn installed(script: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/servers")
        .join(script);
    let output = Command::new("bash").arg(path).output().expect("bash runs");
    assert!(
        output.status.success(),
        "scripts/servers/{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A service provider configuration announcing RFC 9865 cursor paging only
/// (scim2-server's default announces index paging only).
const CURSOR_ONLY_CONFIG: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
  "patch": {"supported": true},
  "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
  "filter": {"supported": true, "maxResults": 1000},
  "changePassword": {"supported": true},
  "sort": {"supported": true},
  "etag": {"supported": true},
  "authenticationSchemes": [],
  "pagination": {"cursor": true, "index": false, "defaultPaginationMethod": "cursor",
                 "defaultPageSize": 100, "maxPageSize": 1000, "cursorTimeout": 3600}
}"#;

impl ScimServer {
    pub fn up() -> ScimServer {
        Self::start(&[])
    }

    /// A server that pages by cursor only (RFC 9865) and refuses
    /// `startIndex`.
    pub fn up_cursor_only() -> ScimServer {
        let file = std::env::temp_dir().join(format!(
            "provisio-scim-cursor-config-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, CURSOR_ONLY_CONFIG).unwrap();
        Self::start(&["--service-provider-config", file.to_str().unwrap()])
    }

    fn start(extra: &[&str]) -> ScimServer {
        let port = free_port();
        let token = format!("scim-token-{port}");
        let child = Command::new(program())
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", &token])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scim2-server starts");
        wait_listening("scim2-server", port);
        ScimServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            token,
        }
    }
}

/// Waits (up to 30 s) until something listens on the loopback `port`.
pub(crate) fn wait_listening(what: &str, port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

//! A SCIMMY server (tests/scimmy/server.js, installed by
//! `scripts/servers/scimmy.sh`) per test on a free loopback port: the
//! second, independent SCIM implementation the connector is tested against,
//! so that one server's leniency is not taken for the protocol.

use crate::scim::{ScimServer, free_port, wait_listening};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The installed server.js (installing SCIMMY first when missing).
fn server_js() -> PathBuf {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/servers/scimmy.sh");
    let output = Command::new("bash")
        .arg(script)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "scripts/servers/scimmy.sh failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// An empty SCIMMY service at `base` (`http://127.0.0.1:PORT/scim/v2`).
pub fn up() -> ScimServer {
    let port = free_port();
    let token = format!("scimmy-token-{port}");
    let child = Command::new("node")
        .arg(server_js())
        .args([&port.to_string(), &token])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    wait_listening("SCIMMY", port);
    ScimServer {
        child,
        base: format!("http://127.0.0.1:{port}/scim/v2"),
        token,
    }
}

//! A SCIMMY server (tests/scimmy/server.js, installed by
//! `scripts/servers/scimmy.sh`) per test on a free loopback port: the
//! second, independent SCIM implementation the connector is tested against,
//! so that one server's leniency is not taken for the protocol.

use crate::scim::{ScimServer, free_port, installed, wait_listening};
use std::process::{Command, Stdio};

/// An empty SCIMMY service at `base` (`http://127.0.0.1:PORT/scim/v2`).
pub fn up() -> ScimServer {
    let port = free_port();
    let token = format!("scimmy-token-{port}");
    let child = Command::new("node")
        .arg(installed("scimmy.sh"))
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

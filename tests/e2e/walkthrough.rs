//! The REST connector `docs/walkthrough-rest.md` builds
//! (`tests/fixtures/walkthrough-rest`), against the service it is written
//! for (`service.py` beside it): it passes the conformance suite, and the
//! walkthrough's code is the connector's.

use crate::conformance::{accounts, assert_conforms};
use provisio_host::conformance;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/walkthrough-rest")
}

/// `python3 service.py PORT TOKEN`, stopped when dropped.
struct Service {
    child: Child,
    origin: String,
    token: String,
}

impl Service {
    fn up() -> Service {
        let port = provisio_tests::scim::free_port();
        let token = format!("people-token-{port}");
        let child = Command::new("python3")
            .arg(fixture_dir().join("service.py"))
            .args([&port.to_string(), &token])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "service.py did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Service {
            child,
            origin: format!("http://127.0.0.1:{port}"),
            token,
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The walkthrough's `provisio.toml` block, pointed at `service` and at
/// the built fixture, with `token` in the file it names.
fn connector(service: &Service, token: &str) -> provisio_host::runtime::Connector {
    let guide = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/walkthrough-rest.md"),
    )
    .unwrap();
    let start = guide.find("```toml\n").expect("a provisio.toml block") + "```toml\n".len();
    let block = &guide[start..start + guide[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let text = block
        .replace("http://127.0.0.1:8080", &service.origin)
        .replace(
            "target/wasm32-wasip2/release/people_api.wasm",
            provisio_tests::fixtures::WALKTHROUGH_REST,
        );
    assert_ne!(text, block, "the block names the service and the build");
    let file = dir.path().join("provisio.toml");
    std::fs::write(&file, text).unwrap();
    std::fs::write(dir.path().join("people-token"), format!("{token}\n")).unwrap();
    let config = provisio_host::config::Config::load_targets(&file)
        .unwrap_or_else(|e| panic!("the walkthrough's provisio.toml: {e}"));
    let target = config.targets.get("people").expect("target people");
    let mut settings = target.settings("people", &config.base_dir).unwrap();
    settings.limits.timeout = Duration::from_secs(15);
    let bytes = std::fs::read(provisio_tests::fixtures::WALKTHROUGH_REST).unwrap();
    provisio_tests::start(&bytes, settings)
}

/// Built as the walkthrough says, the connector passes the suite (its
/// `test` failing with a wrong token); and that failure is
/// `permission-denied`, as the page says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthroughs_connector_conforms_against_its_service() {
    let service = tokio::task::spawn_blocking(Service::up).await.unwrap();
    let people = connector(&service, &service.token);
    let wrong_token = connector(&service, "wrong-token");
    let options = crate::conformance::with_wrong(accounts(), wrong_token, "token replaced");
    let report = conformance::run(&people, &options).await;
    assert_eq!(
        report.count(conformance::Outcome::Pass),
        30,
        "docs/walkthrough-rest.md says 30 cases pass: {}",
        report.render(conformance::Format::Text)
    );
    // Every attribute holds one value; the service keeps no passwords and
    // no change log (the connector declares no sync).
    assert_conforms(
        &report,
        &[
            "update.add-and-remove-values",
            "password.never-returned",
            "sync.reports-each-change-once",
            "filter.value-path",
        ],
    );
    let refused = connector(&service, "wrong-token").test().await.unwrap_err();
    assert_eq!(
        crate::util::code(&refused),
        "permission-denied",
        "{refused}"
    );
}

/// Every Rust block of the walkthrough is in the connector as built, so
/// what a reader copies is what the suite certified.
#[test]
fn the_walkthrough_quotes_the_connector_it_certifies() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/walkthrough-rest.md")).unwrap();
    let source = std::fs::read_to_string(fixture_dir().join("src/lib.rs")).unwrap();
    let mut blocks = 0;
    let mut rest = guide.as_str();
    while let Some(start) = rest.find("```rust\n") {
        let body = &rest[start + "```rust\n".len()..];
        let end = body.find("\n```").expect("a closed code block");
        let block = &body[..end];
        assert!(
            source.contains(block),
            "docs/walkthrough-rest.md quotes code that tests/fixtures/walkthrough-rest/src/lib.rs does not have:\n{block}"
        );
        blocks += 1;
        rest = &body[end..];
    }
    assert!(blocks >= 6, "only {blocks} Rust blocks in the walkthrough");
}

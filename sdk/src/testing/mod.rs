//! Unit tests of connector logic, natively and offline: `cargo test` on a
//! connector crate, with no host and no target running.
//!
//! In a connector built for `wasm32-wasip2`, [`Config`], the log macros,
//! [`http::Request::send`](crate::http::Request::send),
//! [`sql::Database`](crate::sql::Database) and
//! [`ldap::Connection`](crate::ldap::Connection) go to the host. In a
//! native build (a connector's `#[test]`s) they go to the [`Fake`]
//! installed on the test's thread instead: a configuration and secrets the
//! test sets, log lines it can read back, and HTTP, SQL and LDAP answered
//! from a recording made with `provisio invoke --record DIR` or
//! `provisio connector test --record DIR`, or HTTP from answers the test
//! scripts ([`Fake::respond`]).
//!
//! ```no_run
//! use provisio_sdk::testing::Fake;
//! use provisio_sdk::http::Request;
//!
//! let fake = Fake::new()
//!     .set("base_url", "http://127.0.0.1:8080")
//!     .secret("token", "t0ken")
//!     .replay("tests/recordings/certify")
//!     .unwrap();
//! let config = fake.config();
//! // let mut connector = MyConnector::open(&config).unwrap();
//! // … call it as the host would, assert on what it returns …
//! assert!(fake.logs().iter().all(|line| !line.message.contains("t0ken")));
//! assert_eq!(fake.unused(), 0, "every recorded exchange was asked for");
//! ```
//!
//! What is faked: configuration, secrets, logging, outgoing HTTP, SQL
//! databases the test declares ([`Fake::database`]) and LDAP directories,
//! both answered from a recording. The clock and random numbers are the
//! machine's: a connector whose requests carry the time or a random value
//! is certified with `provisio connector test --replay DIR`, which replays
//! them through the real host.

use crate::config::Config;
use crate::http::Response;
use crate::native::replay::Exchanges;
pub use crate::native::replay::ReplayError;
use crate::native::{self, Answered, Shared, State};
pub use crate::native::{LogLine, SentRequest};
use crate::sql::Dialect;
use std::path::Path;

/// The host, faked for the tests of one thread. Creating one installs it
/// on the current thread (replacing one installed before); dropping it
/// uninstalls it. Each `#[test]` runs on its own thread, so tests running
/// in parallel do not see each other's fakes.
pub struct Fake {
    state: Shared,
}

impl Default for Fake {
    fn default() -> Self {
        Self::new()
    }
}

impl Fake {
    /// An empty configuration, no secrets, no HTTP answers.
    pub fn new() -> Fake {
        let state = Shared::new(State::default().into());
        native::install(state.clone());
        Fake { state }
    }

    /// Sets configuration key `key` (what the operator writes under
    /// `[targets.<t>.config]`).
    pub fn set(self, key: &str, value: &str) -> Fake {
        self.state
            .borrow_mut()
            .values
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets secret `key` (`[targets.<t>.secrets]`). A recording holds
    /// `***` where a secret was: requests are compared with the same done
    /// to them.
    pub fn secret(self, key: &str, value: &str) -> Fake {
        self.state
            .borrow_mut()
            .secrets
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Answers HTTP requests, SQL statements and LDAP calls from the
    /// recording in `dir` (its `exchanges.jsonl`): a request is answered
    /// with the first unused recorded exchange of the same method, URL and
    /// body (headers not compared); an LDAP call with the first unused one
    /// of the same connection (URL and security), operation and arguments;
    /// SQL as [`database`](Self::database) says. Passwords and secrets
    /// are compared as the recording keeps them. A call the recording
    /// does not hold fails with `failed` naming it. Give the configuration
    /// the recording was made with: the URLs must agree.
    pub fn replay(self, dir: impl AsRef<Path>) -> Result<Fake, ReplayError> {
        let (http, others) = Exchanges::load(dir.as_ref())?;
        let mut state = self.state.borrow_mut();
        state.exchanges.extend(http);
        for line in &others {
            match line["capability"].as_str() {
                Some("sql") => state.sql.calls.push(line),
                Some("ldap") => state.ldap.push(line),
                // The clock and the granted directory's copy are the
                // host's to replay.
                _ => {}
            }
        }
        drop(state);
        Ok(self)
    }

    /// Grants a database named `name` that speaks `dialect`, answered from
    /// the recording given to [`replay`](Self::replay): a statement is
    /// answered with the first unused recorded one of the same database,
    /// SQL and parameters (transactions and cursors numbered in the order
    /// they open, as the host numbers them when it records).
    pub fn database(self, name: &str, dialect: Dialect) -> Fake {
        self.state
            .borrow_mut()
            .sql
            .dialects
            .insert(name.to_owned(), dialect);
        self
    }

    /// Answers the next `method` request to `url` with `response` (after
    /// any earlier answers scripted for the same request). For error paths
    /// a recording rarely holds: a 429 with `Retry-After`, a 503, a body
    /// that is not JSON.
    pub fn respond(self, method: &str, url: &str, response: Response) -> Fake {
        let answer = Answered {
            status: response.status,
            headers: response.headers,
            body: response.body,
        };
        self.state
            .borrow_mut()
            .exchanges
            .script(method, url, answer);
        self
    }

    /// The configuration to open the connector with.
    pub fn config(&self) -> Config {
        Config::new()
    }

    /// What the connector logged, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.state.borrow().logs.clone()
    }

    /// The HTTP requests the connector sent, in order.
    pub fn requests(&self) -> Vec<SentRequest> {
        self.state.borrow().sent.clone()
    }

    /// Recorded or scripted answers (HTTP, SQL and LDAP) no call has
    /// asked for yet.
    pub fn unused(&self) -> usize {
        let state = self.state.borrow();
        state.exchanges.unused() + state.sql.calls.unused() + state.ldap.unused()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        native::uninstall(&self.state);
    }
}

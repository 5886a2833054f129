//! The host of a native build (a connector's unit tests): what
//! [`Config`](crate::Config), the log macros,
//! [`http::Request::send`](crate::http::Request::send), databases and
//! directories reach instead of the host's imports, held per thread for
//! the [`testing::Fake`](crate::testing::Fake) installed there.

pub(crate) mod calls;
pub(crate) mod ldap;
pub(crate) mod replay;
pub(crate) mod sql;

use crate::Error;
use crate::bindings::provisio::connector::log::Level;
use replay::{Exchanges, Sent};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One line a connector logged.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
}

/// One HTTP request a connector sent, as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// An HTTP answer, before it is a [`crate::http::Response`].
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct State {
    pub values: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub logs: Vec<LogLine>,
    pub sent: Vec<SentRequest>,
    pub exchanges: Exchanges,
    pub sql: sql::SqlState,
    pub ldap: calls::Calls,
}

impl State {
    /// `request` as a recording holds it: the secrets scrubbed.
    pub fn scrubbed(&self, request: &serde_json::Value) -> serde_json::Value {
        let secrets: Vec<&str> = self.secrets.values().map(String::as_str).collect();
        let text = scrub(&request.to_string(), &secrets);
        serde_json::from_str(&text).unwrap_or_else(|_| request.clone())
    }
}

/// `text` with each secret (of four bytes or more, as the host scrubs
/// them; longest first) replaced with `***`, as a recording holds it.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
        .iter()
        .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
}

pub(crate) type Shared = Rc<RefCell<State>>;

thread_local! {
    static CURRENT: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

/// Makes `state` the current thread's host.
pub(crate) fn install(state: Shared) {
    CURRENT.with(|current| *current.borrow_mut() = Some(state));
}

/// Removes `state` as the current thread's host, if it still is.
pub(crate) fn uninstall(state: &Shared) {
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        if current
            .as_ref()
            .is_some_and(|installed| Rc::ptr_eq(installed, state))
        {
            *current = None;
        }
    });
}

fn with_state<T>(what: &str, f: impl FnOnce(&mut State) -> T) -> T {
    CURRENT.with(|current| {
        let current = current.borrow();
        let state = current.as_ref().unwrap_or_else(|| {
            panic!(
                "provisio_sdk: {what} outside the host: a native test must create a provisio_sdk::testing::Fake on its thread first"
            )
        });
        f(&mut state.borrow_mut())
    })
}

/// What [`Config`](crate::Config) reads.
pub(crate) mod config_host {
    use super::with_state;

    pub fn get(key: &str) -> Option<String> {
        with_state("read the configuration", |s| s.values.get(key).cloned())
    }

    pub fn keys() -> Vec<String> {
        with_state("read the configuration", |s| {
            s.values.keys().cloned().collect()
        })
    }

    pub fn secret(key: &str) -> Option<String> {
        with_state("read a secret", |s| s.secrets.get(key).cloned())
    }
}

/// Where the log macros write.
pub(crate) mod log_host {
    use super::{Level, LogLine, with_state};

    pub fn log(level: Level, message: &str) {
        with_state("logged", |s| {
            s.logs.push(LogLine {
                level,
                message: message.to_owned(),
            })
        });
    }
}

/// Where an HTTP request goes.
pub(crate) fn http_send(sent: SentRequest, what: &str) -> Result<Answered, Error> {
    with_state("sent an HTTP request", |s| {
        let secrets: Vec<&str> = s.secrets.values().map(String::as_str).collect();
        let compared = Sent::of(&sent, &secrets);
        s.sent.push(sent);
        s.exchanges.answer(&compared, what)
    })
}

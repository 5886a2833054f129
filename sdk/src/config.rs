//! Typed access to the target's configuration, set by the operator.
//!
//! Every getter that can fail returns [`Error::Invalid`](crate::Error) naming
//! the key, so a misconfigured target fails `test` with a message the
//! operator can act on.

use crate::Error;
#[cfg(target_arch = "wasm32")]
use crate::bindings::provisio::connector::config as host;
// A native build (a connector's unit tests) reads the fake's.
#[cfg(not(target_arch = "wasm32"))]
use crate::native::config_host as host;
use std::fmt;
use std::str::FromStr;

/// The configuration of the target this connector instance serves.
///
/// Reads go to the host each time: the configuration is small and an
/// instance serves one target, so there is nothing to cache.
#[derive(Debug, Default, Clone, Copy)]
pub struct Config {
    _private: (),
}

impl Config {
    pub(crate) fn new() -> Self {
        Config { _private: () }
    }

    /// The raw value of `key`, or `None` when the operator did not set it.
    pub fn get(&self, key: &str) -> Option<String> {
        host::get(key)
    }

    /// The names of every setting (secrets excluded).
    pub fn keys(&self) -> Vec<String> {
        host::keys()
    }

    /// Every setting whose key starts with `prefix`, by the rest of its key:
    /// `prefixed("account.attribute.")` maps `mail` to the value of
    /// `account.attribute.mail`.
    pub fn prefixed(&self, prefix: &str) -> std::collections::BTreeMap<String, String> {
        self.keys()
            .iter()
            .filter_map(|k| Some((k.strip_prefix(prefix)?.to_owned(), self.get(k)?)))
            .collect()
    }

    /// The value of `key`, or an error naming the missing key.
    pub fn require(&self, key: &str) -> Result<String, Error> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid(format!("configuration key `{key}` is required")))
    }

    /// The value of `key` parsed as `T`, or `default` when it is not set.
    pub fn parse_or<T>(&self, key: &str, default: T) -> Result<T, Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.parse(key)?.unwrap_or(default))
    }

    /// The value of `key` parsed as `T`, `None` when it is not set.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, Error>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(raw) => raw.trim().parse().map(Some).map_err(|e| {
                Error::invalid(format!(
                    "configuration key `{key}`: cannot parse {raw:?}: {e}"
                ))
            }),
        }
    }

    /// A boolean setting: accepts true/false, yes/no, on/off, 1/0.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, Error> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => parse_flag(&raw).ok_or_else(|| {
                Error::invalid(format!(
                    "configuration key `{key}`: expected true or false, got {raw:?}"
                ))
            }),
        }
    }

    /// A list setting split on `separator`, with blanks trimmed and dropped.
    pub fn list(&self, key: &str, separator: char) -> Vec<String> {
        self.get(key)
            .map(|raw| {
                raw.split(separator)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The run of the host this instance serves (see [`HostRun`]), when
    /// the host says (hosts from 0.1 on do).
    pub fn host_run(&self) -> Option<HostRun> {
        self.get(HOST_RUN_KEY).as_deref().and_then(HostRun::parse)
    }

    /// A secret (password, token), or `None` when it is not set.
    pub fn secret(&self, key: &str) -> Option<Secret> {
        host::secret(key).map(Secret)
    }

    /// A secret that must be set.
    pub fn require_secret(&self, key: &str) -> Result<Secret, Error> {
        self.secret(key)
            .ok_or_else(|| Error::invalid(format!("secret `{key}` is required")))
    }
}

/// The configuration key under which the host says which run it is.
/// Keys under `provisio.` are the host's; an operator cannot set them.
pub const HOST_RUN_KEY: &str = "provisio.host_run";

/// One start of a host on its store: `<store id>.<run>`, the run counting
/// up. Two tokens of the same store compare by run: the lower one is an
/// earlier run of the same host, whose process is gone (a host holds its
/// store exclusively), so whatever it left locked is free. A connector
/// that takes lock files (the CSV connector does) writes its token in
/// them and breaks a lock of an earlier run at once, instead of waiting
/// for the lock to look old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRun {
    pub store: String,
    pub run: u64,
}

impl HostRun {
    pub fn parse(text: &str) -> Option<HostRun> {
        let (store, run) = text.trim().rsplit_once('.')?;
        if store.is_empty() || store.contains(char::is_whitespace) {
            return None;
        }
        Some(HostRun {
            store: store.to_owned(),
            run: run.parse().ok()?,
        })
    }

    /// Whether `other` is an earlier run of this same host.
    pub fn follows(&self, other: &HostRun) -> bool {
        self.store == other.store && other.run < self.run
    }
}

impl fmt::Display for HostRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.store, self.run)
    }
}

fn parse_flag(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A secret value. Its `Debug` and `Display` print `***`, so it cannot end
/// up in a log line or an error message by accident; call
/// [`expose`](Secret::expose) where the value is really needed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_runs_parse_and_compare_within_one_store() {
        let now = HostRun::parse("ab12.7").unwrap();
        assert_eq!(now.to_string(), "ab12.7");
        assert!(now.follows(&HostRun::parse("ab12.6").unwrap()));
        assert!(
            !now.follows(&HostRun::parse("ab12.7").unwrap()),
            "the same run"
        );
        assert!(!now.follows(&HostRun::parse("ab12.8").unwrap()));
        assert!(
            !now.follows(&HostRun::parse("cd34.1").unwrap()),
            "another host"
        );
        assert_eq!(HostRun::parse("no-run"), None);
        assert_eq!(HostRun::parse(".3"), None);
    }

    #[test]
    fn flags_accept_common_spellings() {
        for raw in ["true", "YES", " on ", "1"] {
            assert_eq!(parse_flag(raw), Some(true), "{raw}");
        }
        for raw in ["false", "No", "off", "0"] {
            assert_eq!(parse_flag(raw), Some(false), "{raw}");
        }
        assert_eq!(parse_flag("maybe"), None);
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}

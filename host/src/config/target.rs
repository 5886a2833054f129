//! One target: which connector, with what settings, grants, limits and
//! policies.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// A connector file (relative to the config file) or `bundled:<name>`.
    pub connector: String,
    #[serde(default)]
    pub description: String,
    /// The object class operations address when they do not name one.
    #[serde(default = "default_class")]
    pub class: String,
    /// The connector's settings, passed as they are.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The connector's secrets, by reference.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    #[serde(default)]
    pub grants: Grants,
    /// Operations running at once (and connector instances).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Time one connector call may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Memory one connector instance may use.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: usize,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub retry: RetryPolicy,
    #[serde(default)]
    pub quarantine: QuarantinePolicy,
    /// Operations wait in `pending-approval` until an operator approves.
    #[serde(default)]
    pub approval: bool,
    #[serde(default)]
    pub on_delete: OnDelete,
    /// A SCIM filter: matching accounts are never changed or deleted.
    #[serde(default)]
    pub protected: Option<String>,
    #[serde(default)]
    pub membership: MembershipMode,
}

fn default_class() -> String {
    "account".into()
}
fn default_concurrency() -> usize {
    4
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_memory_mib() -> usize {
    256
}

/// A secret's source. Secrets are never written in the file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the host process.
    Env(String),
    /// A file (relative to the config file); one trailing newline is dropped.
    File(PathBuf),
}

/// Written by hand so that a secret pasted into the file by mistake is
/// refused without being repeated in the error.
impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, MapAccess, Visitor};
        const EXPECTED: &str =
            "{ env = \"VAR\" } or { file = \"path\" } (a secret itself never goes in the file)";
        struct RefVisitor;
        impl<'de> Visitor<'de> for RefVisitor {
            type Value = SecretRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(format!(
                    "a literal value is not accepted; write {EXPECTED}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let (Some(kind), value) = (map.next_key::<String>()?, map.next_value::<String>())
                else {
                    return Err(A::Error::custom(format!("expected {EXPECTED}")));
                };
                let value = value?;
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom(format!("expected only one of {EXPECTED}")));
                }
                match kind.as_str() {
                    "env" => Ok(SecretRef::Env(value)),
                    "file" => Ok(SecretRef::File(value.into())),
                    _ => Err(A::Error::custom(format!(
                        "unknown source `{kind}`; expected {EXPECTED}"
                    ))),
                }
            }
        }
        d.deserialize_any(RefVisitor)
    }
}

impl SecretRef {
    /// Reads the secret; the error names the source, never the value.
    pub fn resolve(&self, base: &Path) -> Result<String, String> {
        match self {
            SecretRef::Env(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))
            }
            SecretRef::File(path) => {
                let path = super::resolve(base, path);
                let mut text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                Ok(text)
            }
        }
    }
}

/// What the target's connector may reach; nothing else.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// A directory (relative to the config file), seen by the connector at /data.
    pub directory: Option<PathBuf>,
    #[serde(default)]
    pub read_only: bool,
    /// Databases the connector may open, by the name it opens them with.
    #[serde(default)]
    pub sql: BTreeMap<String, SqlGrantConfig>,
    /// Outgoing HTTP.
    #[serde(default)]
    pub http: Option<HttpGrantConfig>,
    /// LDAP directories.
    #[serde(default)]
    pub ldap: Option<LdapGrantConfig>,
}

/// The directory URLs a connector may open, and what the host binds with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapGrantConfig {
    /// `ldap://host:port` or `ldaps://host:port`, each.
    pub urls: Vec<String>,
    /// The DN the host binds as; anonymous when absent.
    #[serde(default)]
    pub bind_dn: Option<String>,
    /// That DN's password.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// PEM file (relative to the config file) of the CA that signs the
    /// directory's certificate; the system's roots when absent.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Certificate verification; turning it off is logged at start-up.
    #[serde(default = "default_true")]
    pub tls_verify: bool,
}

impl LdapGrantConfig {
    fn validate(&self, base: &Path) -> Result<(), (String, String)> {
        use crate::runtime::capabilities::ldap::normalise_url;
        if self.urls.is_empty() {
            return Err(("grants.ldap.urls".into(), "lists no directory".into()));
        }
        for url in &self.urls {
            normalise_url(url).map_err(|reason| ("grants.ldap.urls".to_owned(), reason))?;
        }
        match (&self.bind_dn, &self.password) {
            (Some(_), None) => {
                return Err((
                    "grants.ldap.password".into(),
                    "bind_dn is set but no password is".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    "grants.ldap.bind_dn".into(),
                    "a password is set but no bind_dn is".into(),
                ));
            }
            (_, Some(password)) => {
                password
                    .resolve(base)
                    .map_err(|reason| ("grants.ldap.password".to_owned(), reason))?;
            }
            _ => {}
        }
        if let Some(ca) = &self.ca_file
            && !super::resolve(base, ca).is_file()
        {
            return Err((
                "grants.ldap.ca_file".into(),
                format!("{} is not a file", ca.display()),
            ));
        }
        Ok(())
    }
}

/// The origins a connector may send HTTP requests to, and bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrantConfig {
    /// `https://host[:port][/path/prefix]`, each.
    pub allow: Vec<String>,
    /// Connecting and each wait for response bytes.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
}

fn default_max_request_bytes() -> usize {
    1 << 20
}
fn default_max_response_bytes() -> usize {
    16 << 20
}

impl HttpGrantConfig {
    pub fn to_grant(&self) -> Result<crate::runtime::capabilities::http::HttpGrant, String> {
        use crate::runtime::capabilities::http::{AllowedOrigin, HttpGrant};
        if self.allow.is_empty() {
            return Err("allow lists no origin".into());
        }
        Ok(HttpGrant {
            allow: self
                .allow
                .iter()
                .map(|o| AllowedOrigin::parse(o))
                .collect::<Result<_, _>>()?,
            timeout: self.timeout,
            max_request_bytes: self.max_request_bytes,
            max_response_bytes: self.max_response_bytes,
        })
    }
}

/// One granted database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlGrantConfig {
    /// `postgres://user@host:port/database` or `sqlite://path` (relative to
    /// the config file). Never with a password in it: see `password`.
    pub url: String,
    /// The database user's password.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Connections the target's pool may hold.
    #[serde(default = "default_sql_connections")]
    pub max_connections: u32,
}

fn default_sql_connections() -> u32 {
    4
}

impl SqlGrantConfig {
    /// The URL with a relative SQLite path made relative to the config file.
    pub fn resolved_url(&self, base: &Path) -> String {
        match self.url.strip_prefix("sqlite://") {
            Some(rest) if !rest.starts_with('/') && !rest.starts_with(':') => {
                let (path, query) = rest
                    .split_once('?')
                    .map_or((rest, None), |(p, q)| (p, Some(q)));
                let path = super::resolve(base, Path::new(path));
                match query {
                    Some(q) => format!("sqlite://{}?{q}", path.display()),
                    None => format!("sqlite://{}", path.display()),
                }
            }
            _ => self.url.clone(),
        }
    }

    fn validate(&self) -> Result<(), String> {
        let scheme = self.url.split("://").next().unwrap_or("");
        match scheme {
            "postgres" | "postgresql" => {
                // user:password@ — the password belongs in a secret.
                let authority = self.url[scheme.len() + 3..]
                    .split(['/', '?'])
                    .next()
                    .unwrap_or("");
                if let Some((userinfo, _)) = authority.rsplit_once('@')
                    && userinfo.contains(':')
                {
                    return Err(
                        "the url holds a password; move it to password = { env = \"VAR\" } or { file = \"path\" }"
                            .into(),
                    );
                }
                if self.url.contains("password=") {
                    return Err(
                        "the url holds a password parameter; use password = { env = … } instead"
                            .into(),
                    );
                }
            }
            "sqlite" => {}
            _ => {
                return Err(format!(
                    "unsupported database kind `{scheme}`: the url starts with postgres:// or sqlite://"
                ));
            }
        }
        if self.max_connections == 0 || self.max_connections > 256 {
            return Err(format!(
                "max_connections {} is not between 1 and 256",
                self.max_connections
            ));
        }
        Ok(())
    }
}

/// A token bucket: `per_second` operations on average, bursts of `burst`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: f64,
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_burst() -> u32 {
    1
}

/// How retryable failures (`unavailable`, `rate-limited`) are retried:
/// exponential backoff with full jitter, never sooner than the target's
/// `retry-after`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_initial_backoff", with = "humantime_serde")]
    pub initial_backoff: Duration,
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
}

fn default_attempts() -> u32 {
    5
}
fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(300)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: default_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

/// When a target's recent calls fail too often, its operations wait until
/// an operator lifts the quarantine (as in Entra provisioning).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantinePolicy {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Calls considered.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Fewest calls in the window before the rate counts.
    #[serde(default = "default_min_calls")]
    pub min_calls: usize,
    /// Share of failed calls (0 to 1) that quarantines the target.
    #[serde(default = "default_failure_rate")]
    pub failure_rate: f64,
}

fn default_true() -> bool {
    true
}
fn default_window() -> usize {
    50
}
fn default_min_calls() -> usize {
    20
}
fn default_failure_rate() -> f64 {
    0.8
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        QuarantinePolicy {
            enabled: true,
            window: default_window(),
            min_calls: default_min_calls(),
            failure_rate: default_failure_rate(),
        }
    }
}

/// What a delete operation does on this target.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// Delete the account.
    #[default]
    Delete,
    /// Set `__enable__` to false and keep the account.
    Disable,
    /// Apply these attribute values (for example move it to a leavers OU)
    /// and keep the account.
    Update(BTreeMap<String, toml::Value>),
}

/// How `add-member` and `remove-member` reach the target.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, tag = "mode", rename_all = "kebab-case")]
pub enum MembershipMode {
    /// Change the account's `__groups__` (LDAP memberOf-style connectors).
    #[default]
    AccountGroups,
    /// Change an attribute of the group object that lists member uids.
    GroupAttribute {
        group_class: String,
        attribute: String,
    },
}

impl TargetConfig {
    /// Checks what can be checked without loading the connector. Errors are
    /// (key within the target, reason).
    pub(super) fn validate(&self, base: &Path) -> Result<(), (String, String)> {
        let err = |key: &str, reason: String| Err((key.to_owned(), reason));
        if self.connector.trim().is_empty() {
            return err(
                "connector",
                "must name a connector file or bundled:<name>".into(),
            );
        }
        if let Some(name) = self.connector.strip_prefix(crate::bundled::PREFIX) {
            if crate::bundled::get(name).is_none() {
                return err(
                    "connector",
                    format!(
                        "no bundled connector `{name}` (bundled: {})",
                        crate::bundled::names().join(", ")
                    ),
                );
            }
        } else if !super::resolve(base, Path::new(&self.connector)).is_file() {
            return err(
                "connector",
                format!("file {} does not exist", self.connector),
            );
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return err(
                "concurrency",
                format!("{} is not between 1 and 256", self.concurrency),
            );
        }
        if self.timeout.is_zero() {
            return err("timeout", "must be longer than zero".into());
        }
        if self.memory_mib == 0 || self.memory_mib > 1024 {
            return err(
                "memory_mib",
                format!("{} is not between 1 and 1024", self.memory_mib),
            );
        }
        if let Some(rate) = &self.rate_limit
            && (!(rate.per_second > 0.0 && rate.per_second.is_finite()) || rate.burst == 0)
        {
            return err(
                "rate_limit",
                "per_second must be above 0 and burst at least 1".into(),
            );
        }
        if self.retry.max_attempts == 0 {
            return err("retry.max_attempts", "must be at least 1".into());
        }
        if self.retry.initial_backoff > self.retry.max_backoff {
            return err(
                "retry.initial_backoff",
                "is longer than retry.max_backoff".into(),
            );
        }
        let q = &self.quarantine;
        if !(0.0..=1.0).contains(&q.failure_rate) || q.window == 0 || q.min_calls > q.window {
            return err(
                "quarantine",
                "failure_rate must be between 0 and 1, window at least 1 and min_calls at most window".into(),
            );
        }
        if let Some(filter) = &self.protected {
            provisio_filter::parse(filter).map_err(|e| ("protected".to_owned(), e.to_string()))?;
        }
        if let OnDelete::Update(values) = &self.on_delete {
            if values.is_empty() {
                return err("on_delete.update", "names no attribute to set".into());
            }
            for (name, value) in values {
                if !matches!(
                    value,
                    toml::Value::String(_) | toml::Value::Integer(_) | toml::Value::Boolean(_)
                ) {
                    return err(
                        &format!("on_delete.update.{name}"),
                        "must be a string, an integer or a boolean".into(),
                    );
                }
            }
        }
        if let Some(dir) = &self.grants.directory
            && !super::resolve(base, dir).is_dir()
        {
            return err(
                "grants.directory",
                format!("{} is not a directory", dir.display()),
            );
        }
        for (key, secret) in &self.secrets {
            secret
                .resolve(base)
                .map_err(|reason| (format!("secrets.{key}"), reason))?;
        }
        if let Some(http) = &self.grants.http {
            http.to_grant()
                .map_err(|reason| ("grants.http.allow".to_owned(), reason))?;
        }
        if let Some(ldap) = &self.grants.ldap {
            ldap.validate(base)?;
        }
        for (name, grant) in &self.grants.sql {
            grant
                .validate()
                .map_err(|reason| (format!("grants.sql.{name}.url"), reason))?;
            if let Some(password) = &grant.password {
                password
                    .resolve(base)
                    .map_err(|reason| (format!("grants.sql.{name}.password"), reason))?;
            }
        }
        Ok(())
    }

    /// The target's secrets, read now.
    pub fn resolve_secrets(
        &self,
        base: &Path,
    ) -> Result<BTreeMap<String, String>, (String, String)> {
        self.secrets
            .iter()
            .map(|(key, secret)| {
                secret
                    .resolve(base)
                    .map(|value| (key.clone(), value))
                    .map_err(|reason| (format!("secrets.{key}"), reason))
            })
            .collect()
    }
}

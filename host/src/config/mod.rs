//! `provisio.toml`: the server, its API tokens and its targets.
//!
//! Loading checks everything it can before the host starts: the TOML and
//! its keys (unknown keys are errors, so a typo never silently falls back to
//! a default), that referenced files and environment variables exist, that
//! filters parse. Every error names the file, the key and the reason.
//! Secrets are references (`{ env = "VAR" }` or `{ file = "path" }`),
//! resolved at load into values that never print.

mod changes;
mod identity;
mod recon;
mod source;
mod target;
mod tokens;

pub use crate::runtime::capabilities::GrantsConfig;
pub use crate::secret::SecretRef;
pub use crate::setting::InvalidSetting;
pub use changes::{Changes, LIVE_TARGET_KEYS};
pub use identity::{
    AccountsConfig, InitialPassword, LeaverAction, LeaverNamed, LeaverStep, Mapping,
    MappingOptions, RoleConfig, RoleTarget, Strength,
};
pub use recon::{CorrelationRule, Normalize, Reaction, ReconConfig, Situation};
pub use source::{Missing, STATE_FIELDS, SourceConfig};
pub use target::{
    Approval, HealthPolicy, MembershipMode, OnDelete, QuarantinePolicy, RateLimit, RetryPolicy,
    TargetConfig,
};
pub use tokens::{Role, TokenConfig, hash_token};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A configuration that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {key}: {reason}")]
pub struct ConfigError {
    pub file: String,
    /// The dotted key (`targets.hr.on_delete`), or `(file)` for the whole file.
    pub key: String,
    pub reason: String,
}

/// The whole file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    #[serde(default)]
    pub targets: BTreeMap<String, TargetConfig>,
    /// Roles: what holding one gives on which targets (docs/identities.md).
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    /// Authoritative sources: targets read as the record of who works here.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// Operator tables policy expressions look values up in
    /// (`department | lookup("ous")`).
    #[serde(default)]
    pub tables: crate::expr::Tables,
    /// The policy expressions, compiled at load.
    #[serde(skip)]
    pub expressions: Option<crate::expr::Expressions>,
    /// The directory of the file; relative paths in it are relative to this.
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub file: PathBuf,
    /// The file as parsed TOML, to say what a reload changes.
    #[serde(skip)]
    pub raw: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the HTTP API.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The store: a SQLite file (relative to the config file), or a
    /// `sqlite:` URL.
    #[serde(default = "default_store")]
    pub store: String,
    /// The host's key (audit-log MACs, password payloads at rest), created
    /// with mode 0600 if missing.
    #[serde(default = "default_key_file")]
    pub key_file: PathBuf,
    /// Compiled connectors are cached here.
    #[serde(default = "default_cache_dir")]
    pub cache_dir: PathBuf,
    /// Every connector version the host has loaded, by sha256.
    #[serde(default = "default_registry_dir")]
    pub registry_dir: PathBuf,
    /// A `.wasm` dropped into `<watch_dir>/<target>/` is uploaded and
    /// activated on that target (see docs/versions.md). Off when unset.
    #[serde(default)]
    pub watch_dir: Option<PathBuf>,
    /// How often the watched directory is looked at.
    #[serde(default = "default_watch_interval", with = "humantime_serde")]
    pub watch_interval: std::time::Duration,
    /// Largest request body the API reads.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Largest connector `POST /v1/connectors` accepts.
    #[serde(default = "default_max_connector")]
    pub max_connector_bytes: usize,
    /// Connector instances alive at once across all targets (the pooling
    /// allocator reserves address space for each).
    #[serde(default = "default_max_instances")]
    pub max_instances: u32,
    /// The largest `memory_mib` a target may set.
    #[serde(default = "default_max_memory_mib")]
    pub max_memory_mib: usize,
    /// API connections open at once; a new one past this is closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and to start its
    /// next request on a kept-alive connection.
    #[serde(default = "default_header_read_timeout", with = "humantime_serde")]
    pub header_read_timeout: std::time::Duration,
    /// Time a client has to send a request's body.
    #[serde(default = "default_body_timeout", with = "humantime_serde")]
    pub body_timeout: std::time::Duration,
    /// Time one request may take, long-polls (at most 60 s) included.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: std::time::Duration,
    /// Long-polls (`?wait`, `Prefer: wait`) held at once.
    #[serde(default = "default_max_long_polls")]
    pub max_long_polls: usize,
    /// `/readyz` answers 503 while any target's last test failed (or has
    /// not run yet) or it is quarantined; off, it checks only the store.
    #[serde(default)]
    pub ready_requires_healthy_targets: bool,
    /// How often the host looks for identities a date has come for (a
    /// role's end, an end date) and plans them again.
    #[serde(default = "default_review_interval", with = "humantime_serde")]
    pub review_interval: std::time::Duration,
    /// Serve the API without authentication. Only `provisio demo` sets it;
    /// the host logs a warning on every start with it.
    #[serde(default)]
    pub insecure_no_auth: bool,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_store() -> String {
    "provisio.db".into()
}
fn default_key_file() -> PathBuf {
    "provisio.key".into()
}
fn default_cache_dir() -> PathBuf {
    ".provisio-cache".into()
}
fn default_registry_dir() -> PathBuf {
    "provisio-connectors".into()
}
fn default_watch_interval() -> std::time::Duration {
    std::time::Duration::from_secs(2)
}
fn default_max_connector() -> usize {
    64 << 20
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_max_connections() -> usize {
    512
}
fn default_header_read_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(10)
}
fn default_body_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(30)
}
fn default_request_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(90)
}
fn default_max_long_polls() -> usize {
    1024
}
fn default_review_interval() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}
fn default_max_instances() -> u32 {
    256
}
fn default_max_memory_mib() -> usize {
    1024
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            store: default_store(),
            key_file: default_key_file(),
            cache_dir: default_cache_dir(),
            registry_dir: default_registry_dir(),
            watch_dir: None,
            watch_interval: default_watch_interval(),
            max_body_bytes: default_max_body(),
            max_connector_bytes: default_max_connector(),
            max_instances: default_max_instances(),
            max_memory_mib: default_max_memory_mib(),
            max_connections: default_max_connections(),
            header_read_timeout: default_header_read_timeout(),
            body_timeout: default_body_timeout(),
            request_timeout: default_request_timeout(),
            max_long_polls: default_max_long_polls(),
            ready_requires_healthy_targets: false,
            review_interval: default_review_interval(),
            insecure_no_auth: false,
        }
    }
}

/// What a configuration is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Serve,
    Targets,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_as(path, Use::Serve)
    }

    /// A configuration read for its targets only (`provisio invoke` and
    /// `connector test --target-config`), which serve no API and so need
    /// no API tokens; everything else is checked as for serving.
    pub fn load_targets(path: &Path) -> Result<Config, ConfigError> {
        Self::load_as(path, Use::Targets)
    }

    fn load_as(path: &Path, use_: Use) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            key: "(file)".into(),
            reason: format!("cannot read: {e}"),
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse_as(&text, path, &base_dir, use_)
    }

    /// Parses and checks configuration text that came from `file`.
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
        Self::parse_as(text, file, base_dir, Use::Serve)
    }

    fn parse_as(
        text: &str,
        file: &Path,
        base_dir: &Path,
        use_: Use,
    ) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.display().to_string(),
            key: error_key(text, &e),
            reason: e.message().to_owned() + &location(text, &e),
        })?;
        config.base_dir = base_dir.to_path_buf();
        config.file = file.to_path_buf();
        config.raw = text.parse().unwrap_or_default();
        config.validate(use_)?;
        config.expressions = Some(config.validate_identities()?);
        Ok(config)
    }

    fn error(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.display().to_string(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn validate(&self, use_: Use) -> Result<(), ConfigError> {
        if self.server.max_body_bytes < 1024 {
            return Err(self.error("server.max_body_bytes", "must be at least 1024"));
        }
        if self.server.max_connections == 0 {
            return Err(self.error("server.max_connections", "must be at least 1"));
        }
        if self.server.max_long_polls == 0 {
            return Err(self.error("server.max_long_polls", "must be at least 1"));
        }
        if self.server.header_read_timeout.is_zero() || self.server.body_timeout.is_zero() {
            return Err(self.error(
                "server.header_read_timeout",
                "header_read_timeout and body_timeout must be longer than zero",
            ));
        }
        if self.server.request_timeout < std::time::Duration::from_secs(61) {
            return Err(self.error(
                "server.request_timeout",
                "must be longer than the longest long-poll (60s)",
            ));
        }
        if self.server.review_interval.is_zero() {
            return Err(self.error("server.review_interval", "must be longer than zero"));
        }
        if self.server.max_instances == 0 {
            return Err(self.error("server.max_instances", "must be at least 1"));
        }
        let instances: usize = self.targets.values().map(|t| t.concurrency).sum();
        if instances > self.server.max_instances as usize {
            return Err(self.error(
                "server.max_instances",
                format!(
                    "{} is fewer than the targets' concurrency adds up to ({instances})",
                    self.server.max_instances
                ),
            ));
        }
        for (name, target) in &self.targets {
            if target.memory_mib > self.server.max_memory_mib {
                return Err(self.error(
                    format!("targets.{name}.memory_mib"),
                    format!(
                        "{} is over server.max_memory_mib ({})",
                        target.memory_mib, self.server.max_memory_mib
                    ),
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, token) in self.tokens.iter().enumerate() {
            token
                .validate()
                .map_err(|reason| self.error(format!("tokens[{i}]"), reason))?;
            if !names.insert(token.name.as_str()) {
                return Err(self.error(
                    format!("tokens[{i}].name"),
                    format!("`{}` is used twice", token.name),
                ));
            }
        }
        if self.tokens.is_empty() && !self.server.insecure_no_auth && use_ == Use::Serve {
            return Err(self.error(
                "tokens",
                "no API token is configured; add one with `provisio token new --name NAME --role operator`",
            ));
        }
        for (name, target) in &self.targets {
            if !valid_target_name(name) {
                return Err(self.error(
                    format!("targets.{name}"),
                    "a target name is 1 to 64 letters, digits, `-` or `_`",
                ));
            }
            target.validate(&self.base_dir).map_err(|e| {
                let e = e.under(&format!("targets.{name}"));
                self.error(e.key, e.reason)
            })?;
            if let Some(recon) = &target.reconciliation {
                recon.check().map_err(|(key, reason)| {
                    self.error(format!("targets.{name}.reconciliation.{key}"), reason)
                })?;
            }
        }
        self.check_host_paths()
    }

    /// Checks roles and policy maps against the targets, and compiles
    /// every expression (an error names its key, line and column).
    fn validate_identities(&self) -> Result<crate::expr::Expressions, ConfigError> {
        for (name, role) in &self.roles {
            if !valid_target_name(name) {
                return Err(self.error(
                    format!("roles.{name}"),
                    "a role name is 1 to 64 letters, digits, `-` or `_`",
                ));
            }
            for target in role.targets.keys() {
                match self.targets.get(target) {
                    None => {
                        return Err(self.error(
                            format!("roles.{name}.targets.{target}"),
                            format!("there is no target `{target}`"),
                        ));
                    }
                    Some(t) if t.accounts.is_none() => {
                        return Err(self.error(
                            format!("roles.{name}.targets.{target}"),
                            format!(
                                "target `{target}` has no policy map: add [targets.{target}.accounts]"
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let maps = || {
            self.targets
                .iter()
                .filter_map(|(name, t)| t.accounts.as_ref().map(|a| (name.as_str(), a)))
        };
        for (target, map) in maps() {
            if let Some(role) = &map.default_role
                && !self.roles.contains_key(role)
            {
                return Err(self.error(
                    format!("targets.{target}.accounts.default_role"),
                    format!("there is no role `{role}`"),
                ));
            }
            for (i, step) in map.leaver.iter().enumerate() {
                let key = format!("targets.{target}.accounts.leaver[{i}]");
                if i > 0 && step.after < map.leaver[i - 1].after {
                    return Err(self.error(
                        format!("{key}.after"),
                        "comes before the step above it: list the steps in the order they happen",
                    ));
                }
                if step.action == LeaverAction::Named(LeaverNamed::Delete)
                    && i + 1 < map.leaver.len()
                {
                    return Err(self.error(key, "delete must be the last step"));
                }
                if let LeaverAction::Update { update } = &step.action
                    && update.is_empty()
                {
                    return Err(self.error(format!("{key}.do.update"), "names no attribute"));
                }
            }
            let mut seen: BTreeMap<String, &str> = BTreeMap::new();
            for attribute in map.attributes.keys() {
                // Targets compare attribute names ignoring case (LDAP, AD,
                // SCIM): two spellings would write one attribute twice.
                if let Some(first) = seen.insert(attribute.to_ascii_lowercase(), attribute) {
                    return Err(self.error(
                        format!("targets.{target}.accounts.attributes.{attribute}"),
                        format!("is the attribute `{first}` spelled another way; map it once"),
                    ));
                }
            }
            for attribute in map.attributes.keys() {
                let managed = [
                    (
                        crate::model::names::PASSWORD,
                        "passwords are never computed: set them with a set-password operation",
                    ),
                    (
                        crate::model::names::ENABLE,
                        "the identity's status enables and disables its accounts",
                    ),
                    (
                        crate::model::names::GROUPS,
                        "roles give groups: list them under [roles.<name>.targets.<target>]",
                    ),
                ];
                if let Some((_, why)) = managed
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(attribute))
                {
                    return Err(self.error(
                        format!("targets.{target}.accounts.attributes.{attribute}"),
                        *why,
                    ));
                }
            }
        }
        let mut sources = identity::sources(&self.roles, maps())
            .map_err(|(key, reason)| self.error(key, reason))?;
        for (name, source) in &self.sources {
            let key = |k: &str| format!("sources.{name}.{k}");
            if !valid_target_name(name) {
                return Err(self.error(
                    format!("sources.{name}"),
                    "a source name is 1 to 64 letters, digits, `-` or `_`",
                ));
            }
            if !self.targets.contains_key(&source.target) {
                return Err(self.error(
                    key("target"),
                    format!("there is no target `{}`", source.target),
                ));
            }
            if source.key.trim().is_empty() {
                return Err(self.error(
                    key("key"),
                    "must name the record attribute holding the identity's id",
                ));
            }
            if let Some(share) = source.max_leaver_share
                && !(share > 0.0 && share <= 1.0)
            {
                return Err(self.error(key("max_leaver_share"), "must be above 0 and at most 1"));
            }
            if source.interval.is_some_and(|i| i.is_zero()) {
                return Err(self.error(key("interval"), "must be longer than zero"));
            }
            if source.mapping.is_empty() {
                return Err(self.error(key("mapping"), "maps no attribute: give at least one"));
            }
            for (attribute, mapping) in &source.mapping {
                let at = key(&format!("mapping.{attribute}"));
                if mapping.unique().is_some() || mapping.create_only() {
                    return Err(self.error(at, "an inbound mapping takes `value` or `expr` only"));
                }
                let (form, text) = mapping.source().map_err(|e| self.error(at.clone(), e))?;
                sources.keyed.push((at, form, text));
            }
        }
        identity::compile(&self.tables, &sources).map_err(|(key, reason)| self.error(key, reason))
    }

    /// The SQLite file of the store.
    pub fn store_path(&self) -> PathBuf {
        let store = self
            .server
            .store
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        self.resolve(Path::new(store))
    }

    /// What the host keeps for itself, which no grant may reach: the
    /// store (and the files beside it), the key file, the registry and the
    /// compile cache.
    fn host_paths(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("server.store", absolute(&self.store_path())),
            (
                "server.key_file",
                absolute(&self.resolve(&self.server.key_file)),
            ),
            (
                "server.registry_dir",
                absolute(&self.resolve(&self.server.registry_dir)),
            ),
            (
                "server.cache_dir",
                absolute(&self.resolve(&self.server.cache_dir)),
            ),
        ]
    }

    /// Refuses grants (and host directories) that reach what the host
    /// keeps for itself.
    fn check_host_paths(&self) -> Result<(), ConfigError> {
        let host = self.host_paths();
        let (store, key) = (&host[0].1, &host[1].1);
        for (key_name, dir) in &host[2..] {
            for (name, kept) in [("server.store", store), ("server.key_file", key)] {
                if kept.starts_with(dir) {
                    return Err(self.error(
                        *key_name,
                        format!(
                            "{} holds {name} ({}); give it a directory of its own",
                            dir.display(),
                            kept.display()
                        ),
                    ));
                }
            }
        }
        for (target_name, target) in &self.targets {
            let mut reaches: Vec<(String, PathBuf, bool)> = Vec::new();
            if let Some(dir) = &target.grants.directory {
                reaches.push((
                    "grants.directory".into(),
                    absolute(&self.resolve(dir)),
                    true,
                ));
            }
            for (db, grant) in &target.grants.sql.0 {
                if let Some(file) = grant
                    .resolved_url(&self.base_dir)
                    .strip_prefix("sqlite://")
                    .map(|rest| rest.split('?').next().unwrap_or(rest).to_owned())
                {
                    reaches.push((
                        format!("grants.sql.{db}.url"),
                        absolute(Path::new(&file)),
                        false,
                    ));
                }
            }
            for (key_name, granted, is_dir) in reaches {
                for (name, kept) in &host {
                    // A directory reaches what is under it; a file is itself.
                    let hit = kept == &granted
                        || (is_dir && kept.starts_with(&granted))
                        || granted.starts_with(kept);
                    if hit {
                        return Err(self.error(
                            format!("targets.{target_name}.{key_name}"),
                            format!(
                                "{} reaches {name} ({}), which is the host's own; grant something else",
                                granted.display(),
                                kept.display()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A path from the file, made absolute against its directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        resolve(&self.base_dir, path)
    }
}

/// `path` made absolute and without `.`, `..` or symbolic links in the
/// part that exists, so two spellings of one place compare equal.
fn absolute(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    // Canonicalise the longest part that exists; keep the rest as written.
    let mut existing = path.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_owned()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    out
}

pub(crate) fn resolve(base: &Path, path: &Path) -> PathBuf {
    crate::setting::resolve_path(base, path)
}

fn valid_target_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The dotted key a TOML error points at: the table header above the error
/// and the key on its line (`targets.hr.concurency`).
fn error_key(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return "(file)".into();
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default().trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !line.starts_with('['));
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (Some(t), None) => t,
        (None, Some(k)) => k,
        (None, None) => "(file)".into(),
    }
}

fn location(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;

//! One target: which connector, with what settings, grants, limits and
//! policies.

use crate::runtime::capabilities::GrantsConfig;
use crate::runtime::{CallLimits, ConfigGrant, TargetSettings};
use crate::secret::{Secret, SecretRef};
use crate::setting::{InvalidSetting, resolve_path};
use crate::store::OperationKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
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
    pub grants: GrantsConfig,
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
    /// Operations wait in `pending-approval` until an operator approves:
    /// `true`, or `{ distinct_approver = … }`.
    #[serde(default)]
    pub approval: Approval,
    #[serde(default)]
    pub on_delete: OnDelete,
    /// A SCIM filter: matching accounts are never changed or deleted.
    #[serde(default)]
    pub protected: Option<String>,
    #[serde(default)]
    pub membership: MembershipMode,
    /// Attributes (or changes) one operation may carry.
    #[serde(default = "default_max_attributes")]
    pub max_attributes: usize,
    /// Log lines one connector instance may write.
    #[serde(default)]
    pub log_rate: LogRate,
    #[serde(default)]
    pub health: HealthPolicy,
    /// Bytes a connector may make the host hold for it in one call (query
    /// results, directory entries, what it returns).
    #[serde(default = "default_max_host_mib")]
    pub max_host_mib: usize,
    /// The policy map: which identities get an account here and how its
    /// attributes are computed (docs/identities.md).
    #[serde(default)]
    pub accounts: Option<super::AccountsConfig>,
    /// How the target's accounts are reconciled (docs/reconciliation.md).
    #[serde(default)]
    pub reconciliation: Option<super::ReconConfig>,
}

fn default_max_host_mib() -> usize {
    64
}

/// A token bucket of connector log lines: `per_second` on average, bursts
/// of `burst`; the rest are dropped and counted.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRate {
    #[serde(default = "default_log_per_second")]
    pub per_second: f64,
    #[serde(default = "default_log_burst")]
    pub burst: u32,
}

fn default_log_per_second() -> f64 {
    100.0
}
fn default_log_burst() -> u32 {
    200
}

impl Default for LogRate {
    fn default() -> Self {
        LogRate {
            per_second: default_log_per_second(),
            burst: default_log_burst(),
        }
    }
}

fn default_max_attributes() -> usize {
    1000
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

/// A token bucket: `per_second` operations on average, bursts of `burst`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
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
/// exponential backoff with equal jitter, never sooner than the target's
/// `retry-after`. The defaults ride out a maintenance window: 21 attempts
/// from 1 s doubling to 5 min put the last at least 31 minutes after the
/// first (48 on average, at most 64), as midPoint's consistency mechanism
/// keeps trying for half an hour.
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
    21
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

/// How often a target is tested (its connector's `test`), at start and
/// then on this interval; its health is the last result.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthPolicy {
    #[serde(default = "default_health_interval", with = "humantime_serde")]
    pub interval: Duration,
}

fn default_health_interval() -> Duration {
    Duration::from_secs(60)
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            interval: default_health_interval(),
        }
    }
}

/// When a target's recent calls fail too often, its operations wait until
/// the quarantine is lifted: by the host, when a probe (the connector's
/// `test`, on an interval that doubles from `probe_interval` to
/// `max_probe_interval`) passes, or by an operator (as in Entra
/// provisioning, which escalates its probes the same way).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuarantinePolicy {
    /// Lift the quarantine when a probe passes; false leaves it to an
    /// operator.
    #[serde(default = "default_true")]
    pub lift_on_test: bool,
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub probe_interval: Duration,
    #[serde(default = "default_max_probe_interval", with = "humantime_serde")]
    pub max_probe_interval: Duration,
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
fn default_probe_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_max_probe_interval() -> Duration {
    Duration::from_secs(15 * 60)
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
            lift_on_test: true,
            probe_interval: default_probe_interval(),
            max_probe_interval: default_max_probe_interval(),
            enabled: true,
            window: default_window(),
            min_calls: default_min_calls(),
            failure_rate: default_failure_rate(),
        }
    }
}

/// Whether operations wait for an operator's approval, which ones, and who
/// may give it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approval {
    pub required: bool,
    /// Four eyes: the token that submitted an operation cannot approve it.
    /// On by default whenever approval is.
    pub distinct_approver: bool,
    /// Only operations of these kinds wait; every kind when empty.
    pub kinds: Vec<OperationKind>,
    /// Only operations this SCIM filter matches wait. It sees the
    /// operation: `kind`, `identity`, `class`, `group` and the attributes
    /// it writes (e.g. `group sw "admin" or department eq "Finance"`).
    pub filter: Option<String>,
}

impl<'de> Deserialize<'de> for Approval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            #[serde(default = "default_true")]
            distinct_approver: bool,
            #[serde(default)]
            kinds: Vec<OperationKind>,
            #[serde(default)]
            filter: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Flag(bool),
            Table(Table),
        }
        Ok(
            match Written::deserialize(d).map_err(|_| {
                serde::de::Error::custom(
                    "expected true, false or { kinds = [\"delete\", …], filter = '…', distinct_approver = true|false }",
                )
            })? {
                Written::Flag(required) => Approval {
                    required,
                    distinct_approver: required,
                    ..Approval::default()
                },
                Written::Table(t) => Approval {
                    required: true,
                    distinct_approver: t.distinct_approver,
                    kinds: t.kinds,
                    filter: t.filter,
                },
            },
        )
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
    /// Checks what can be checked without loading the connector; the key
    /// of an error is relative to the target.
    pub(super) fn validate(&self, base: &Path) -> Result<(), InvalidSetting> {
        let err = |key: &str, reason: String| Err(InvalidSetting::new(key, reason));
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
        } else if !resolve_path(base, Path::new(&self.connector)).is_file() {
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
        if !(self.log_rate.per_second >= 0.0 && self.log_rate.per_second.is_finite()) {
            return err(
                "log_rate.per_second",
                "must be a number of lines, 0 or more".into(),
            );
        }
        if self.max_host_mib == 0 || self.max_host_mib > 4096 {
            return err(
                "max_host_mib",
                format!("{} is not between 1 and 4096", self.max_host_mib),
            );
        }
        if self.max_attributes == 0 || self.max_attributes > crate::model::MAX_ATTRIBUTES {
            return err(
                "max_attributes",
                format!(
                    "{} is not between 1 and {}",
                    self.max_attributes,
                    crate::model::MAX_ATTRIBUTES
                ),
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
        if self.health.interval < Duration::from_millis(10) {
            return err("health.interval", "must be at least 10ms".into());
        }
        if q.probe_interval < Duration::from_millis(10) || q.probe_interval > q.max_probe_interval {
            return err(
                "quarantine.probe_interval",
                "must be at least 10ms and at most max_probe_interval".into(),
            );
        }
        if let Some(filter) = &self.protected {
            provisio_filter::parse(filter)
                .map_err(|e| InvalidSetting::new("protected", e.to_string()))?;
        }
        if let Some(filter) = &self.approval.filter {
            provisio_filter::parse(filter)
                .map_err(|e| InvalidSetting::new("approval.filter", e.to_string()))?;
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
        use crate::runtime::capabilities::config::HOST_KEYS;
        if let Some(key) = self
            .config
            .keys()
            .chain(self.secrets.keys())
            .find(|k| k.starts_with(HOST_KEYS))
        {
            return err(
                &format!("config.{key}"),
                format!("keys under `{HOST_KEYS}` are the host's own; choose another name"),
            );
        }
        self.resolve_secrets(base)?;
        self.grants.validate(base)
    }

    /// The target's secrets, read now.
    pub fn resolve_secrets(&self, base: &Path) -> Result<BTreeMap<String, Secret>, InvalidSetting> {
        self.secrets
            .iter()
            .map(|(key, secret)| {
                secret
                    .resolve(base)
                    .map(|value| (key.clone(), value))
                    .map_err(|reason| InvalidSetting::new(format!("secrets.{key}"), reason))
            })
            .collect()
    }

    /// What target `name` grants its connector and how it limits it.
    /// Opens nothing yet (pools connect lazily); must run inside a tokio
    /// runtime when the target grants SQL.
    pub fn settings(&self, name: &str, base: &Path) -> Result<TargetSettings, InvalidSetting> {
        let config = ConfigGrant {
            values: self.config.clone(),
            secrets: self.resolve_secrets(base)?,
        };
        Ok(TargetSettings {
            name: name.to_owned(),
            grants: self.grants.grants(name, config, base, self.timeout)?,
            limits: CallLimits {
                timeout: self.timeout,
                memory_bytes: self.memory_mib << 20,
                max_host_bytes: self.max_host_mib << 20,
                max_output_bytes: (self.max_host_mib << 20)
                    .min(CallLimits::default().max_output_bytes),
                log_lines_per_second: self.log_rate.per_second,
                log_burst: self.log_rate.burst,
            },
            max_instances: self.concurrency,
        })
    }
}

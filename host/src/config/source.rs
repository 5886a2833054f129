//! `[sources.<name>]`: a target read as the authoritative record of who
//! works here (an HR system's export), mapped into identities.

use super::identity::Mapping;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Fields of the desired state an inbound mapping may set besides the
/// profile: the rest of its keys are profile attributes.
pub const STATE_FIELDS: &[&str] = &["status", "roles", "start_date", "end_date"];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The target whose connector reads the records (its `search`).
    pub target: String,
    /// The object class of the records (the target's class when absent).
    #[serde(default)]
    pub class: Option<String>,
    /// The record attribute that holds the identity's id.
    pub key: String,
    /// Record attributes a row must have; a row without one is reported
    /// and skipped.
    #[serde(default)]
    pub required: Vec<String>,
    /// What a person who was in the source and no longer is becomes.
    #[serde(default)]
    pub missing: Missing,
    /// Run every interval (none: only on request).
    #[serde(default, with = "humantime_serde::option")]
    pub interval: Option<Duration>,
    /// The deletion guard: a run that would make more leavers than this
    /// stops before acting and waits for an operator.
    #[serde(default = "default_max_leavers")]
    pub max_leavers: u64,
    /// …or more than this share (0 to 1) of the source's identities.
    #[serde(default)]
    pub max_leaver_share: Option<f64>,
    /// Identity profile attribute (or `status`, `roles`, `start_date`,
    /// `end_date`) ← template or expression over the record.
    pub mapping: BTreeMap<String, Mapping>,
}

fn default_max_leavers() -> u64 {
    500
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Missing {
    /// Nothing changes.
    #[default]
    Ignore,
    Suspend,
    Terminate,
}

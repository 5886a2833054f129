//! `provisio:connector/config`: the target's settings and secrets.

use crate::runtime::state::PluginState;
use std::collections::BTreeMap;
use std::fmt;

/// A secret value: printed as `***` by `Debug` and `Display`, so it cannot
/// leak into a log line or an error by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it.
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

/// The settings and secrets of one target.
#[derive(Debug, Clone, Default)]
pub struct ConfigGrant {
    pub values: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, Secret>,
}

pub fn get(state: &PluginState, key: &str) -> Option<String> {
    state.target.config.values.get(key).cloned()
}

pub fn keys(state: &PluginState) -> Vec<String> {
    state.target.config.values.keys().cloned().collect()
}

pub fn secret(state: &PluginState, key: &str) -> Option<String> {
    let value = state.target.config.secrets.get(key)?;
    tracing::trace!(target = %state.target.name, key, "connector read a secret");
    Some(value.expose().to_owned())
}

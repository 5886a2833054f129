//! `provisio:connector/config`: the target's settings and secrets, read by
//! the connector through its contract's `config` interface (every contract
//! version imports it, so it is always linked; see `runtime/bindings`).

use crate::secret::Secret;
use std::collections::BTreeMap;

/// The settings and secrets of one target.
#[derive(Debug, Clone, Default)]
pub struct ConfigGrant {
    pub values: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, Secret>,
}

/// What one instance's `config` calls see.
pub struct ConfigCtxView<'a> {
    pub grant: &'a ConfigGrant,
    /// The target's name, for the trace of secret reads.
    pub target: &'a str,
}

/// State that can lend the `config` capability.
pub trait ConfigView: Send {
    fn config(&mut self) -> ConfigCtxView<'_>;
}

impl ConfigCtxView<'_> {
    pub fn get(&self, key: &str) -> Option<String> {
        self.grant.values.get(key).cloned()
    }

    pub fn keys(&self) -> Vec<String> {
        self.grant.values.keys().cloned().collect()
    }

    pub fn secret(&self, key: &str) -> Option<String> {
        let value = self.grant.secrets.get(key)?;
        tracing::trace!(target = %self.target, key, "connector read a secret");
        Some(value.expose().to_owned())
    }
}

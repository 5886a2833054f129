//! `provisio:connector/config`: the target's settings and secrets, read by
//! the connector through its contract's `config` interface (every contract
//! version imports it, so it is always linked; see `runtime/bindings`).

use crate::secret::Secret;
use std::collections::BTreeMap;

/// The key under which the host tells a connector which host run it
/// serves (`<store id>.<run>`; see `provisio_sdk::HostRun`). Keys under
/// `provisio.` are the host's: an operator's configuration cannot set them.
pub const HOST_RUN_KEY: &str = "provisio.host_run";

/// The prefix of the keys the host reserves.
pub const HOST_KEYS: &str = "provisio.";

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

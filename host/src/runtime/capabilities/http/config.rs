//! `[targets.<name>.grants.http]`.

use super::hooks::HttpGrant;
use super::origin::AllowedOrigin;
use crate::setting::InvalidSetting;
use serde::Deserialize;
use std::time::Duration;

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

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_request_bytes() -> usize {
    1 << 20
}
fn default_max_response_bytes() -> usize {
    16 << 20
}

impl HttpGrantConfig {
    /// The grant, or the key that is wrong (relative to `grants.http`).
    pub fn grant(&self) -> Result<HttpGrant, InvalidSetting> {
        if self.allow.is_empty() {
            return Err(InvalidSetting::new("allow", "lists no origin"));
        }
        Ok(HttpGrant {
            allow: self
                .allow
                .iter()
                .map(|o| AllowedOrigin::parse(o))
                .collect::<Result<_, _>>()
                .map_err(|reason| InvalidSetting::new("allow", reason))?,
            timeout: self.timeout,
            max_request_bytes: self.max_request_bytes,
            max_response_bytes: self.max_response_bytes,
        })
    }
}

//! `[targets.<name>.grants.ldap]`: the directory URLs a connector may
//! open, and what the host binds with.

use super::grant::{BindCredentials, LdapGrant, LdapSpec};
use super::url::normalise_url;
use crate::secret::SecretRef;
use crate::setting::{InvalidSetting, resolve_path};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    /// Allow the host to send passwords over a connection that is neither
    /// LDAPS nor StartTLS (a directory on loopback); logged at start-up.
    #[serde(default)]
    pub allow_plaintext_bind: bool,
}

fn default_true() -> bool {
    true
}

impl LdapGrantConfig {
    /// Checks the grant; keys are relative to `grants.ldap`.
    pub fn validate(&self, base: &Path) -> Result<(), InvalidSetting> {
        if self.urls.is_empty() {
            return Err(InvalidSetting::new("urls", "lists no directory"));
        }
        for url in &self.urls {
            normalise_url(url).map_err(|reason| InvalidSetting::new("urls", reason))?;
        }
        match (&self.bind_dn, &self.password) {
            (Some(_), None) => {
                return Err(InvalidSetting::new(
                    "password",
                    "bind_dn is set but no password is",
                ));
            }
            (None, Some(_)) => {
                return Err(InvalidSetting::new(
                    "bind_dn",
                    "a password is set but no bind_dn is",
                ));
            }
            (_, Some(password)) => {
                password
                    .resolve(base)
                    .map_err(|reason| InvalidSetting::new("password", reason))?;
            }
            _ => {}
        }
        if let Some(ca) = &self.ca_file
            && !resolve_path(base, ca).is_file()
        {
            return Err(InvalidSetting::new(
                "ca_file",
                format!("{} is not a file", ca.display()),
            ));
        }
        Ok(())
    }

    /// The grant of `target`; each operation with the directory takes at
    /// most `timeout`.
    pub fn grant(
        &self,
        target: &str,
        base: &Path,
        timeout: Duration,
    ) -> Result<Arc<LdapGrant>, InvalidSetting> {
        let bind = match (&self.bind_dn, &self.password) {
            (Some(dn), Some(password)) => Some(BindCredentials {
                dn: dn.clone(),
                password: password
                    .resolve(base)
                    .map_err(|reason| InvalidSetting::new("password", reason))?,
            }),
            _ => None,
        };
        let spec = LdapSpec {
            urls: self.urls.clone(),
            bind,
            ca_file: self.ca_file.as_ref().map(|ca| resolve_path(base, ca)),
            tls_verify: self.tls_verify,
            allow_plaintext_bind: self.allow_plaintext_bind,
            timeout,
        };
        LdapGrant::new(target, &spec)
            .map(Arc::new)
            .map_err(|reason| InvalidSetting::new("", reason))
    }
}

//! `[targets.<name>.grants.sql.<database>]`: the databases a connector may
//! open, by the name it opens them with.

use super::grant::{DatabaseSpec, SqlGrant};
use crate::secret::SecretRef;
use crate::setting::{InvalidSetting, resolve_path};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The granted databases by name; empty grants none.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SqlConfig(pub BTreeMap<String, SqlDatabaseConfig>);

/// One granted database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlDatabaseConfig {
    /// `postgres://user@host:port/database` or `sqlite://path` (relative to
    /// the config file). Never with a password in it: see `password`.
    pub url: String,
    /// The database user's password.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Connections the target's pool may hold.
    #[serde(default = "default_connections")]
    pub max_connections: u32,
}

fn default_connections() -> u32 {
    4
}

impl SqlConfig {
    /// Checks every database (keys relative to `grants.sql`).
    pub fn validate(&self, base: &Path) -> Result<(), InvalidSetting> {
        for (name, database) in &self.0 {
            database
                .validate()
                .map_err(|reason| InvalidSetting::new(format!("{name}.url"), reason))?;
            if let Some(password) = &database.password {
                password
                    .resolve(base)
                    .map_err(|reason| InvalidSetting::new(format!("{name}.password"), reason))?;
            }
        }
        Ok(())
    }

    /// The pools of the granted databases, connecting lazily; None when none
    /// is granted. Must run inside a tokio runtime.
    pub fn grant(
        &self,
        base: &Path,
        timeout: Duration,
    ) -> Result<Option<Arc<SqlGrant>>, InvalidSetting> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let mut specs = BTreeMap::new();
        for (name, database) in &self.0 {
            let password = database
                .password
                .as_ref()
                .map(|p| p.resolve(base))
                .transpose()
                .map_err(|reason| InvalidSetting::new(format!("{name}.password"), reason))?;
            specs.insert(
                name.clone(),
                DatabaseSpec {
                    url: database.resolved_url(base),
                    password,
                    max_connections: database.max_connections,
                },
            );
        }
        SqlGrant::connect_lazy(&specs, timeout)
            .map(|grant| Some(Arc::new(grant)))
            .map_err(|reason| InvalidSetting::new("", reason))
    }
}

impl SqlDatabaseConfig {
    /// The URL with a relative SQLite path made relative to the config file.
    pub fn resolved_url(&self, base: &Path) -> String {
        match self.url.strip_prefix("sqlite://") {
            Some(rest) if !rest.starts_with('/') && !rest.starts_with(':') => {
                let (path, query) = rest
                    .split_once('?')
                    .map_or((rest, None), |(p, q)| (p, Some(q)));
                let path = resolve_path(base, Path::new(path));
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

//! Command-line flags that grant a connector its configuration, secrets,
//! directory and limits.

use crate::config::GrantsConfig;
use crate::runtime::{CallLimits, Secret, TargetSettings};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct GrantArgs {
    /// A configuration value, `KEY=VALUE` (repeatable).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// A secret taken from an environment variable, `KEY=ENV_VAR` (repeatable).
    /// Secrets never go on the command line, where `ps` would show them.
    #[arg(long = "secret-env", value_name = "KEY=ENV_VAR")]
    pub secret_env: Vec<String>,
    /// A directory to grant, visible to the connector at /data.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Grant the directory read-only.
    #[arg(long, requires = "dir")]
    pub read_only: bool,
    /// Seconds a call may take.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Memory a connector instance may use, in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory_mib: usize,
    /// Outgoing HTTP to this origin or prefix (`https://api.example.com`;
    /// repeatable).
    #[arg(long = "allow-http", value_name = "ORIGIN")]
    pub allow_http: Vec<String>,
    /// A database the connector opens by NAME (`main=sqlite://app.db`,
    /// `main=postgres://user@host/db`; repeatable). Its password, if it
    /// needs one, comes from the environment variable
    /// `PROVISIO_SQL_PASSWORD_<NAME>`.
    #[arg(long = "sql", value_name = "NAME=URL")]
    pub sql: Vec<String>,
    /// An LDAP directory (`ldaps://host:636`; repeatable).
    #[arg(long = "ldap", value_name = "URL")]
    pub ldap: Vec<String>,
    /// The DN the host binds to the directory as; its password comes from
    /// the environment variable `PROVISIO_LDAP_PASSWORD`.
    #[arg(long = "ldap-bind-dn", value_name = "DN", requires = "ldap")]
    pub ldap_bind_dn: Option<String>,
}

impl GrantArgs {
    pub fn settings(&self, target: &str) -> anyhow::Result<TargetSettings> {
        let mut settings = TargetSettings::new(target);
        for pair in &self.config {
            let (key, value) = split(pair, "--config")?;
            settings
                .grants
                .config
                .values
                .insert(key.to_owned(), value.to_owned());
        }
        for pair in &self.secret_env {
            let (key, var) = split(pair, "--secret-env")?;
            let value = std::env::var(var).with_context(|| {
                format!("--secret-env {key}: environment variable {var} is not set")
            })?;
            settings
                .grants
                .config
                .secrets
                .insert(key.to_owned(), Secret::new(value));
        }
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            bail!("--timeout must be a positive number of seconds");
        }
        settings.limits = CallLimits {
            timeout: Duration::from_secs_f64(self.timeout),
            memory_bytes: self.memory_mib << 20,
            ..CallLimits::default()
        };
        let config = std::mem::take(&mut settings.grants.config);
        settings.grants = self
            .grants_config()?
            .grants(
                target,
                config,
                &std::env::current_dir()?,
                settings.limits.timeout,
            )
            .map_err(|e| anyhow::anyhow!("{}: {}", flag_of(&e.key), e.reason))?;
        Ok(settings)
    }

    /// The grants the flags give, as a target's `grants` table would.
    fn grants_config(&self) -> anyhow::Result<GrantsConfig> {
        let mut grants = serde_json::Map::new();
        if let Some(dir) = &self.dir {
            grants.insert("directory".into(), json!(dir));
            grants.insert("read_only".into(), json!(self.read_only));
        }
        if !self.allow_http.is_empty() {
            grants.insert("http".into(), json!({"allow": self.allow_http}));
        }
        let mut databases = serde_json::Map::new();
        for pair in &self.sql {
            let (name, url) = split(pair, "--sql")?;
            let mut database = json!({"url": url});
            let variable = format!("PROVISIO_SQL_PASSWORD_{}", name.to_uppercase());
            if std::env::var_os(&variable).is_some() {
                database["password"] = json!({"env": variable});
            }
            databases.insert(name.to_owned(), database);
        }
        if !databases.is_empty() {
            grants.insert("sql".into(), serde_json::Value::Object(databases));
        }
        if !self.ldap.is_empty() {
            let mut ldap = json!({"urls": self.ldap});
            if let Some(dn) = &self.ldap_bind_dn {
                if std::env::var_os("PROVISIO_LDAP_PASSWORD").is_none() {
                    bail!(
                        "--ldap-bind-dn needs the password in the environment variable PROVISIO_LDAP_PASSWORD"
                    );
                }
                ldap["bind_dn"] = json!(dn);
                ldap["password"] = json!({"env": "PROVISIO_LDAP_PASSWORD"});
            }
            grants.insert("ldap".into(), ldap);
        }
        serde_json::from_value(serde_json::Value::Object(grants))
            .context("the grant flags do not make a valid grant")
    }
}

/// The flag behind a grant's key (`grants.sql.main.url` → `--sql`).
fn flag_of(key: &str) -> String {
    let flag = match key.split('.').nth(1) {
        Some("http") => "--allow-http",
        Some("sql") => "--sql",
        Some("ldap") => "--ldap",
        _ => "--dir",
    };
    format!("{flag} ({key})")
}

fn split<'a>(pair: &'a str, flag: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        _ => bail!("{flag} expects KEY=VALUE, got {pair:?}"),
    }
}

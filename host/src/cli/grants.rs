//! Command-line flags that grant a connector its configuration, secrets,
//! directory and limits.

use crate::runtime::{CallLimits, DirectoryGrant, Secret, TargetSettings};
use anyhow::{Context, bail};
use clap::Args;
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
        if let Some(dir) = &self.dir {
            settings.grants.directory = Some(DirectoryGrant {
                host_path: dir.clone(),
                read_only: self.read_only,
            });
        }
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            bail!("--timeout must be a positive number of seconds");
        }
        settings.limits = CallLimits {
            timeout: Duration::from_secs_f64(self.timeout),
            memory_bytes: self.memory_mib << 20,
            ..CallLimits::default()
        };
        Ok(settings)
    }
}

fn split<'a>(pair: &'a str, flag: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        _ => bail!("{flag} expects KEY=VALUE, got {pair:?}"),
    }
}

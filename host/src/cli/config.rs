//! `provisio config reload`: a running host reads its configuration file
//! again (as SIGHUP does) and says what changed, or why nothing did.

use super::output::say;
use super::remote::{Client, HostArgs};
use clap::{Args, Subcommand};
use serde_json::json;
use std::process::ExitCode;

#[derive(Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    host: HostArgs,
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Apply the file's changed policies and tokens; nothing of it when it
    /// is invalid or changes what needs a restart.
    Reload,
}

pub async fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.host)?;
    match args.command {
        ConfigCommand::Reload => {
            let reloaded = client.post("/v1/config/reload", &json!({})).await?;
            client.show(&reloaded, |r| {
                let changed: Vec<&str> = r["changed"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str())
                    .collect();
                if changed.is_empty() {
                    say!("configuration reloaded; nothing changed");
                } else {
                    say!("configuration reloaded: {}", changed.join(", "));
                }
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `provisio targets …`: a running host's targets, their health, a test
//! now, and lifting a quarantine.

use super::operations::segment;
use super::output::say;
use super::remote::{Client, HostArgs, field, table};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

#[derive(Args)]
pub struct TargetsArgs {
    #[command(flatten)]
    host: HostArgs,
    #[command(subcommand)]
    command: TargetsCommand,
}

#[derive(Subcommand)]
enum TargetsCommand {
    /// Every target: connector, health, queue.
    List,
    /// One target, whole.
    Show { target: String },
    /// Run the target's connector test now (its answer is the health).
    Test { target: String },
    /// Let a quarantined target's operations run again.
    LiftQuarantine { target: String },
}

pub async fn run(args: TargetsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.host)?;
    match args.command {
        TargetsCommand::List => {
            let targets = client.get("/v1/targets").await?;
            client.show(&targets, |targets| {
                let rows: Vec<Vec<String>> = targets
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        vec![
                            field(t, "name"),
                            field(t, "connector"),
                            field(t, "health"),
                            field(t, "queue_depth"),
                            field(t, "running"),
                            t["health_reason"].as_str().unwrap_or("").to_owned(),
                        ]
                    })
                    .collect();
                table(
                    &["TARGET", "CONNECTOR", "HEALTH", "QUEUED", "RUNNING", "WHY"],
                    &rows,
                );
            })?;
        }
        TargetsCommand::Show { target } => {
            let status = client
                .get(&format!(
                    "/v1/targets/{}",
                    segment("a target name", &target)?
                ))
                .await?;
            client.show(&status, print_target)?;
        }
        TargetsCommand::Test { target } => {
            let path = format!("/v1/targets/{}/test", segment("a target name", &target)?);
            match client.post(&path, &json!({})).await {
                Ok(answer) => client.show(&answer, |_| say!("target {target}: test passed"))?,
                Err(e) => {
                    eprintln!("target {target}: test failed: {e:#}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        TargetsCommand::LiftQuarantine { target } => {
            let path = format!(
                "/v1/targets/{}/quarantine/lift",
                segment("a target name", &target)?
            );
            let status = client.post(&path, &json!({})).await?;
            client.show(&status, |s| {
                say!(
                    "target {target}: quarantine lifted; health {}",
                    field(s, "health")
                )
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_target(t: &Value) {
    for key in [
        "name",
        "description",
        "connector",
        "sha256",
        "contract",
        "previous",
        "class",
        "approval",
        "health",
        "health_reason",
        "health_checked_at",
        "quarantine_reason",
        "queue_depth",
        "running",
        "concurrency",
    ] {
        say!("{:<20}{}", format!("{key}:"), field(t, key));
    }
    if !t["held"].is_null() {
        say!(
            "{:<20}{} ({})",
            "held:",
            field(&t["held"], "by"),
            field(&t["held"], "reason")
        );
    }
}

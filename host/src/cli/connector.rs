//! `provisio connector …`: inspect a connector file; upload a connector
//! version to a running host, list versions, activate one on a target, roll
//! a target back, remove a version no target needs — over the host's HTTP
//! API, with an operator's token.

use super::operations::segment;
use super::output::say;
use super::remote::{Client, HostArgs};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ConnectorArgs {
    #[command(flatten)]
    host: HostArgs,
    #[command(subcommand)]
    command: ConnectorCommand,
}

#[derive(Subcommand)]
enum ConnectorCommand {
    /// Show a connector's name, version, contract, capabilities and
    /// imports (a file or `bundled:<name>`; no host needed).
    Inspect(super::inspect::InspectArgs),
    /// Run the conformance suite against a target (no host needed): the
    /// connector's objects are created under a unique prefix, checked
    /// against the contract, and removed. Exits non-zero on any failure.
    Test(Box<super::certify::CertifyArgs>),
    /// Write a new connector crate (builds with `cargo build --release`
    /// outside this repository; passes `connector test` as written).
    New(super::scaffold::NewArgs),
    /// Upload a `.wasm`; the host validates and keeps it.
    Upload {
        file: PathBuf,
        /// Then activate it on this target.
        #[arg(long)]
        activate: Option<String>,
        /// With --activate: allow a lower semver than the active one.
        #[arg(long, requires = "activate")]
        force: bool,
    },
    /// List the versions the host keeps.
    List,
    /// Switch a target to a version (sha256, prefix, semver or name@version).
    Activate {
        target: String,
        version: String,
        #[arg(long)]
        force: bool,
    },
    /// Return a target to its previous version.
    Rollback { target: String },
    /// Send a share of a target's work to a version before activating it.
    Canary {
        target: String,
        version: String,
        /// The share of the work, in (0, 1].
        #[arg(long, default_value_t = 0.1)]
        share: f64,
        /// Only reads go to the canary, no operations.
        #[arg(long)]
        reads_only: bool,
    },
    /// End a target's canary.
    StopCanary { target: String },
    /// Remove a version no target needs (sha256, prefix or name@version):
    /// its record, file and compiled forms.
    Remove { version: String },
}

pub async fn run(args: ConnectorArgs, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let command = match args.command {
        ConnectorCommand::Inspect(inspect) => return super::inspect::run(inspect, cache_dir),
        ConnectorCommand::Test(test) => return super::certify::run(*test, cache_dir).await,
        ConnectorCommand::New(new) => return super::scaffold::run(new).map(|()| ExitCode::SUCCESS),
        command => command,
    };
    let client = Client::new(&args.host)?;
    match command {
        ConnectorCommand::Inspect(_) | ConnectorCommand::Test(_) | ConnectorCommand::New(_) => {
            unreachable!("run without a host above")
        }
        ConnectorCommand::Upload {
            file,
            activate,
            force,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let uploaded = client
                .send(
                    client
                        .http
                        .post(client.url("/v1/connectors"))
                        .header("content-type", "application/wasm")
                        .body(bytes),
                )
                .await?;
            let sha256 = uploaded["sha256"].as_str().unwrap_or_default().to_owned();
            say!(
                "{} {}@{} sha256 {sha256} (contract {})",
                if uploaded["new"] == true {
                    "uploaded"
                } else {
                    "already registered:"
                },
                uploaded["name"].as_str().unwrap_or("?"),
                uploaded["version"].as_str().unwrap_or("?"),
                uploaded["contract"].as_str().unwrap_or("?"),
            );
            if let Some(target) = activate {
                switch_to(&client, &target, &sha256, force).await?;
            }
        }
        ConnectorCommand::List => {
            let versions = client.get("/v1/connectors").await?;
            if client.json {
                say!("{}", serde_json::to_string_pretty(&versions)?);
                return Ok(ExitCode::SUCCESS);
            }
            for v in versions.as_array().into_iter().flatten() {
                say!(
                    "{:<24} {}  contract {}  {} by {}",
                    format!(
                        "{}@{}",
                        v["name"].as_str().unwrap_or("?"),
                        v["version"].as_str().unwrap_or("?")
                    ),
                    v["sha256"].as_str().unwrap_or("?"),
                    v["contract"].as_str().unwrap_or("?"),
                    v["source"].as_str().unwrap_or("?"),
                    v["added_by"].as_str().unwrap_or("?"),
                );
            }
        }
        ConnectorCommand::Activate {
            target,
            version,
            force,
        } => switch_to(&client, &target, &version, force).await?,
        ConnectorCommand::Rollback { target } => {
            let report = client
                .send(client.http.post(client.url(&format!(
                    "/v1/targets/{}/rollback",
                    segment("a target name", &target)?
                ))))
                .await?;
            print_switch(&report);
        }
        ConnectorCommand::Canary {
            target,
            version,
            share,
            reads_only,
        } => {
            let canary = client
                .send(
                    client
                        .http
                        .post(client.url(&format!(
                            "/v1/targets/{}/canary",
                            segment("a target name", &target)?
                        )))
                        .json(
                            &json!({"version": version, "share": share, "reads_only": reads_only}),
                        ),
                )
                .await?;
            say!(
                "target {target}: canary {} takes {:.0}% of {}",
                canary["connector"].as_str().unwrap_or("?"),
                share * 100.0,
                if reads_only { "reads" } else { "the work" }
            );
        }
        ConnectorCommand::StopCanary { target } => {
            client
                .send(client.http.delete(client.url(&format!(
                    "/v1/targets/{}/canary",
                    segment("a target name", &target)?
                ))))
                .await?;
            say!("target {target}: canary stopped");
        }
        ConnectorCommand::Remove { version } => {
            let removed = client
                .send(client.http.delete(client.url(&format!(
                    "/v1/connectors/{}",
                    segment("a connector version", &version)?
                ))))
                .await?;
            say!(
                "removed {}@{} sha256 {}",
                removed["name"].as_str().unwrap_or("?"),
                removed["version"].as_str().unwrap_or("?"),
                removed["sha256"].as_str().unwrap_or("?"),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn switch_to(
    client: &Client,
    target: &str,
    version: &str,
    force: bool,
) -> anyhow::Result<()> {
    let report = client
        .send(
            client
                .http
                .post(client.url(&format!(
                    "/v1/targets/{}/activate",
                    segment("a target name", target)?
                )))
                .json(&json!({"version": version, "force": force})),
        )
        .await?;
    print_switch(&report);
    Ok(())
}

fn print_switch(report: &Value) {
    say!(
        "target {}: {} -> {} ({:.1} ms)",
        report["target"].as_str().unwrap_or("?"),
        report["from"].as_str().unwrap_or("?"),
        report["to"].as_str().unwrap_or("?"),
        report["took_ms"].as_f64().unwrap_or_default(),
    );
}

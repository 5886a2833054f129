//! `provisio sync SOURCE` (run an authoritative source, with progress and
//! a summary) and `provisio plan IDENTITY` (what would change, and why),
//! over a running host's API.

use super::operations::segment;
use super::output::say;
use super::remote::{Client, HostArgs, table};
use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct SyncArgs {
    /// The source (`[sources.<name>]`).
    source: String,
    /// Read and decide, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The host's configuration: its API address is where to ask (instead
    /// of `--url`).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    host: HostArgs,
}

#[derive(Args)]
pub struct PlanArgs {
    /// The identity's id.
    identity: String,
    /// Say for every value which mapping or role produced it.
    #[arg(long)]
    explain: bool,
    /// Plan as of this date (RFC 3339 or YYYY-MM-DD) instead of now.
    #[arg(long)]
    at: Option<String>,
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    host: HostArgs,
}

/// The client for `host`, asking the address `config` listens on when given.
pub(super) fn client(host: &HostArgs, config: Option<&PathBuf>) -> anyhow::Result<Client> {
    let mut host = host.clone();
    if let Some(file) = config {
        let config = crate::config::Config::load(file)?;
        let mut addr = config.server.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        host.url = format!("http://{addr}");
    }
    Client::new(&host)
}

fn count(run: &Value, name: &str) -> u64 {
    run["counts"][name].as_u64().unwrap_or(0)
}

pub async fn sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.host, args.config.as_ref())?;
    let source = segment("a source name", &args.source)?;
    let query = if args.dry_run { "?dry_run=true" } else { "" };
    let started = client
        .post(&format!("/v1/sources/{source}/runs{query}"), &json!({}))
        .await?;
    let id = started["id"]
        .as_str()
        .context("the host answered a run without an id")?
        .to_owned();
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let run = loop {
        let run = client
            .get(&format!(
                "/v1/sources/{source}/runs/{}",
                segment("a run id", &id)?
            ))
            .await?;
        bar.set_message(format!(
            "{}: read {}, applied {}, operations {}",
            run["state"].as_str().unwrap_or("?"),
            count(&run, "read"),
            count(&run, "applied"),
            count(&run, "operations")
        ));
        if run["state"] != "running" {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bar.finish_and_clear();
    if client.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        say!(
            "run {id} of {}: {}, read by {}{}",
            args.source,
            run["state"].as_str().unwrap_or("?"),
            run["read_by"].as_str().unwrap_or("?"),
            if args.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        );
        let rows: Vec<Vec<String>> = [
            "read",
            "joiners",
            "movers",
            "leavers",
            "rehires",
            "unchanged",
            "rejected",
            "applied",
            "operations",
            "held",
            "failed",
        ]
        .iter()
        .map(|name| vec![(*name).to_owned(), count(&run, name).to_string()])
        .collect();
        table(&["", "COUNT"], &rows);
        for rejected in run["rejected"].as_array().into_iter().flatten().take(20) {
            say!(
                "rejected record {}{}: {}",
                rejected["record"].as_str().unwrap_or("?"),
                rejected["identity"]
                    .as_str()
                    .map(|i| format!(" (identity {i})"))
                    .unwrap_or_default(),
                rejected["reason"].as_str().unwrap_or("")
            );
        }
        if let Some(reason) = run["guard"]["reason"].as_str() {
            say!("stopped by the deletion guard: {reason}");
            say!("confirm: POST /v1/sources/{source}/runs/{id}/confirm (operator)");
        }
        if let Some(error) = run["error"].as_str() {
            say!("error: {error}");
        }
    }
    Ok(match run["state"].as_str() {
        Some("succeeded" | "planned") => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

pub async fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.host, args.config.as_ref())?;
    let mut query = vec![];
    if args.explain {
        query.push("explain=true".to_owned());
    }
    if let Some(at) = &args.at {
        query.push(format!("at={}", segment("a date", at)?));
    }
    let path = format!(
        "/v1/identities/{}/plan{}{}",
        segment("an identity id", &args.identity)?,
        if query.is_empty() { "" } else { "?" },
        query.join("&")
    );
    let plan = client.get(&path).await?;
    client.show(&plan, |plan| print_plan(plan, args.explain))?;
    Ok(ExitCode::SUCCESS)
}

/// A plan for people: per target the action and why, each operation,
/// and with `explain` each value with its mapping and inputs.
pub fn print_plan(plan: &Value, explain: bool) {
    let roles: Vec<String> = plan["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} ({})",
                r["role"].as_str().unwrap_or("?"),
                r["by"].as_str().unwrap_or("?")
            )
        })
        .collect();
    say!(
        "identity {} at {}: {}; roles: {}",
        plan["identity"].as_str().unwrap_or("?"),
        plan["reference_time"].as_str().unwrap_or("?"),
        plan["status"].as_str().unwrap_or("?"),
        if roles.is_empty() {
            "none".to_owned()
        } else {
            roles.join(", ")
        }
    );
    for target in plan["targets"].as_array().into_iter().flatten() {
        say!(
            "  {}: {} — {}",
            target["target"].as_str().unwrap_or("?"),
            target["action"].as_str().unwrap_or("?"),
            target["reason"].as_str().unwrap_or("")
        );
        for operation in target["operations"].as_array().into_iter().flatten() {
            let mut request = operation["request"].clone();
            let kind = request["kind"].as_str().unwrap_or("?").to_owned();
            if let Some(body) = request.as_object_mut() {
                body.remove("kind");
            }
            say!(
                "    {kind} {} ({})",
                if request.as_object().is_some_and(|b| b.is_empty()) {
                    String::new()
                } else {
                    request.to_string()
                },
                operation["why"].as_str().unwrap_or("")
            );
        }
        if !explain {
            continue;
        }
        for line in target["explain"]["entitlement"]
            .as_array()
            .into_iter()
            .flatten()
        {
            say!("    because {}", line.as_str().unwrap_or(""));
        }
        for value in target["explain"]["values"].as_array().into_iter().flatten() {
            let inputs: Vec<String> = value["inputs"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            say!(
                "    {} = {}  ← {}  [{}]  {}",
                value["attribute"].as_str().unwrap_or("?"),
                value["value"],
                value["source"].as_str().unwrap_or(""),
                inputs.join(", "),
                value["decision"].as_str().unwrap_or("")
            );
            for candidate in value["candidates"].as_array().into_iter().flatten() {
                say!(
                    "      candidate {}: {}",
                    candidate["value"].as_str().unwrap_or("?"),
                    candidate["refused"].as_str().unwrap_or("chosen")
                );
            }
        }
        for group in target["explain"]["groups"].as_array().into_iter().flatten() {
            let by: Vec<&str> = group["granted_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            say!(
                "    group {}: {}{}",
                group["group"].as_str().unwrap_or("?"),
                group["decision"].as_str().unwrap_or(""),
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" (role {})", by.join(", "))
                }
            );
        }
    }
}

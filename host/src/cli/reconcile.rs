//! `provisio reconcile TARGET`: a reconciliation run over a running host's
//! API, with a progress bar and a table per situation.

use super::identities::client;
use super::operations::segment;
use super::output::say;
use super::remote::{HostArgs, table};
use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The situations in the order the table lists them.
const SITUATIONS: [&str; 8] = [
    "in-sync",
    "drifted",
    "unlinked",
    "unmatched",
    "disputed",
    "deleted",
    "collision",
    "protected",
];

#[derive(Args)]
pub struct ReconcileArgs {
    /// The target (`[targets.<name>]`).
    target: String,
    /// The object class (the target's when absent).
    #[arg(long)]
    class: Option<String>,
    /// Classify and store the plan; change nothing (apply it later with
    /// `POST /v1/reconciliations/{id}/apply`).
    #[arg(long)]
    dry_run: bool,
    /// The host's configuration: its API address is where to ask.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    host: HostArgs,
}

fn number(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

pub async fn run(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.host, args.config.as_ref())?;
    let target = segment("a target name", &args.target)?;
    let started = client
        .post(
            &format!("/v1/targets/{target}/reconciliations"),
            &json!({"class": args.class, "dry_run": args.dry_run}),
        )
        .await?;
    let id = started["id"]
        .as_str()
        .context("the host answered a run without an id")?
        .to_owned();
    let path = format!("/v1/reconciliations/{}", segment("a run id", &id)?);
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let run = loop {
        let run = client.get(&path).await?;
        bar.set_message(format!(
            "{}: page {}, {} accounts, {} applied",
            run["state"].as_str().unwrap_or("?"),
            number(&run["pages"]),
            number(&run["seen"]),
            number(&run["applied"]["applied"]),
        ));
        if !matches!(run["state"].as_str(), Some("running" | "applying")) {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bar.finish_and_clear();
    if client.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        say!(
            "reconciliation {id} of {target}: {}{}, {} accounts in {} pages ({} ms)",
            run["state"].as_str().unwrap_or("?"),
            if args.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            },
            number(&run["seen"]),
            number(&run["pages"]),
            number(&run["read_ms"]),
        );
        let rows: Vec<Vec<String>> = SITUATIONS
            .iter()
            .map(|s| vec![(*s).to_owned(), number(&run["situations"][s]).to_string()])
            .collect();
        table(&["SITUATION", "ACCOUNTS"], &rows);
        let applied = &run["applied"];
        if number(&applied["applied"]) + number(&applied["stale"]) + number(&applied["failed"]) > 0
        {
            say!(
                "applied {}, stale {}, failed {}, operations {}",
                number(&applied["applied"]),
                number(&applied["stale"]),
                number(&applied["failed"]),
                number(&applied["operations"])
            );
        }
        if let Some(reason) = run["budget"]["reason"].as_str() {
            say!("stopped by the deletion budget: {reason}");
            say!("confirm: POST {path}/confirm (operator)");
        }
        if run["state"] == "planned" {
            say!(
                "apply exactly this plan: POST {path}/apply (operator); the report: GET {path}/report.csv"
            );
        }
        if let Some(error) = run["error"].as_str() {
            say!("error: {error}");
        }
    }
    Ok(match run["state"].as_str() {
        Some("succeeded" | "planned" | "needs-confirmation") => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

//! `provisio operations …`: follow operations on a running host and take
//! an operator's decisions on them.

use super::output::say;
use super::remote::{Client, HostArgs, field, table};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::process::ExitCode;

#[derive(Args)]
pub struct OperationsArgs {
    #[command(flatten)]
    host: HostArgs,
    #[command(subcommand)]
    command: OperationsCommand,
}

#[derive(Subcommand)]
enum OperationsCommand {
    /// Operations, oldest first (filters combine).
    List {
        #[arg(long)]
        target: Option<String>,
        /// `pending-approval`, `queued`, `running`, `retrying`,
        /// `succeeded`, `failed` or `cancelled`.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        identity: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One operation, whole.
    Show { id: String },
    /// Let a `pending-approval` operation run.
    Approve(Decision),
    /// Cancel a `pending-approval` operation.
    Reject(Decision),
    /// Queue a failed operation again with fresh attempts.
    Retry(Decision),
    /// Cancel an operation that has not ended.
    Cancel(Decision),
}

#[derive(Args)]
struct Decision {
    id: String,
    /// Why, for the audit log.
    #[arg(long)]
    reason: Option<String>,
}

pub async fn run(args: OperationsArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.host)?;
    let decide = |verb: &'static str, decision: Decision| {
        let client = &client;
        async move {
            let body = match decision.reason {
                Some(reason) => json!({ "reason": reason }),
                None => json!({}),
            };
            let record = client
                .post(
                    &format!(
                        "/v1/operations/{}/{verb}",
                        segment("an operation id", &decision.id)?
                    ),
                    &body,
                )
                .await?;
            client.show(&record, |r| {
                say!("{}: {} ({verb})", field(r, "id"), field(r, "status"))
            })
        }
    };
    match args.command {
        OperationsCommand::List {
            target,
            status,
            identity,
            limit,
        } => {
            let mut query = vec![format!("limit={limit}")];
            for (name, value) in [
                ("target", target),
                ("status", status),
                ("identity", identity),
            ] {
                if let Some(value) = value {
                    query.push(format!("{name}={}", encode(&value)));
                }
            }
            let page = client
                .get(&format!("/v1/operations?{}", query.join("&")))
                .await?;
            client.show(&page, |page| {
                let rows: Vec<Vec<String>> = page["operations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        vec![
                            field(o, "id"),
                            field(o, "target"),
                            field(o, "kind"),
                            field(o, "identity"),
                            field(o, "status"),
                            why(o),
                        ]
                    })
                    .collect();
                table(
                    &["ID", "TARGET", "KIND", "IDENTITY", "STATUS", "WHY"],
                    &rows,
                );
            })?;
        }
        OperationsCommand::Show { id } => {
            let record = client
                .get(&format!(
                    "/v1/operations/{}",
                    segment("an operation id", &id)?
                ))
                .await?;
            client.show(&record, |r| {
                for key in [
                    "id",
                    "target",
                    "kind",
                    "class",
                    "identity",
                    "status",
                    "attempts",
                    "submitted_by",
                    "decided_by",
                    "connector",
                    "created_at",
                    "updated_at",
                    "next_attempt_at",
                    "finished_at",
                ] {
                    say!("{:<16}{}", format!("{key}:"), field(r, key));
                }
                say!("{:<16}{}", "payload:", r["payload"]);
                if !r["result"].is_null() {
                    say!("{:<16}{}", "result:", r["result"]);
                }
                if !r["error"].is_null() {
                    say!(
                        "{:<16}{}: {}",
                        "error:",
                        field(&r["error"], "code"),
                        field(&r["error"], "message")
                    );
                }
                if !r["held"].is_null() {
                    say!("{:<16}{}", "held:", why(r));
                }
            })?;
        }
        OperationsCommand::Approve(d) => decide("approve", d).await?,
        OperationsCommand::Reject(d) => decide("reject", d).await?,
        OperationsCommand::Retry(d) => decide("retry", d).await?,
        OperationsCommand::Cancel(d) => decide("cancel", d).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Why an operation is where it is: its error, or what holds it.
fn why(operation: &Value) -> String {
    if !operation["error"].is_null() {
        return format!(
            "{}: {}",
            field(&operation["error"], "code"),
            field(&operation["error"], "message")
        );
    }
    match &operation["held"] {
        Value::Null => String::new(),
        held => match held["reason"].as_str() {
            Some(reason) => format!("held by {}: {reason}", field(held, "by")),
            None => format!("held by {}", field(held, "by")),
        },
    }
}

/// `value` as one path segment of the API, naming a `what` (an operation
/// id, a target): percent-encoded, so a `/` in it stays inside the
/// segment, and refused when it is empty, `.` or `..` (which URLs resolve
/// to another path, `%2E` included).
pub fn segment(what: &str, value: &str) -> anyhow::Result<String> {
    if matches!(value, "" | "." | "..") {
        anyhow::bail!("`{value}` is not {what}");
    }
    Ok(encode(value))
}

/// Percent-encodes a query or path value (RFC 3986 unreserved kept).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

//! `provisio token new`, `provisio audit verify` (on the store) and
//! `provisio audit list` (over a running host's API).

use super::operations::encode;
use super::output::say;
use super::remote::{Client, HostArgs, field, table};
use crate::config::{Config, Role, hash_token};
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use rand::RngCore;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a new random API token and the lines that grant it.
    New {
        /// Who will use it (recorded in the audit log).
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Provisioner,
    Operator,
}

pub fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::New { name, role } = command;
    let role = match role {
        RoleArg::Provisioner => Role::Provisioner,
        RoleArg::Operator => Role::Operator,
    };
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!(
        "pvo_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    say!("token (give it to {name}; it is not shown again):\n  {token}\n");
    say!("add to provisio.toml:\n");
    say!(
        "[[tokens]]\nname = {name:?}\nrole = \"{}\"\nsha256 = \"{}\"",
        role.as_str(),
        hash_token(&token)
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log's MAC chain; exit 1 when it is broken.
    Verify(VerifyArgs),
    /// A running host's audit rows, oldest first.
    List(ListArgs),
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    host: HostArgs,
    #[arg(long)]
    target: Option<String>,
    /// One operation's rows.
    #[arg(long)]
    operation: Option<String>,
    /// Rows after this sequence number.
    #[arg(long)]
    after: Option<i64>,
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long, short, default_value = "provisio.toml", env = "PROVISIO_CONFIG")]
    config: PathBuf,
}

pub async fn audit(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let args = match command {
        AuditCommand::Verify(args) => args,
        AuditCommand::List(args) => return list(args).await,
    };
    let config = Config::load(&args.config)?;
    // Read-only and without the store's lock, so it runs beside the host.
    let key = crate::keys::HostKey::load(&config.resolve(&config.server.key_file))?;
    let report =
        crate::store::SqliteStore::verify_file(&crate::server::store_path(&config), key).await?;
    if report.ok {
        say!("audit log verified: {} rows, chain intact", report.rows);
        Ok(ExitCode::SUCCESS)
    } else {
        say!(
            "audit log BROKEN after {} good rows: {}",
            report.rows,
            report.problem.unwrap_or_default()
        );
        Ok(ExitCode::FAILURE)
    }
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.host)?;
    let mut query = vec![format!("limit={}", args.limit)];
    if let Some(after) = args.after {
        query.push(format!("after={after}"));
    }
    for (name, value) in [("target", args.target), ("operation", args.operation)] {
        if let Some(value) = value {
            query.push(format!("{name}={}", encode(&value)));
        }
    }
    let page = client
        .get(&format!("/v1/audit?{}", query.join("&")))
        .await?;
    client.show(&page, |page| {
        let rows: Vec<Vec<String>> = page["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                vec![
                    field(e, "seq"),
                    field(e, "at"),
                    field(e, "actor"),
                    field(e, "target"),
                    field(e, "event"),
                    field(e, "operation_id"),
                    e["detail"].to_string(),
                ]
            })
            .collect();
        table(
            &[
                "SEQ",
                "AT",
                "ACTOR",
                "TARGET",
                "EVENT",
                "OPERATION",
                "DETAIL",
            ],
            &rows,
        );
    })?;
    Ok(ExitCode::SUCCESS)
}

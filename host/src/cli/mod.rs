//! The `provisio` command line: a thin layer over the library.

mod admin;
mod certify;
mod config;
mod connector;
mod demo;
mod grants;
mod identities;
mod inspect;
mod invoke;
mod operations;
mod output;
mod reconcile;
mod recording;
mod remote;
mod scaffold;
mod serve;
mod source;
mod targets;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "provisio",
    version,
    about = "Identity provisioning through sandboxed WebAssembly connectors"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Where compiled connectors are cached (default: the user's cache directory).
    #[arg(long, global = true, env = "PROVISIO_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Connectors: inspect a file; on a running host, upload, list,
    /// activate, roll back. (`plugin` is an older spelling.)
    #[command(alias = "plugin")]
    Connector(connector::ConnectorArgs),
    /// Call one operation of a connector, JSON in and out.
    Invoke(Box<invoke::InvokeArgs>),
    /// Run the host: the engine and the HTTP API, as the configuration says.
    Serve(serve::ServeArgs),
    /// Start a host on an embedded SQLite store with the bundled CSV
    /// connector and sample data, and walk joiners, a mover and a leaver
    /// through its HTTP API.
    Demo(demo::DemoArgs),
    /// Operations on a running host: list, show, approve, reject, retry,
    /// cancel (over its API, with `PROVISIO_TOKEN`).
    Operations(operations::OperationsArgs),
    /// Targets of a running host: list, show, test, lift a quarantine.
    Targets(targets::TargetsArgs),
    /// A running host's configuration: reload it.
    Config(config::ConfigArgs),
    /// Run an authoritative source now (joiners, movers, leavers), with
    /// progress and a summary.
    Sync(identities::SyncArgs),
    /// What would change for an identity, and with --explain why.
    Plan(identities::PlanArgs),
    /// Reconcile a target now: compare every account with what Provisio
    /// expects, with progress and a summary per situation.
    Reconcile(reconcile::ReconcileArgs),
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// The audit log: verify the store's chain, or list a running host's
    /// rows.
    Audit {
        #[command(subcommand)]
        command: admin::AuditCommand,
    },
}

/// Runs the command line; the binary's `main` is only this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    init_logging(cli.log_format, default_level);
    let cache_dir = cli.cache_dir.or_else(default_cache_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Connector(args) => connector::run(args, cache_dir).await,
            Command::Invoke(args) => invoke::run(*args, cache_dir).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Demo(args) => demo::run(args, cache_dir).await,
            Command::Operations(args) => operations::run(args).await,
            Command::Targets(args) => targets::run(args).await,
            Command::Config(args) => config::run(args).await,
            Command::Sync(args) => identities::sync(args).await,
            Command::Plan(args) => identities::plan(args).await,
            Command::Reconcile(args) => reconcile::run(args).await,
            Command::Token { command } => admin::token(command),
            Command::Audit { command } => admin::audit(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PROVISIO_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Colour only on a terminal, and not when `NO_COLOR` is set to anything
/// (<https://no-color.org>): escape codes in a redirected log are noise.
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("provisio").join("components"))
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(!colour(false, None));
        assert!(!colour(true, Some("1".into())));
        assert!(colour(true, Some("".into())), "an empty NO_COLOR is unset");
    }
}

//! `provisio serve --config FILE`.

use crate::config::Config;
use crate::server::Server;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, short, default_value = "provisio.toml", env = "PROVISIO_CONFIG")]
    config: PathBuf,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let server = Server::start(&config).await?;
    eprintln!(
        "provisio: serving {} target(s) on http://{} (store {})",
        config.targets.len(),
        server.addr,
        crate::server::store_path(&config).display()
    );
    shutdown_signal().await;
    eprintln!("provisio: stopping; running attempts finish first");
    server.stop().await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

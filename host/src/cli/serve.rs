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
    until_stopped(&server).await;
    eprintln!("provisio: stopping; running attempts finish first");
    server.stop().await?;
    Ok(ExitCode::SUCCESS)
}

/// Serves until SIGINT or SIGTERM; each SIGHUP reloads the configuration.
async fn until_stopped(server: &Server) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install a SIGTERM handler");
    let mut hangup = signal(SignalKind::hangup()).expect("install a SIGHUP handler");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hangup.recv() => match server.reloader.reload("signal").await {
                Ok(reloaded) if reloaded.changed.is_empty() => {
                    eprintln!("provisio: configuration reloaded; nothing changed");
                }
                Ok(reloaded) => eprintln!(
                    "provisio: configuration reloaded: {}",
                    reloaded.changed.join(", ")
                ),
                Err(e) => eprintln!("provisio: configuration NOT reloaded, keeping the one in force: {e}"),
            },
        }
    }
}

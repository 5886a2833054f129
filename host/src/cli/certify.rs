//! `provisio connector test FILE`: the conformance suite against a target,
//! with the grants `invoke` takes (a target of a configuration file, or
//! flags).

use super::grants::GrantArgs;
use super::invoke::connect;
use super::output::say;
use crate::conformance::{self, Format, Options};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct CertifyArgs {
    /// A connector `.wasm` file, or `bundled:<name>`.
    file: String,
    /// A host configuration (`provisio.toml`) whose target `--target` gives
    /// the connector its configuration, secrets and grants.
    #[arg(long, requires = "target", value_name = "FILE")]
    target_config: Option<PathBuf>,
    /// The target of `--target-config` to test against.
    #[arg(long, requires = "target_config", value_name = "NAME")]
    target: Option<String>,
    /// The object class to exercise (default: `account`, else the first
    /// class the schema lists).
    #[arg(long)]
    class: Option<String>,
    /// The prefix of every object the suite creates (default: `pvct-` and
    /// six random hex digits); it deletes them at the end.
    #[arg(long)]
    prefix: Option<String>,
    /// The connector documents that its sync cannot see deletes (as SCIM
    /// services keep no tombstones): skip `sync.reports-deletes`.
    #[arg(long)]
    sync_without_deletes: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    grants: GrantArgs,
}

pub async fn run(args: CertifyArgs, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let connector = connect(
        &args.file,
        args.target_config.as_deref(),
        args.target.as_deref(),
        &args.grants,
        cache_dir,
    )?;
    let options = Options {
        class: args.class,
        prefix: args.prefix,
        sync_without_deletes: args.sync_without_deletes,
    };
    let report = conformance::run(&connector, &options).await;
    say!("{}", report.render(args.format).trim_end());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

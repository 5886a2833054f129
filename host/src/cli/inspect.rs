//! `provisio connector inspect FILE`.

use super::output::say;
use super::source;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct InspectArgs {
    /// A connector `.wasm` file, or `bundled:<name>`.
    file: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InspectArgs, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let runtime = source::runtime(cache_dir)?;
    let source = source::Source::open(&args.file)?;
    let component = source.load(&runtime)?;
    let info = &component.info;
    if args.json {
        let out = json!({
            "name": info.name,
            "version": info.version,
            "description": info.description,
            "contract": format!("provisio:connector@{}", component.facts.contract),
            "capabilities": info.capabilities.names(),
            "imports": component.facts.imports,
            "exports": component.facts.exports,
            "sha256": component.hash,
            "size": source.size(),
        });
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        say!("name:         {}", info.name);
        say!("version:      {}", info.version);
        say!("description:  {}", info.description);
        say!(
            "contract:     provisio:connector@{}",
            component.facts.contract
        );
        say!("capabilities: {}", info.capabilities.names().join(", "));
        say!("sha256:       {}", component.hash);
        say!("size:         {} bytes", source.size());
        say!("imports:");
        for import in &component.facts.imports {
            say!("  {import}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

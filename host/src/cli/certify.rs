//! `provisio connector test FILE`: the conformance suite against a target,
//! with the grants `invoke` takes (a target of a configuration file, or
//! flags).

use super::grants::GrantArgs;
use super::invoke::{Prepared, prepare, start};
use super::output::say;
use super::recording::{RecordingArgs, Taping};
use crate::conformance::{self, Format, Misconfigured, Options};
use crate::runtime::Secret;
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
    /// The object class to exercise (default: every class the schema
    /// lists, one after the other). `--format json` prints that class's
    /// report; without `--class`, `{"connector", "version", "passed",
    /// "reports": [...]}` with a report per class.
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
    /// A configuration value (or secret) that must make `test` fail, for
    /// `test.fails-misconfigured` (repeatable: KEY=VALUE). Without it, a
    /// target with secrets is tried with every secret replaced.
    #[arg(long, value_name = "KEY=VALUE")]
    wrong_config: Vec<String>,
    /// A value the suite writes for attribute NAME on every object it
    /// creates, instead of making one up (repeatable: NAME=VALUE): for
    /// required attributes the target constrains (an enumeration, a DN or
    /// reference that must exist). Typed by the schema; used for the
    /// classes that list NAME.
    #[arg(long = "value", value_name = "NAME=VALUE", value_parser = name_value)]
    values: Vec<(String, String)>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    grants: GrantArgs,
    #[command(flatten)]
    recording: RecordingArgs,
}

pub async fn run(args: CertifyArgs, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let prepared = prepare(
        &args.file,
        args.target_config.as_deref(),
        args.target.as_deref(),
        &args.grants,
        &args.recording,
        cache_dir,
    )?;
    let connector = start(
        &prepared.component,
        prepared.settings.clone(),
        prepared.from_target,
    )?;
    let taping = prepared.taping.as_ref();
    let mut options = Options {
        class: args.class,
        prefix: args.prefix,
        sync_without_deletes: args.sync_without_deletes,
        misconfigured: None,
        values: args.values,
    };
    let mut wrong_config = args.wrong_config;
    if let Some(taping) = taping {
        recorded_options(taping, &mut options, &mut wrong_config, &connector)?;
    }
    options.misconfigured = misconfigured(&prepared, &wrong_config)?;
    let (rendered, passed) = match &options.class {
        Some(_) => {
            let report = conformance::run(&connector, &options).await;
            (report.render(args.format), report.passed())
        }
        None => {
            let every = conformance::run_every_class(&connector, &options).await;
            (every.render(args.format), every.passed)
        }
    };
    if let Some(taping) = taping {
        taping.finish();
    }
    say!("{}", rendered.trim_end());
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A recording keeps the suite's options (its prefix above all: every
/// name the suite makes starts with it) so that a replay asks exactly
/// what was recorded; a replay takes them from there unless told.
fn recorded_options(
    taping: &Taping,
    options: &mut Options,
    wrong_config: &mut Vec<String>,
    connector: &crate::runtime::Connector,
) -> anyhow::Result<()> {
    if !taping.tape.replaying() {
        let prefix = options.prefix.get_or_insert_with(conformance::fresh_prefix);
        let info = connector.info();
        return taping.write_manifest(serde_json::json!({
            "recorded_by": "provisio connector test",
            "connector": {"name": info.name, "version": info.version},
            "suite": {
                "prefix": prefix,
                "class": options.class,
                "sync_without_deletes": options.sync_without_deletes,
                "wrong_config": wrong_config,
                "values": options.values,
            },
        }));
    }
    let Some(manifest) = taping.manifest()? else {
        return Ok(());
    };
    let suite = &manifest["suite"];
    if options.prefix.is_none() {
        options.prefix = suite["prefix"].as_str().map(str::to_owned);
    }
    if options.class.is_none() {
        options.class = suite["class"].as_str().map(str::to_owned);
    }
    options.sync_without_deletes |= suite["sync_without_deletes"].as_bool().unwrap_or(false);
    if options.values.is_empty() {
        options.values = serde_json::from_value(suite["values"].clone()).unwrap_or_default();
    }
    if wrong_config.is_empty() {
        *wrong_config = suite["wrong_config"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    Ok(())
}

/// `NAME=VALUE`, split at the first `=`.
fn name_value(pair: &str) -> Result<(String, String), String> {
    match pair.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{pair:?}: expected NAME=VALUE")),
    }
}

/// The connector again, with `wrong` (`KEY=VALUE`, a configuration value
/// or a secret) or, without it, with every secret replaced; None when
/// there is nothing to spoil.
fn misconfigured(prepared: &Prepared, wrong: &[String]) -> anyhow::Result<Option<Misconfigured>> {
    let mut settings = prepared.settings.clone();
    let config = &mut settings.grants.config;
    let change = if !wrong.is_empty() {
        for pair in wrong {
            let Some((key, value)) = pair.split_once('=') else {
                anyhow::bail!("--wrong-config {pair:?}: expected KEY=VALUE");
            };
            if config.secrets.contains_key(key) {
                config.secrets.insert(key.to_owned(), Secret::new(value));
            } else {
                config.values.insert(key.to_owned(), value.to_owned());
            }
        }
        let keys: Vec<&str> = wrong
            .iter()
            .filter_map(|p| p.split_once('='))
            .map(|(k, _)| k)
            .collect();
        format!("{} set to a wrong value", keys.join(", "))
    } else if !config.secrets.is_empty() {
        let keys: Vec<String> = config.secrets.keys().cloned().collect();
        for (key, secret) in config.secrets.iter_mut() {
            *secret = Secret::new(format!("pvct-wrong-{key}"));
        }
        format!("secret(s) {} replaced", keys.join(", "))
    } else {
        return Ok(None);
    };
    let connector = start(&prepared.component, settings, prepared.from_target)?;
    Ok(Some(Misconfigured { connector, change }))
}

//! `provisio invoke FILE [grants] OPERATION ARGS`: one call, JSON in and out.

use super::grants::GrantArgs;
use super::output::say;
use super::recording::{RecordingArgs, Taping};
use super::source;
use crate::model::{Attribute, AttributeChange, PageRequest, SearchRequest, SyncRequest};
use crate::runtime::CallError;
use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct InvokeArgs {
    /// A connector `.wasm` file, or `bundled:<name>`.
    file: String,
    /// A host configuration (`provisio.toml`): the connector runs with the
    /// configuration, secrets and grants (HTTP allow-list, SQL databases,
    /// LDAP URLs and bind, directory) of its target `--target`; `--config`
    /// values are added over the target's.
    #[arg(long, requires = "target", value_name = "FILE")]
    target_config: Option<PathBuf>,
    /// The target of `--target-config` whose grants the connector gets.
    #[arg(long, requires = "target_config", value_name = "NAME")]
    target: Option<String>,
    #[command(flatten)]
    grants: GrantArgs,
    #[command(flatten)]
    recording: RecordingArgs,
    #[command(subcommand)]
    operation: Operation,
}

#[derive(Subcommand)]
enum Operation {
    /// The connector's name, version and capabilities.
    Info,
    /// The classes and attributes of the target.
    Schema,
    /// Check the configuration and the target.
    Test,
    /// Create an object from a JSON object of attributes (`-` reads stdin).
    Create { class: String, attributes: String },
    /// Read one object.
    Get {
        class: String,
        uid: String,
        /// Attributes to return (comma-separated); default: all.
        #[arg(long, value_delimiter = ',')]
        attributes: Vec<String>,
    },
    /// Change an object with a JSON array of changes
    /// (`[{"op": "replace", "name": "mail", "values": "x"}]`; `-` reads stdin).
    Update {
        class: String,
        uid: String,
        changes: String,
    },
    /// Delete an object.
    Delete { class: String, uid: String },
    /// Search with a SCIM filter, one page or all of them.
    Search {
        class: String,
        #[arg(long)]
        filter: Option<String>,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        #[arg(long)]
        cookie: Option<String>,
        /// Follow cookies and print every page's objects.
        #[arg(long, conflicts_with = "cookie")]
        all: bool,
        #[arg(long, value_delimiter = ',')]
        attributes: Vec<String>,
    },
    /// Changes since a token (none: from the beginning).
    Sync {
        class: String,
        #[arg(long)]
        token: Option<String>,
        #[arg(long, default_value_t = 500)]
        max: u32,
    },
    /// The token that marks now.
    LatestSyncToken { class: String },
    /// How many objects match (connectors of contract 0.2.0 that count).
    Count {
        class: String,
        #[arg(long)]
        filter: Option<String>,
    },
}

/// What target `target` of the configuration `file` grants, with the
/// `--config` values of `grants` over its own.
pub(super) fn target_settings(
    file: &std::path::Path,
    target: &str,
    grants: &GrantArgs,
) -> anyhow::Result<crate::runtime::TargetSettings> {
    if grants.dir.is_some()
        || !grants.allow_http.is_empty()
        || !grants.sql.is_empty()
        || !grants.ldap.is_empty()
    {
        anyhow::bail!(
            "--dir, --allow-http, --sql and --ldap do not go with --target-config: the target's grants apply"
        );
    }
    let config = crate::config::Config::load_targets(file)?;
    let Some(target_config) = config.targets.get(target) else {
        let known: Vec<&str> = config.targets.keys().map(String::as_str).collect();
        anyhow::bail!(
            "{} has no target `{target}`; its targets: {}",
            file.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let mut settings = target_config
        .settings(target, &config.base_dir)
        .map_err(|e| anyhow::anyhow!("{}: targets.{target}.{e}", file.display()))?;
    let extra = grants.settings(target)?;
    settings
        .grants
        .config
        .values
        .extend(extra.grants.config.values);
    settings
        .grants
        .config
        .secrets
        .extend(extra.grants.config.secrets);
    Ok(settings)
}

pub async fn run(args: InvokeArgs, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let (connector, taping) = connect(
        &args.file,
        args.target_config.as_deref(),
        args.target.as_deref(),
        &args.grants,
        &args.recording,
        cache_dir,
    )?;
    let component = std::sync::Arc::clone(connector.component());
    let result = match args.operation {
        Operation::Info => {
            return print(&json!({
                "info": component.info,
                "contract": format!("provisio:connector@{}", component.facts.contract),
                "imports": component.facts.imports,
            }));
        }
        Operation::Schema => connector.schema().await.map(to_json),
        Operation::Test => connector.test().await.map(|()| json!({"ok": true})),
        Operation::Create { class, attributes } => {
            let attributes = parse_attributes(&read_arg(&attributes)?)?;
            connector.create(class, attributes).await.map(to_json)
        }
        Operation::Get {
            class,
            uid,
            attributes,
        } => connector.get(class, uid, attributes).await.map(to_json),
        Operation::Update {
            class,
            uid,
            changes,
        } => {
            let changes: Vec<AttributeChange> = serde_json::from_str(&read_arg(&changes)?)
                .context("changes must be a JSON array of {\"op\", \"name\", \"values\"}")?;
            connector.update(class, uid, changes).await.map(to_json)
        }
        Operation::Delete { class, uid } => connector
            .delete(class, uid)
            .await
            .map(|()| json!({"deleted": true})),
        Operation::Search {
            class,
            filter,
            page_size,
            cookie,
            all,
            attributes,
        } => {
            let mut request = SearchRequest {
                class,
                filter,
                page: PageRequest {
                    size: page_size,
                    cookie,
                },
                attributes,
            };
            if all {
                search_all(&connector, &mut request).await
            } else {
                connector.search(request).await.map(to_json)
            }
        }
        Operation::Sync { class, token, max } => connector
            .sync(SyncRequest {
                class,
                token,
                max_deltas: max,
            })
            .await
            .map(to_json),
        Operation::LatestSyncToken { class } => connector
            .latest_sync_token(class)
            .await
            .map(|token| json!({"token": token})),
        Operation::Count { class, filter } => connector
            .count(crate::model::CountRequest { class, filter })
            .await
            .map(|count| json!({"count": count})),
    };
    if let Some(taping) = &taping {
        taping.finish();
    }
    match result {
        Ok(value) => print(&value),
        Err(error) => {
            eprintln!("error: {error}");
            print(&error_json(&error))?;
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Starts `component` with `settings`; a refusal for a capability nobody
/// granted says how to grant it.
/// FILE started with the target of a configuration file, or with the
/// grant flags (as `invoke` and `connector test` take them).
/// With `recording`, its exchanges are recorded or replayed: the
/// [`Taping`] must live as long as the connector.
pub(super) fn connect(
    file: &str,
    target_config: Option<&std::path::Path>,
    target: Option<&str>,
    grants: &GrantArgs,
    recording: &RecordingArgs,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<(crate::runtime::Connector, Option<Taping>)> {
    let prepared = prepare(file, target_config, target, grants, recording, cache_dir)?;
    let connector = start(&prepared.component, prepared.settings, prepared.from_target)?;
    Ok((connector, prepared.taping))
}

/// A connector loaded with the settings to start it with, not started.
pub(super) struct Prepared {
    pub component: std::sync::Arc<crate::runtime::LoadedComponent>,
    pub settings: crate::runtime::TargetSettings,
    pub taping: Option<Taping>,
    /// The settings are a target's (not the grant flags').
    pub from_target: bool,
}

pub(super) fn prepare(
    file: &str,
    target_config: Option<&std::path::Path>,
    target: Option<&str>,
    grants: &GrantArgs,
    recording: &RecordingArgs,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<Prepared> {
    let runtime = source::runtime(cache_dir)?;
    let component = source::load(&runtime, file)?;
    let mut settings = match (target_config, target) {
        (Some(config), Some(target)) => target_settings(config, target, grants)?,
        _ => grants.settings("cli")?,
    };
    let taping = recording.apply(&mut settings)?;
    Ok(Prepared {
        component,
        settings,
        taping,
        from_target: target_config.is_some(),
    })
}

pub(super) fn start(
    component: &std::sync::Arc<crate::runtime::LoadedComponent>,
    settings: crate::runtime::TargetSettings,
    from_target: bool,
) -> anyhow::Result<crate::runtime::Connector> {
    component.start(settings).map_err(|e| {
        let hint = if from_target {
            ""
        } else {
            "; grant it with --allow-http ORIGIN, --sql NAME=URL, --ldap URL or --dir DIR, or run it with a target's grants: --target-config provisio.toml --target NAME"
        };
        anyhow::anyhow!("{e}{hint}")
    })
}

async fn search_all(
    connector: &crate::runtime::Connector,
    request: &mut SearchRequest,
) -> Result<serde_json::Value, CallError> {
    let mut objects = Vec::new();
    loop {
        let page = connector.search(request.clone()).await?;
        objects.extend(page.objects);
        match page.cookie {
            Some(cookie) => request.page.cookie = Some(cookie),
            None => return Ok(json!({"objects": objects})),
        }
    }
}

fn parse_attributes(text: &str) -> anyhow::Result<Vec<Attribute>> {
    #[derive(serde::Deserialize)]
    struct Attributes(#[serde(with = "crate::model::json_attributes")] Vec<Attribute>);
    let Attributes(attributes) = serde_json::from_str(text)
        .context("attributes must be a JSON object of names to values")?;
    Ok(attributes)
}

fn read_arg(arg: &str) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read stdin")?;
    Ok(text)
}

fn to_json<T: Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).expect("model types serialise")
}

fn error_json(error: &CallError) -> serde_json::Value {
    json!({"error": {
        "connector": error.connector,
        "target": error.target,
        "operation": error.operation.as_str(),
        "message": error.kind.to_string(),
        "connector_error": error.connector_error(),
        "retryable": error.is_retryable(),
    }})
}

fn print(value: &serde_json::Value) -> anyhow::Result<ExitCode> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

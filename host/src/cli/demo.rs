//! `provisio demo`: joiners, a mover and a leaver provisioned into the
//! bundled CSV connector through the real runtime, narrated step by step.

use super::source;
use crate::bundled;
use crate::model::{
    Attribute, AttributeChange, ConnectorObject, PageRequest, SearchRequest, SyncRequest, Value,
};
use crate::runtime::{CallError, Connector, DirectoryGrant, TargetSettings};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Args)]
pub struct DemoArgs {
    /// Directory for the CSV files (default: a new temporary directory, kept
    /// afterwards so you can look at the files).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const ACCOUNT_COLUMNS: &str = "id,userName,givenName,familyName,mail,department,title,active";
const GROUP_COLUMNS: &str = "id,name,description,members";

/// (id, userName, given, family, department, title)
const JOINERS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "1001",
        "ada.lovelace",
        "Ada",
        "Lovelace",
        "Engineering",
        "Analyst",
    ),
    (
        "1002",
        "grace.hopper",
        "Grace",
        "Hopper",
        "Engineering",
        "Rear Admiral",
    ),
    (
        "1003",
        "alan.turing",
        "Alan",
        "Turing",
        "Research",
        "Fellow",
    ),
    (
        "1004",
        "zoë.ødegård",
        "Zoë",
        "Ødegård",
        "Sales",
        "Account \"Key\" Manager",
    ),
];

pub async fn run(args: DemoArgs, cache_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir
        }
        None => tempfile::Builder::new()
            .prefix("provisio-demo-")
            .tempdir()
            .context("cannot create a temporary directory")?
            .keep(),
    };

    println!(
        "Provisio demo: the bundled CSV connector, sandboxed, on {}",
        dir.display()
    );
    let runtime = source::runtime(cache_dir)?;
    let started = Instant::now();
    let component = bundled::CSV
        .load(&runtime)
        .context("cannot load the bundled CSV connector")?;
    println!(
        "  loaded {} (contract provisio:connector@{}, {:?}) in {} ms",
        component.label(),
        component.facts.contract,
        component.source,
        started.elapsed().as_millis()
    );

    let mut settings = TargetSettings::new("demo-hr");
    for (key, value) in [
        ("account.key", "id"),
        ("account.name", "userName"),
        ("account.enable", "active"),
        ("account.columns", ACCOUNT_COLUMNS),
        ("group.key", "id"),
        ("group.name", "name"),
        ("group.references", "members"),
        ("group.columns", GROUP_COLUMNS),
    ] {
        settings.config.values.insert(key.into(), value.into());
    }
    settings.directory = Some(DirectoryGrant::read_write(&dir));
    let connector = component.start(settings)?;
    let mut failures = 0;
    let mut step = |title: &str, result: Result<String, CallError>| match result {
        Ok(detail) => println!("  {title:<52} ok  {detail}"),
        Err(e) => {
            failures += 1;
            println!("  {title:<52} FAILED  {e}");
        }
    };

    println!("setup");
    step(
        "test the target",
        connector.test().await.map(|()| String::new()),
    );
    for (id, name, description) in [
        ("engineering", "Engineering", "Everyone who builds"),
        ("vpn", "VPN users", "Remote access"),
    ] {
        let attributes = vec![
            text("id", id),
            text("__name__", name),
            text("description", description),
        ];
        step(
            &format!("create group {name}"),
            created(&connector, "group", attributes).await,
        );
    }

    println!("joiners");
    for (id, user, given, family, department, title) in JOINERS {
        let attributes = vec![
            text("id", id),
            text("__name__", user),
            text("givenName", given),
            text("familyName", family),
            text("mail", &format!("{user}@example.com")),
            text("department", department),
            text("title", title),
            Attribute::single("__enable__", Value::Boolean(true)),
        ];
        step(
            &format!("create account {user}"),
            created(&connector, "account", attributes).await,
        );
    }
    for (group, member) in [
        ("engineering", "1001"),
        ("engineering", "1002"),
        ("vpn", "1003"),
    ] {
        let change = AttributeChange::AddValues(Attribute::single(
            "members",
            Value::Reference(member.into()),
        ));
        step(
            &format!("add {member} to group {group}"),
            connector
                .update("group", group, vec![change])
                .await
                .map(|g| members(&g)),
        );
    }

    println!("mover: grace.hopper moves from Engineering to Research");
    let moves = vec![
        AttributeChange::Replace(text("department", "Research")),
        AttributeChange::Replace(text("title", "Director of Research")),
    ];
    step(
        "update account 1002",
        connector
            .update("account", "1002", moves)
            .await
            .map(|a| summary(&a)),
    );
    step(
        "remove 1002 from engineering, add to vpn",
        async {
            let remove = AttributeChange::RemoveValues(Attribute::single(
                "members",
                Value::Reference("1002".into()),
            ));
            let add = AttributeChange::AddValues(Attribute::single(
                "members",
                Value::Reference("1002".into()),
            ));
            connector
                .update("group", "engineering", vec![remove])
                .await?;
            connector
                .update("group", "vpn", vec![add])
                .await
                .map(|g| members(&g))
        }
        .await,
    );

    println!("leaver: alan.turing leaves");
    let disable = AttributeChange::Replace(Attribute::single("__enable__", Value::Boolean(false)));
    step(
        "disable account 1003",
        connector
            .update("account", "1003", vec![disable])
            .await
            .map(|a| summary(&a)),
    );
    let remove = AttributeChange::RemoveValues(Attribute::single(
        "members",
        Value::Reference("1003".into()),
    ));
    step(
        "remove 1003 from vpn",
        connector
            .update("group", "vpn", vec![remove])
            .await
            .map(|g| members(&g)),
    );

    println!("reading back");
    let filter = r#"department eq "Research" and enable eq true"#;
    let search = SearchRequest {
        class: "account".into(),
        filter: Some(filter.into()),
        page: PageRequest::default(),
        attributes: vec![],
    };
    step(
        &format!("search {filter}"),
        connector.search(search).await.map(|page| {
            let names: Vec<&str> = page.objects.iter().map(|o| o.name.as_str()).collect();
            format!("-> {}", names.join(", "))
        }),
    );
    let sync = SyncRequest {
        class: "account".into(),
        token: None,
        max_deltas: 100,
    };
    step(
        "sync accounts from the beginning",
        connector
            .sync(sync)
            .await
            .map(|b| format!("-> {} changes, token {}", b.deltas.len(), b.token)),
    );

    for file in ["accounts.csv", "groups.csv"] {
        let path = dir.join(file);
        println!("{}:", path.display());
        let content = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for line in content.lines() {
            println!("  {line}");
        }
    }
    let stats = connector.stats();
    println!(
        "done: {} failed steps; {} connector instance(s) created, {} discarded",
        failures, stats.instantiated, stats.discarded
    );
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn text(name: &str, value: &str) -> Attribute {
    Attribute::single(name, Value::Text(value.into()))
}

async fn created(
    connector: &Connector,
    class: &str,
    attributes: Vec<Attribute>,
) -> Result<String, CallError> {
    connector
        .create(class, attributes)
        .await
        .map(|o| format!("uid={}", o.uid))
}

fn summary(object: &ConnectorObject) -> String {
    let get = |name: &str| {
        object
            .attribute(name)
            .and_then(|a| a.values.first())
            .map(|v| match v {
                Value::Text(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default()
    };
    format!(
        "{} department={} title={} enabled={}",
        object.name,
        get("department"),
        get("title"),
        object
            .attribute("__enable__")
            .and_then(|a| a.values.first())
            .map_or("?".into(), |v| format!("{}", v == &Value::Boolean(true)))
    )
}

fn members(group: &ConnectorObject) -> String {
    let members: Vec<String> = group
        .attribute("members")
        .map(|a| {
            a.values
                .iter()
                .filter_map(|v| match v {
                    Value::Reference(r) | Value::Text(r) => Some(r.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{} members=[{}]", group.name, members.join(", "))
}

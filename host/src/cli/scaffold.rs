//! `provisio connector new NAME`: an out-of-tree connector crate that
//! builds with `cargo build --release`, runs under `provisio invoke` and
//! passes `provisio connector test` as written, with TODOs where the
//! author's system goes.

use super::output::say;
use anyhow::{Context, bail};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct NewArgs {
    /// The connector's name: lowercase letters, digits and `-`, starting
    /// with a letter (`acme-hr`). Targets and `info` use it.
    name: String,
    /// Where to write the crate (default: `./NAME`); it must not exist or
    /// be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Depend on the SDK at this path (default: the checkout this
    /// `provisio` was built from, when it is there; else `--sdk-git`).
    #[arg(long, value_name = "DIR", conflicts_with = "sdk_git")]
    sdk_path: Option<PathBuf>,
    /// Depend on the SDK from this git repository.
    #[arg(long, value_name = "URL")]
    sdk_git: Option<String>,
}

/// The SDK release line this host's contract goes with.
const SDK_VERSION: &str = "0.1";

const TOOLCHAIN: &str = include_str!("../../../rust-toolchain.toml");

const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.template")),
    (
        ".cargo/config.toml",
        include_str!("scaffold/config.toml.template"),
    ),
    (
        "rust-toolchain.toml",
        include_str!("scaffold/rust-toolchain.toml.template"),
    ),
    ("src/lib.rs", include_str!("scaffold/lib.rs.template")),
    (
        "provisio.toml",
        include_str!("scaffold/provisio.toml.template"),
    ),
    ("README.md", include_str!("scaffold/README.md.template")),
    (
        ".gitignore",
        "/target\n/data\n/provisio.db*\n/provisio.key\n",
    ),
];

pub fn run(args: NewArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!("{} exists and is not empty", dir.display());
    }
    let sdk = sdk_dependency(&args)?;
    let values = [
        ("name", args.name.clone()),
        ("crate", args.name.clone()),
        ("file", args.name.replace('-', "_")),
        ("type", type_name(&args.name)),
        ("sdk", sdk),
        ("toolchain", toolchain()),
    ];
    for (path, template) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, render(template, &values))
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    say!("wrote {} (connector {})", dir.display(), args.name);
    say!("next, in {}:", dir.display());
    say!("  cargo build --release");
    say!(
        "  provisio connector test target/wasm32-wasip2/release/{}.wasm --target-config provisio.toml --target {}",
        args.name.replace('-', "_"),
        args.name
    );
    Ok(())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "connector name {name:?}: use lowercase letters, digits and `-`, starting with a letter and not ending with `-` (at most 48 characters)"
        );
    }
    Ok(())
}

/// `acme-hr` → `AcmeHrConnector`.
fn type_name(name: &str) -> String {
    let mut out: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    out.push_str("Connector");
    out
}

fn sdk_dependency(args: &NewArgs) -> anyhow::Result<String> {
    if let Some(url) = &args.sdk_git {
        return Ok(git_dependency(url));
    }
    let path = match &args.sdk_path {
        Some(path) => {
            if !path.join("Cargo.toml").is_file() {
                bail!("--sdk-path {}: no Cargo.toml there", path.display());
            }
            path.clone()
        }
        None => {
            let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
            if !built_from.join("Cargo.toml").is_file() {
                return Ok(git_dependency(env!("CARGO_PKG_REPOSITORY")));
            }
            built_from
        }
    };
    let path = path
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    Ok(format!(
        "provisio-sdk = {{ path = {}, version = \"{SDK_VERSION}\" }}",
        toml_string(&path.display().to_string())
    ))
}

fn git_dependency(url: &str) -> String {
    format!(
        "provisio-sdk = {{ git = {}, version = \"{SDK_VERSION}\" }}",
        toml_string(url)
    )
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The channel this host was built with, which the SDK needs at least.
fn toolchain() -> String {
    TOOLCHAIN
        .lines()
        .find_map(|l| l.trim().strip_prefix("channel"))
        .and_then(|rest| rest.split('"').nth(1))
        .unwrap_or("stable")
        .to_owned()
}

fn render(template: &str, values: &[(&str, String)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}"), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_turned_into_types() {
        assert!(check_name("acme-hr").is_ok());
        for bad in ["", "Acme", "1acme", "acme-", "acme_hr", "acme hr"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(type_name("acme-hr"), "AcmeHrConnector");
        assert_eq!(toolchain(), "1.95.0");
    }

    #[test]
    fn every_placeholder_is_filled() {
        let values = [
            ("name", "x".to_owned()),
            ("crate", "x".to_owned()),
            ("file", "x".to_owned()),
            ("type", "X".to_owned()),
            ("sdk", "s".to_owned()),
            ("toolchain", "t".to_owned()),
        ];
        for (path, template) in FILES {
            let text = render(template, &values);
            assert!(!text.contains("{{"), "{path}: {text}");
        }
    }
}

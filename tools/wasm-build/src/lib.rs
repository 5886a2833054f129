//! Builds connector crates of this workspace to `wasm32-wasip2` components
//! from a `build.rs`, so that `cargo build`, `cargo test` and `cargo run`
//! never need a separate step (the approach of wasmtime's test-programs).
//!
//! The nested cargo uses its own target directory (`target/wasm`), so it
//! never waits on the outer build's lock, and inherits the outer jobserver,
//! so the machine is not oversubscribed. Cargo only re-runs the calling
//! build script when a watched source changes, so plugins are built once per
//! change, not once per test run.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every connector is built for.
pub const TARGET: &str = "wasm32-wasip2";
/// The cargo profile (defined in the workspace `Cargo.toml`) used for connectors.
pub const PROFILE: &str = "wasm-plugin";

/// One crate to build, and where its sources live (watched for changes).
pub struct Package<'a> {
    /// The cargo package name, e.g. `provisio-connector-csv`.
    pub name: &'a str,
    /// Its directory, relative to the workspace root.
    pub dir: &'a str,
}

/// A built component.
pub struct Artifact {
    pub package: String,
    pub path: PathBuf,
}

/// Builds `packages` for [`TARGET`] and returns the `.wasm` of each, in order.
///
/// `workspace_root` is the directory holding the workspace `Cargo.toml`.
/// Panics with a message saying what to do when the build cannot run: a build
/// script has no better way to fail.
pub fn build(workspace_root: &Path, packages: &[Package<'_>]) -> Vec<Artifact> {
    for watched in ["Cargo.toml", "Cargo.lock", "wit", "sdk"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(watched).display()
        );
    }
    for package in packages {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(package.dir).display()
        );
    }
    ensure_target_installed();

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root.join("target"))
        .join("wasm");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root)
        .args(["build", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package.name]);
    }
    // What the outer cargo set for its own compilation must not leak into the
    // nested one: flags for the host target, clippy's driver, `cargo fix`.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_DIR",
        "__CARGO_FIX_PLZ",
        "__CARGO_FIX_DIAGNOSTICS_SERVER",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the connectors: {e}"));
    assert!(
        status.success(),
        "building the connectors for {TARGET} failed (see the cargo output above)"
    );

    packages
        .iter()
        .map(|package| {
            let file = format!("{}.wasm", package.name.replace('-', "_"));
            let path = target_dir.join(TARGET).join(PROFILE).join(file);
            assert!(
                path.is_file(),
                "cargo built {} but {} is missing",
                package.name,
                path.display()
            );
            Artifact {
                package: package.name.to_owned(),
                path,
            }
        })
        .collect()
}

/// The toolchain file asks for the target, but rustup does not install it on
/// its own when `RUSTUP_AUTO_INSTALL=0`; install it rather than fail late
/// with "can't find crate for `core`".
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if libdir.as_deref().is_some_and(Path::is_dir) {
        return;
    }
    println!(
        "cargo:warning=installing the {TARGET} target with rustup (declared in rust-toolchain.toml)"
    );
    let installed = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "the {TARGET} target is missing and `rustup target add {TARGET}` failed: install it and build again"
    );
}

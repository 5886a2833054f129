//! Builds the connectors bundled into the `provisio` binary (see
//! `src/bundled.rs`) for wasm32-wasip2.

use provisio_wasm_build::{Package, build};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Every connector under `plugins/` that ships inside the binary.
const BUNDLED: &[Package<'static>] = &[
    Package {
        name: "provisio-connector-csv",
        dir: "plugins/csv",
    },
    Package {
        name: "provisio-connector-sql",
        dir: "plugins/sql",
    },
    Package {
        name: "provisio-connector-scim",
        dir: "plugins/scim",
    },
    Package {
        name: "provisio-connector-ldap",
        dir: "plugins/ldap",
    },
    Package {
        name: "provisio-connector-ad",
        dir: "plugins/ad",
    },
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir)
        .parent()
        .expect("host/ lives in the workspace");
    for artifact in build(root, BUNDLED) {
        let name = artifact
            .package
            .trim_start_matches("provisio-connector-")
            .to_uppercase()
            .replace('-', "_");
        println!(
            "cargo:rustc-env=PROVISIO_BUNDLED_{name}={}",
            artifact.path.display()
        );
        let bytes = std::fs::read(&artifact.path).expect("read the built connector");
        let sha256 = hex::encode(Sha256::digest(&bytes));
        println!("cargo:rustc-env=PROVISIO_BUNDLED_{name}_SHA256={sha256}");
    }
}

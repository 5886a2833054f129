//! Builds the test fixture components for wasm32-wasip2.

use provisio_wasm_build::{Package, build};
use std::path::Path;

const FIXTURES: &[Package<'static>] = &[
    Package {
        name: "fixture-sandbox",
        dir: "tests/fixtures/sandbox",
    },
    Package {
        name: "fixture-flaky",
        dir: "tests/fixtures/flaky",
    },
    Package {
        name: "fixture-other-world",
        dir: "tests/fixtures/other-world",
    },
    Package {
        name: "fixture-future-contract",
        dir: "tests/fixtures/future-contract",
    },
    Package {
        name: "fixture-incomplete-contract",
        dir: "tests/fixtures/incomplete-contract",
    },
    Package {
        name: "fixture-unknown-import",
        dir: "tests/fixtures/unknown-import",
    },
    Package {
        name: "fixture-contract-0-1",
        dir: "tests/fixtures/contract-0-1",
    },
    Package {
        name: "fixture-contract-0-2",
        dir: "tests/fixtures/contract-0-2",
    },
    Package {
        name: "fixture-csv-next",
        dir: "tests/fixtures/csv-next",
    },
    Package {
        name: "fixture-ldap-next",
        dir: "tests/fixtures/ldap-next",
    },
    Package {
        name: "fixture-csv-test-fails",
        dir: "tests/fixtures/csv-test-fails",
    },
    Package {
        name: "fixture-csv-wants-ldap",
        dir: "tests/fixtures/csv-wants-ldap",
    },
    Package {
        name: "fixture-sql-0-1-0",
        dir: "tests/fixtures/sql-0-1-0",
    },
    Package {
        name: "fixture-hostile",
        dir: "tests/fixtures/hostile",
    },
    Package {
        name: "fixture-hostile-sql",
        dir: "tests/fixtures/hostile-sql",
    },
    Package {
        name: "fixture-slow-info",
        dir: "tests/fixtures/slow-info",
    },
    Package {
        name: "fixture-broken",
        dir: "tests/fixtures/broken",
    },
    Package {
        name: "fixture-walkthrough-rest",
        dir: "tests/fixtures/walkthrough-rest",
    },
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir)
        .parent()
        .expect("tests/ lives in the workspace");
    // The *-next fixtures are these connectors' sources under another version.
    // fixture-contract-0-1 is fixture-contract-0-2's source under a feature.
    for plugin in ["plugins/csv", "plugins/ldap", "tests/fixtures/contract-0-2"] {
        println!("cargo:rerun-if-changed={}", root.join(plugin).display());
    }
    for artifact in build(root, FIXTURES) {
        let name = artifact.package.to_uppercase().replace('-', "_");
        println!("cargo:rustc-env={name}={}", artifact.path.display());
    }
}

//! Helpers shared by the end-to-end tests and the benchmarks.

pub mod host;
pub mod load;
pub mod logs;
pub mod postgres;
pub mod samba;
pub mod scim;
pub mod scimmy;
pub mod slapd;

use provisio_host::runtime::{Connector, DirectoryGrant, Runtime, RuntimeConfig, TargetSettings};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The fixture components, built by `build.rs`.
pub mod fixtures {
    pub const SANDBOX: &str = env!("FIXTURE_SANDBOX");
    pub const FLAKY: &str = env!("FIXTURE_FLAKY");
    /// `broken@1.0.0`: keeps the contract but for the bug its `bug` key
    /// names (the conformance suite's own test).
    pub const BROKEN: &str = env!("FIXTURE_BROKEN");
    pub const OTHER_WORLD: &str = env!("FIXTURE_OTHER_WORLD");
    pub const FUTURE_CONTRACT: &str = env!("FIXTURE_FUTURE_CONTRACT");
    pub const INCOMPLETE_CONTRACT: &str = env!("FIXTURE_INCOMPLETE_CONTRACT");
    pub const UNKNOWN_IMPORT: &str = env!("FIXTURE_UNKNOWN_IMPORT");
    /// `tally@1.0.0`, built against contract 0.1.0.
    pub const CONTRACT_0_1: &str = env!("FIXTURE_CONTRACT_0_1");
    /// `tally@2.0.0`, built against contract 0.2.0 (with `count`).
    pub const CONTRACT_0_2: &str = env!("FIXTURE_CONTRACT_0_2");
    /// The CSV connector declaring 0.9.0.
    pub const CSV_NEXT: &str = env!("FIXTURE_CSV_NEXT");
    /// The LDAP connector declaring 0.9.0.
    pub const LDAP_NEXT: &str = env!("FIXTURE_LDAP_NEXT");
    /// `csv@1.0.0` whose `test` fails.
    pub const CSV_TEST_FAILS: &str = env!("FIXTURE_CSV_TEST_FAILS");
    /// `csv@1.1.0` importing the LDAP capability.
    pub const CSV_WANTS_LDAP: &str = env!("FIXTURE_CSV_WANTS_LDAP");
    /// `ledger@1.0.0`, built against `provisio:sql@0.1.0` (before
    /// `query-values`).
    pub const SQL_0_1_0: &str = env!("FIXTURE_SQL_0_1_0");
    /// `hostile`: leaks its secret, floods the log (issue 16).
    pub const HOSTILE: &str = env!("FIXTURE_HOSTILE");
    /// `hostile-sql`: runs the statement it is given (issue 16).
    pub const HOSTILE_SQL: &str = env!("FIXTURE_HOSTILE_SQL");
    /// `people-api@0.1.0`: the REST connector docs/walkthrough-rest.md
    /// builds, for `tests/fixtures/walkthrough-rest/service.py`.
    pub const WALKTHROUGH_REST: &str = env!("FIXTURE_WALKTHROUGH_REST");
    /// `slow-info`: its `info` sleeps in a host call (issue 16).
    pub const SLOW_INFO: &str = env!("FIXTURE_SLOW_INFO");

    pub fn bytes(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
    }
}

/// One runtime for the whole test binary, as in production: one engine per
/// process, compiled components shared.
pub fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            // Tests need few instances; a profiler (valgrind) cannot reserve
            // the address space of many.
            let max_instances = std::env::var("PROVISIO_TEST_INSTANCES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(64);
            let engine = provisio_host::runtime::EngineSettings {
                max_instances,
                ..Default::default()
            };
            Runtime::new(RuntimeConfig {
                engine,
                cache_dir: None,
            })
            .expect("the runtime starts")
        })
        .clone()
}

/// The bundled CSV connector started on `dir` with `config`.
pub fn csv_target(dir: &Path, config: &[(&str, &str)]) -> Connector {
    let mut settings = TargetSettings::new("csv-test");
    settings.grants.directory = Some(DirectoryGrant::read_write(dir));
    for (k, v) in config {
        settings
            .grants
            .config
            .values
            .insert((*k).into(), (*v).into());
    }
    start(provisio_host::bundled::CSV.bytes, settings)
}

/// Loads `bytes` and starts it with `settings`.
pub fn start(bytes: &[u8], settings: TargetSettings) -> Connector {
    let component = runtime().load(bytes).expect("the connector loads");
    Arc::clone(&component)
        .start(settings)
        .expect("the target starts")
}

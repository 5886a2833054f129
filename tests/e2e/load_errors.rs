//! Files that are not connectors of a supported contract are refused at
//! load, each with a message naming the cause.

use provisio_host::runtime::LoadError;
use provisio_tests::{fixtures, runtime};

fn refuse(bytes: &[u8]) -> LoadError {
    match runtime().load(bytes) {
        Ok(c) => panic!("{} loaded but should have been refused", c.label()),
        Err(e) => e,
    }
}

#[test]
fn a_random_file_is_not_wasm() {
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let error = refuse(&bytes);
    assert!(matches!(error, LoadError::NotWasm), "{error}");
    assert!(
        error.to_string().contains("not a WebAssembly file"),
        "{error}"
    );
}

#[test]
fn a_core_module_is_not_a_component() {
    // The smallest valid core module: magic and version, no sections.
    let error = refuse(b"\0asm\x01\0\0\0");
    assert!(matches!(error, LoadError::CoreModule), "{error}");
    assert!(
        error.to_string().contains("--target wasm32-wasip2"),
        "{error}"
    );
}

#[test]
fn a_truncated_component_is_invalid() {
    let mut bytes = provisio_host::bundled::CSV.bytes.to_vec();
    bytes.truncate(bytes.len() / 2);
    let error = refuse(&bytes);
    assert!(matches!(error, LoadError::Invalid(_)), "{error}");
}

#[test]
fn a_component_of_another_world_is_not_a_connector() {
    let error = refuse(&fixtures::bytes(fixtures::OTHER_WORLD));
    assert!(matches!(error, LoadError::NotAConnector { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("exports no `provisio:connector/connector`"),
        "{message}"
    );
    assert!(message.contains("it exports: greet"), "{message}");
}

#[test]
fn a_newer_contract_version_is_refused_naming_both_versions() {
    let error = refuse(&fixtures::bytes(fixtures::FUTURE_CONTRACT));
    assert!(
        matches!(error, LoadError::UnsupportedContract { .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "built against provisio:connector@0.9.0, but this host supports provisio:connector@0.1.x, 0.2.x"
    );
}

#[test]
fn a_component_missing_part_of_the_contract_is_refused() {
    let error = refuse(&fixtures::bytes(fixtures::INCOMPLETE_CONTRACT));
    assert!(
        matches!(error, LoadError::ContractMismatch { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("the connector's `provisio:connector/connector@0.1.0` export does not match the contract provisio:connector@0.1.0: "),
        "{message}"
    );
    assert!(
        message.contains("`info`"),
        "names the missing function: {message}"
    );
}

#[test]
fn a_component_importing_an_unknown_interface_is_refused() {
    let error = refuse(&fixtures::bytes(fixtures::UNKNOWN_IMPORT));
    assert!(matches!(error, LoadError::UnknownImport { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "the connector imports `example:vault/secrets@1.0.0`, which this host does not provide"
    );
}

#[test]
fn a_connector_is_described_by_what_it_imports() {
    let component = runtime().load(provisio_host::bundled::CSV.bytes).unwrap();
    assert_eq!(component.label(), "csv@0.1.0");
    assert_eq!(component.facts.contract.to_string(), "0.2.0");
    let imports = &component.facts.imports;
    assert!(
        imports
            .iter()
            .any(|i| i == "provisio:connector/config@0.2.0"),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:filesystem/preopens@0.2")),
        "{imports:?}"
    );
    assert!(
        !imports
            .iter()
            .any(|i| i.starts_with("wasi:http") || i.starts_with("wasi:sockets/tcp")),
        "the CSV connector asks for no network: {imports:?}"
    );
    assert!(component.info.capabilities.sync);
    assert!(component.info.capabilities.count);
    assert_eq!(
        component.hash,
        provisio_host::bundled::CSV.sha256,
        "the build-time hash is the content hash"
    );
}

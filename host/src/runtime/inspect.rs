//! What a file is before the host trusts it: wasm at all, a component, and
//! which contract version its `connector` export was built against.

use crate::runtime::bindings;
use crate::runtime::error::LoadError;
use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract's package: its export and the host imports every
/// connector may use (`log`, `config`).
pub const CONNECTOR_PACKAGE: &str = "provisio:connector/";

/// The export every connector has, before its `@version`.
pub const CONNECTOR_EXPORT: &str = "provisio:connector/connector";

/// Refuses what is not a component, naming what it is instead.
pub fn check_binary(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    // After the magic: a 16-bit version and a 16-bit layer (0 core, 1 component).
    const CORE_HEADER: [u8; 4] = [1, 0, 0, 0];
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    if bytes[4..8] == CORE_HEADER {
        return Err(LoadError::CoreModule);
    }
    if bytes[6..8] != [1, 0] {
        return Err(LoadError::Invalid(format!(
            "unknown WebAssembly header {:02x?}",
            &bytes[4..8]
        )));
    }
    Ok(())
}

/// The interfaces a component exports and imports, and its contract version.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentFacts {
    /// The contract version of its `provisio:connector/connector` export.
    pub contract: semver::Version,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Reads the facts of a compiled component and refuses one that is not a
/// connector of a contract version this host binds.
pub fn facts(engine: &Engine, component: &Component) -> Result<ComponentFacts, LoadError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let contract = contract_version(&exports)?;
    if bindings::binding_for(&contract).is_none() {
        return Err(LoadError::UnsupportedContract {
            found: contract.to_string(),
            supported: bindings::supported_description(),
        });
    }
    Ok(ComponentFacts {
        contract,
        imports,
        exports,
    })
}

fn contract_version(exports: &[String]) -> Result<semver::Version, LoadError> {
    for name in exports {
        let Some(rest) = name.strip_prefix(CONNECTOR_EXPORT) else {
            continue;
        };
        let Some(version) = rest.strip_prefix('@') else {
            return Err(LoadError::UnsupportedContract {
                found: "(no version)".into(),
                supported: bindings::supported_description(),
            });
        };
        return semver::Version::parse(version).map_err(|e| LoadError::UnsupportedContract {
            found: format!("{version} (not semver: {e})"),
            supported: bindings::supported_description(),
        });
    }
    Err(LoadError::NotAConnector {
        exports: if exports.is_empty() {
            "nothing".into()
        } else {
            exports.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_headers() {
        assert!(matches!(
            check_binary(b"hello world"),
            Err(LoadError::NotWasm)
        ));
        assert!(matches!(
            check_binary(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_binary(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn reads_the_contract_version() {
        let exports = vec![
            "other:thing/x".to_owned(),
            format!("{CONNECTOR_EXPORT}@0.1.0"),
        ];
        assert_eq!(
            contract_version(&exports).unwrap(),
            semver::Version::new(0, 1, 0)
        );
        let err = contract_version(&["a:b/c".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("exports: a:b/c"), "{err}");
    }
}

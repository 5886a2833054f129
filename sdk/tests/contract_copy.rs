//! The SDK carries a copy of the contract's WIT (`sdk/wit/`), so that it
//! packages and builds on its own; the copy must be the repository's
//! `wit/`, byte for byte, or connectors would be built against a contract
//! the host does not have.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn the_sdks_wit_is_the_contract() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("wit");
    let contract = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut copies = Vec::new();
    files(&sdk, &mut copies);
    assert!(copies.len() >= 6, "{copies:?}");
    for copy in copies {
        let relative = copy.strip_prefix(&sdk).unwrap();
        let original = contract.join(relative);
        let original_text = std::fs::read(&original)
            .unwrap_or_else(|e| panic!("sdk/wit/{}: no wit/{0} ({e})", relative.display()));
        assert!(
            std::fs::read(&copy).unwrap() == original_text,
            "sdk/wit/{} differs from wit/{0}: copy it again",
            relative.display()
        );
    }
}

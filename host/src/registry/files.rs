//! The content-addressed directory: each version's `.wasm` under its
//! sha256, written once and atomically, checked against its name when read.

use crate::runtime::content_hash;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(super) struct Files {
    dir: PathBuf,
}

impl Files {
    pub fn open(dir: PathBuf) -> std::io::Result<Files> {
        std::fs::create_dir_all(&dir)?;
        Ok(Files { dir })
    }

    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.wasm"))
    }

    /// Writes `bytes` under `sha256` unless a file is already there.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(sha256);
        if path.is_file() {
            return Ok(());
        }
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir)?;
        temp.write_all(bytes)?;
        temp.as_file().sync_all()?;
        temp.persist(&path).map_err(|e| e.error)?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Deletes the file of `sha256`; a file already gone is not an error.
    pub fn remove(&self, sha256: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(sha256)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => {
                sync_dir(&self.dir);
                Ok(())
            }
        }
    }

    /// The bytes stored under `sha256`, refused when they no longer hash to it.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, String> {
        let path = self.path(sha256);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let found = content_hash(&bytes);
        if found != sha256 {
            return Err(format!(
                "{} was altered: its sha256 is now {found}",
                path.display()
            ));
        }
        Ok(bytes)
    }
}

/// Makes the rename durable (best effort: not every platform can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

//! A host directory granted to a file connector, visible to it as a WASI
//! preopen at [`GUEST_PATH`] and nowhere else: paths that escape it (`..`,
//! absolute paths, symlinks out) are refused by WASI's capability-based
//! filesystem.

use std::path::PathBuf;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// Where a granted directory appears inside the sandbox.
pub const GUEST_PATH: &str = "/data";

/// A directory granted to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGrant {
    pub host_path: PathBuf,
    pub read_only: bool,
}

impl DirectoryGrant {
    pub fn read_write(host_path: impl Into<PathBuf>) -> Self {
        DirectoryGrant {
            host_path: host_path.into(),
            read_only: false,
        }
    }

    pub(crate) fn apply(&self, wasi: &mut WasiCtxBuilder) -> Result<(), String> {
        let perms = if self.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        wasi.preopened_dir(&self.host_path, GUEST_PATH, perms)
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "cannot open granted directory {}: {e}",
                    self.host_path.display()
                )
            })
    }
}

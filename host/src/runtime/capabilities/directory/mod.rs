//! A host directory granted to a file connector, visible to it as a WASI
//! preopen at [`GUEST_PATH`] and nowhere else: paths that escape it (`..`,
//! absolute paths, symlinks out) are refused by WASI's capability-based
//! filesystem.
//!
//! Configured by `grants.directory` (a path, relative to the configuration
//! file) and `grants.read_only`.

use crate::setting::{InvalidSetting, resolve_path};
use std::path::{Path, PathBuf};
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

    /// The grant `grants.directory` and `grants.read_only` describe, if any.
    pub fn from_config(
        directory: Option<&Path>,
        read_only: bool,
        base: &Path,
    ) -> Result<Option<Self>, InvalidSetting> {
        let Some(directory) = directory else {
            return Ok(None);
        };
        let host_path = resolve_path(base, directory);
        if !host_path.is_dir() {
            return Err(InvalidSetting::new(
                "directory",
                format!("{} is not a directory", directory.display()),
            ));
        }
        Ok(Some(DirectoryGrant {
            host_path,
            read_only,
        }))
    }

    /// Adds the preopen to an instance's WASI context.
    pub(crate) fn preopen(&self, wasi: &mut WasiCtxBuilder) -> Result<(), String> {
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

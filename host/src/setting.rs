//! What every section of the configuration needs to check itself, kept in
//! a leaf module so that the sections owned by capabilities and the file
//! that assembles them do not depend on each other.

use std::path::{Path, PathBuf};

/// A setting that cannot be used: the key (relative to its section, e.g.
/// `grants.ldap.urls`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct InvalidSetting {
    pub key: String,
    pub reason: String,
}

impl InvalidSetting {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidSetting {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The same refusal, its key placed under `section` (an empty key is
    /// the section itself).
    pub fn under(self, section: &str) -> Self {
        let key = if self.key.is_empty() {
            section.to_owned()
        } else {
            format!("{section}.{}", self.key)
        };
        InvalidSetting {
            key,
            reason: self.reason,
        }
    }
}

/// `path` made absolute against `base` (the configuration file's
/// directory) when it is relative.
pub fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

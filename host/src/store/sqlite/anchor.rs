//! The audit chain's anchor outside the database: after each commit the
//! newest row's seq and MAC are written to `<store>.anchor` (atomically,
//! by rename). Truncating the log and restoring an older head row (whose
//! own MAC still checks) is then caught, because the anchor names a later
//! row; so is emptying the log altogether. An operator who wants it out of
//! reach of whoever can write the database ships the same figures
//! elsewhere: the `provisio_audit_head_seq` gauge, and an info line every
//! [`LOG_EVERY`] rows.

use std::path::{Path, PathBuf};

/// Rows between two log lines carrying the head.
pub(super) const LOG_EVERY: i64 = 1000;

/// The newest row as last committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Anchor {
    pub seq: i64,
    pub mac: String,
}

pub(super) fn anchor_path(store: &Path) -> PathBuf {
    let mut path = store.as_os_str().to_owned();
    path.push(".anchor");
    PathBuf::from(path)
}

impl Anchor {
    /// The anchor on disk: None when there is none, an error when it is
    /// there but unreadable (which verification reports).
    pub(super) fn read(path: &Path) -> Result<Option<Anchor>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut parts = text.split_whitespace();
        match (parts.next().and_then(|s| s.parse().ok()), parts.next()) {
            (Some(seq), Some(mac)) => Ok(Some(Anchor {
                seq,
                mac: mac.to_owned(),
            })),
            _ => Err(format!("{} is not an audit anchor", path.display())),
        }
    }

    /// Writes the anchor: a temporary file, then a rename, so a reader
    /// sees the old anchor or the new one. Not fsynced, as the commits it
    /// follows are not (WAL with synchronous = NORMAL survives a process
    /// crash, not a power loss).
    pub(super) fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        std::fs::write(&temporary, format!("{} {}\n", self.seq, self.mac))?;
        std::fs::rename(&temporary, path)
    }
}

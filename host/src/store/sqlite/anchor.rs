//! The audit chain's anchor outside the database: after each commit the
//! newest row's seq and MAC are written to `<store>.anchor`, in place (one
//! `pwrite` of a fixed-size record on a file the writer keeps open: a
//! rename per commit cost more than the commit). Truncating the log and restoring an older head row (whose
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
        if text.trim().is_empty() {
            // Created, nothing committed yet.
            return Ok(None);
        }
        let mut parts = text.split_whitespace();
        match (parts.next().and_then(|s| s.parse().ok()), parts.next()) {
            (Some(seq), Some(mac)) => Ok(Some(Anchor {
                seq,
                mac: mac.to_owned(),
            })),
            _ => Err(format!("{} is not an audit anchor", path.display())),
        }
    }
}

/// The anchor file, open for the writer's life.
pub(super) struct AnchorFile {
    file: std::fs::File,
}

/// Bytes of one record: `seq` (20 digits) and a 64-digit MAC, padded.
const RECORD: usize = 96;

impl AnchorFile {
    pub(super) fn open(path: &Path) -> std::io::Result<AnchorFile> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(AnchorFile { file })
    }

    /// Writes the record over the last one. One write of under a page is
    /// seen whole by readers, and survives a crash of the process (the
    /// commits it follows are not fsynced either: WAL with synchronous =
    /// NORMAL survives a process crash, not a power loss).
    pub(super) fn write(&self, anchor: &Anchor) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut record = format!("{} {}", anchor.seq, anchor.mac).into_bytes();
        record.resize(RECORD - 1, b' ');
        record.push(b'\n');
        self.file.write_all_at(&record, 0)?;
        self.file.set_len(RECORD as u64)
    }
}

//! A granted directory on a tape: a recording keeps a copy of it as the
//! connector first saw it (`files/` in the recording), and a replay grants
//! a fresh copy of that, so the connector reads and writes what it did
//! when it was recorded and the recording itself is never changed.

use std::path::{Path, PathBuf};

/// Where a recording keeps the granted directory.
pub const FILES_DIR: &str = "files";

/// Copies `from` (a directory, its subdirectories and files; symbolic
/// links are not followed) into `to`, which must not exist yet.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Stores `granted` in the recording `dir`, replacing an earlier copy.
pub fn record(granted: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let files = dir.join(FILES_DIR);
    if files.exists() {
        std::fs::remove_dir_all(&files)?;
    }
    copy_tree(granted, &files)?;
    Ok(files)
}

/// A fresh copy of the recording's directory in `scratch`, to grant; None
/// when the recording kept none.
pub fn replay(dir: &Path, scratch: &Path) -> std::io::Result<Option<PathBuf>> {
    let files = dir.join(FILES_DIR);
    if !files.is_dir() {
        return Ok(None);
    }
    let copy = scratch.join(FILES_DIR);
    copy_tree(&files, &copy)?;
    Ok(Some(copy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_gets_a_copy_and_the_recording_stays_as_recorded() {
        let granted = tempfile::tempdir().unwrap();
        std::fs::create_dir(granted.path().join("sub")).unwrap();
        std::fs::write(granted.path().join("sub/users.csv"), "uid\na\n").unwrap();
        let recording = tempfile::tempdir().unwrap();
        record(granted.path(), recording.path()).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let copy = replay(recording.path(), scratch.path()).unwrap().unwrap();
        std::fs::write(copy.join("sub/users.csv"), "changed").unwrap();
        let kept = std::fs::read_to_string(recording.path().join("files/sub/users.csv")).unwrap();
        assert_eq!(kept, "uid\na\n");
        let empty = tempfile::tempdir().unwrap();
        assert!(replay(empty.path(), scratch.path()).unwrap().is_none());
    }
}

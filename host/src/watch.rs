//! The watched directory: a `.wasm` dropped into `<watch_dir>/<target>/`
//! is uploaded and activated on that target, with the same checks as
//! `provisio connector upload --activate`. The file then moves to
//! `<target>/activated/`, or to `<target>/refused/` beside a `.reason` file
//! saying why; the active version keeps serving either way.
//!
//! A file is taken once it has not changed for one interval, so a copy in
//! progress is not read half-written.
//!
//! The directory may be writable by people who are not operators, so the
//! watcher trusts nothing in it: a symbolic link (as a file, a target's
//! folder, or where a `.reason` would go) is refused, never followed, and
//! a file larger than `server.max_connector_bytes` is refused unread.

use crate::engine::Engine;
use crate::registry::VersionRef;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The actor the audit log records for what the watcher does.
const ACTOR: &str = "watch";

/// Watches until the engine stops (the task is dropped with the runtime).
pub async fn watch(engine: Engine, dir: PathBuf, interval: Duration, max_bytes: usize) {
    tracing::info!(dir = %dir.display(), "watching for connector versions");
    let mut seen: HashMap<PathBuf, (u64, SystemTime)> = HashMap::new();
    loop {
        tokio::time::sleep(interval).await;
        for target in engine.target_names() {
            let incoming = dir.join(&target);
            if is_symlink(&incoming) {
                tracing::warn!(dir = %incoming.display(), "the watched folder of a target is a symbolic link; ignored");
                continue;
            }
            for file in wasm_files(&incoming) {
                let Ok(meta) = std::fs::symlink_metadata(&file) else {
                    continue;
                };
                let stamp = (
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                );
                // Taken on the second look at the same size and time.
                if seen.insert(file.clone(), stamp) != Some(stamp) {
                    continue;
                }
                seen.remove(&file);
                take(&engine, &target, &incoming, &file, max_bytes).await;
            }
        }
    }
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// `.wasm` entries that are files or symbolic links (the latter to refuse).
fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    files
}

/// The file's bytes, if it is a regular file of at most `max_bytes`.
fn read_capped(file: &Path, max_bytes: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::symlink_metadata(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if meta.file_type().is_symlink() {
        return Err("it is a symbolic link; the watcher never follows links".into());
    }
    if meta.len() > max_bytes as u64 {
        return Err(format!(
            "it is {} bytes, larger than server.max_connector_bytes ({max_bytes})",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(max_bytes as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if bytes.len() > max_bytes {
        return Err(format!(
            "it grew past server.max_connector_bytes ({max_bytes}) while it was read"
        ));
    }
    Ok(bytes)
}

async fn take(engine: &Engine, target: &str, incoming: &Path, file: &Path, max_bytes: usize) {
    let name = file.file_name().unwrap_or_default().to_owned();
    let read = {
        let file = file.to_owned();
        tokio::task::spawn_blocking(move || read_capped(&file, max_bytes))
            .await
            .unwrap_or_else(|e| Err(format!("the reading task failed: {e}")))
    };
    let outcome = match read {
        Ok(bytes) => upload_and_activate(engine, target, bytes).await,
        Err(reason) => Err(reason),
    };
    let (folder, reason) = match &outcome {
        Ok(label) => {
            tracing::info!(target, file = %file.display(), "activated {label} from the watched directory");
            ("activated", None)
        }
        Err(reason) => {
            tracing::warn!(target, file = %file.display(), "refused: {reason}");
            ("refused", Some(reason))
        }
    };
    let dest_dir = incoming.join(folder);
    if is_symlink(&dest_dir) {
        tracing::error!(dir = %dest_dir.display(), "is a symbolic link; the file stays where it is");
        return;
    }
    let moved = std::fs::create_dir(&dest_dir)
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(e),
        })
        .and_then(|()| std::fs::rename(file, dest_dir.join(&name)));
    if let Err(e) = moved {
        tracing::error!(file = %file.display(), "cannot move it out of the watched directory: {e}");
        return;
    }
    if let Some(reason) = reason {
        let mut reason_file = dest_dir.join(&name).into_os_string();
        reason_file.push(".reason");
        if let Err(e) = write_new(Path::new(&reason_file), &format!("{reason}\n")) {
            tracing::error!("cannot write {}: {e}", PathBuf::from(reason_file).display());
        }
    }
}

async fn upload_and_activate(
    engine: &Engine,
    target: &str,
    bytes: Vec<u8>,
) -> Result<String, String> {
    let (version, _) = engine
        .upload(bytes, ACTOR)
        .await
        .map_err(|e| e.to_string())?;
    engine
        .activate(target, &VersionRef::new(&version.sha256), false, ACTOR)
        .await
        .map(|report| report.to)
        .map_err(|e| e.to_string())
}

/// Writes a file afresh, never through a link: whatever is at `path` (an
/// old `.reason`, or a link planted there) is removed itself, and the file
/// is created exclusively (`O_EXCL` does not follow links), so a link put
/// back in between makes the write fail instead of landing elsewhere.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_dir()) {
        std::fs::remove_file(path)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(text.as_bytes())
}

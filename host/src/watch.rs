//! The watched directory: a `.wasm` dropped into `<watch_dir>/<target>/`
//! is uploaded and activated on that target, with the same checks as
//! `provisio connector upload --activate`. The file then moves to
//! `<target>/activated/`, or to `<target>/refused/` beside a `.reason` file
//! saying why; the active version keeps serving either way.
//!
//! A file is taken once it has not changed for one interval, so a copy in
//! progress is not read half-written.

use crate::engine::Engine;
use crate::registry::VersionRef;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The actor the audit log records for what the watcher does.
const ACTOR: &str = "watch";

/// Watches until the engine stops (the task is dropped with the runtime).
pub async fn watch(engine: Engine, dir: PathBuf, interval: Duration) {
    tracing::info!(dir = %dir.display(), "watching for connector versions");
    let mut seen: HashMap<PathBuf, (u64, SystemTime)> = HashMap::new();
    loop {
        tokio::time::sleep(interval).await;
        for target in engine.target_names() {
            let incoming = dir.join(&target);
            for file in wasm_files(&incoming) {
                let Ok(meta) = std::fs::metadata(&file) else {
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
                take(&engine, &target, &incoming, &file).await;
            }
        }
    }
}

fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    files
}

async fn take(engine: &Engine, target: &str, incoming: &Path, file: &Path) {
    let name = file.file_name().unwrap_or_default().to_owned();
    let outcome = match tokio::fs::read(file).await {
        Ok(bytes) => upload_and_activate(engine, target, bytes).await,
        Err(e) => Err(format!("cannot read {}: {e}", file.display())),
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
    let moved = std::fs::create_dir_all(&dest_dir)
        .and_then(|()| std::fs::rename(file, dest_dir.join(&name)));
    if let Err(e) = moved {
        tracing::error!(file = %file.display(), "cannot move it out of the watched directory: {e}");
        return;
    }
    if let Some(reason) = reason {
        let mut reason_file = dest_dir.join(&name).into_os_string();
        reason_file.push(".reason");
        if let Err(e) = std::fs::write(&reason_file, format!("{reason}\n")) {
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

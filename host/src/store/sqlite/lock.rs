//! One host per store: an exclusive lock on `<store>.lock`, held for as
//! long as the store is open. A second host (two `serve`s, or a restart
//! that overlaps the old process) waits a little for the first to go, then
//! refuses to start naming it, instead of breaking its writer. The lock is
//! the kernel's (`flock`), so a process that dies releases it.

use super::super::{Result, StoreError};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a new host waits for the one holding the store to exit.
pub(super) const WAIT: Duration = Duration::from_secs(10);

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub(super) struct StoreLock {
    _file: File,
}

pub(super) fn lock_path(store: &Path) -> PathBuf {
    let mut path = store.as_os_str().to_owned();
    path.push(".lock");
    PathBuf::from(path)
}

impl StoreLock {
    pub(super) fn acquire(store: &Path, wait: Duration) -> Result<StoreLock> {
        let path = lock_path(store);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(StoreError::Database(format!(
                        "the store {} is in use by another Provisio host ({}); stop it first, or give this one a store of its own",
                        store.display(),
                        match holder.trim() {
                            "" => "its process id is not recorded".to_owned(),
                            pid => format!("process {pid}"),
                        }
                    )));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(StoreError::Database(format!(
                        "cannot lock {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        // Who holds it, for the message another host gives.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(StoreLock { _file: file })
    }
}

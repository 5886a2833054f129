//! A CSV file as a header and rows, read whole and written atomically.
//!
//! Writers hold an exclusive lock file while they read, change and rewrite
//! the table, so two instances (or two hosts) never lose each other's
//! writes; the rewrite goes to a temporary file that is synced and renamed
//! over the original, so a crash never leaves a half-written file. Readers
//! take no lock: a rename is atomic, they see the old or the new file.

use provisio_sdk::{Error, HostRun};
use std::fs;
use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// A lock older than this was left by a writer that died.
const STALE_LOCK: Duration = Duration::from_secs(30);
/// How long a writer waits for the lock before answering `unavailable`.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line the row starts on in the file (1 is the header); 0 for new rows.
    pub line: u64,
    pub cells: Vec<String>,
}

impl Table {
    pub fn new(header: Vec<String>) -> Self {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Reads `path`; `None` when the file does not exist.
    pub fn read(path: &str, delimiter: u8) -> Result<Option<Table>, Error> {
        match fs::read(path) {
            Ok(bytes) => Table::parse(&bytes, display_name(path), delimiter).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(path, "read", &e)),
        }
    }

    /// Parses CSV bytes; errors name the file and the line.
    pub fn parse(bytes: &[u8], file: &str, delimiter: u8) -> Result<Table, Error> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(false)
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(file, &e))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(Error::failed(format!("{file} line 1: the header is empty")));
        }
        for (i, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(Error::failed(format!(
                    "{file} line 1: column {} has no name",
                    i + 1
                )));
            }
            if header[..i].iter().any(|h| h.eq_ignore_ascii_case(name)) {
                return Err(Error::failed(format!(
                    "{file} line 1: column `{name}` appears twice"
                )));
            }
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(file, &e))?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push(Row {
                line,
                cells: record.iter().map(str::to_owned).collect(),
            });
        }
        Ok(Table { header, rows })
    }

    /// The index of `column`, case-insensitively.
    pub fn column(&self, column: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(column))
    }

    pub fn to_bytes(&self, delimiter: u8) -> Result<Vec<u8>, Error> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(Vec::new());
        writer
            .write_record(&self.header)
            .and_then(|_| {
                self.rows
                    .iter()
                    .try_for_each(|row| writer.write_record(&row.cells))
            })
            .map_err(|e| Error::failed(format!("cannot encode CSV: {e}")))?;
        writer
            .into_inner()
            .map_err(|e| Error::failed(format!("cannot encode CSV: {e}")))
    }

    /// Replaces `path` with this table: temp file, sync, rename.
    pub fn write_atomic(&self, path: &str, delimiter: u8) -> Result<(), Error> {
        write_atomic(path, &self.to_bytes(delimiter)?)
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub fn write_atomic(path: &str, bytes: &[u8]) -> Result<(), Error> {
    let tmp = sibling(path, ".tmp");
    let mut file = fs::File::create(&tmp).map_err(|e| io_error(&tmp, "create", &e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| io_error(&tmp, "write", &e))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| io_error(path, "replace", &e))
}

/// `/data/.accounts.csv<suffix>`: hidden beside the file.
fn sibling(path: &str, suffix: &str) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or((".", path));
    format!("{dir}/.{name}{suffix}")
}

/// An exclusive lock on one file, released on drop.
///
/// The lock file holds its owner's host run (when the host said which it
/// is) and a random nonce. A lock that names an earlier run of the same
/// host was left when that host died (a host holds its store exclusively,
/// so that run is over): it is broken at once, not after [`STALE_LOCK`]. A writer that finds a lock
/// older than [`STALE_LOCK`] (its owner died) breaks it, but only while it
/// holds the breaker's lock (`<lock>.break`, created exclusively) and only
/// if the lock is still stale once it holds it: a writer that judged the
/// lock stale just before another broke it and took a fresh lock finds the
/// fresh one and leaves it alone. (Breaking by renaming the lock away, as
/// before, could take a live lock in that window and, when it could not be
/// put back, leave two writers each thinking they held it.) An owner
/// removes the lock only if it still holds its nonce.
pub struct FileLock {
    path: String,
    nonce: String,
}

impl FileLock {
    /// Takes the lock of `path`, waiting for another writer, breaking a
    /// lock left by a writer that died. `run` is the host run this
    /// instance serves.
    pub fn acquire(path: &str, run: Option<&HostRun>) -> Result<FileLock, Error> {
        let lock = sibling(path, ".lock");
        let nonce = match run {
            Some(run) => format!("{run} {}", nonce()),
            None => nonce(),
        };
        let started = Instant::now();
        loop {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut file) => {
                    file.write_all(nonce.as_bytes())
                        .and_then(|_| file.sync_all())
                        .map_err(|e| io_error(&lock, "write lock", &e))?;
                    return Ok(FileLock { path: lock, nonce });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if left_by_earlier_run(&lock, run) {
                        break_lock(&lock, &nonce, || left_by_earlier_run(&lock, run));
                        continue;
                    }
                    if is_stale(&lock) {
                        break_lock(&lock, &nonce, || is_stale(&lock));
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(Error::unavailable(format!(
                            "{} is locked by another writer (lock file {})",
                            display_name(path),
                            display_name(&lock)
                        )));
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(io_error(&lock, "create lock", &e)),
            }
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if fs::read_to_string(&self.path).is_ok_and(|owner| owner == self.nonce) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A random nonce: `RandomState` is seeded from WASI's random source.
fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", hasher.finish())
}

/// Whether the file at `path` is older than [`STALE_LOCK`].
fn is_stale(path: &str) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > STALE_LOCK)
}

/// Whether the lock at `lock` names an earlier run of the host `run`.
fn left_by_earlier_run(lock: &str, run: Option<&HostRun>) -> bool {
    let Some(run) = run else { return false };
    fs::read_to_string(lock).is_ok_and(|owner| {
        owner
            .split_whitespace()
            .next()
            .and_then(HostRun::parse)
            .is_some_and(|theirs| run.follows(&theirs))
    })
}

/// Removes the dead lock at `lock` if it is still dead (`still_dead`) once
/// this writer holds the breaker's lock. A writer that finds the breaker's
/// lock taken goes back to waiting; a breaker's lock left by a writer that
/// died while breaking (it is held for microseconds) is removed once stale
/// itself.
fn break_lock(lock: &str, nonce: &str, still_dead: impl Fn() -> bool) {
    let breaker = format!("{lock}.break");
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&breaker)
    {
        Ok(mut file) => {
            let _ = file.write_all(nonce.as_bytes());
        }
        Err(_) => {
            if is_stale(&breaker) {
                let _ = fs::remove_file(&breaker);
            }
            thread::sleep(Duration::from_millis(2));
            return;
        }
    }
    if still_dead() {
        provisio_sdk::warn!("broke lock {lock} left by a writer that died");
        let _ = fs::remove_file(lock);
    }
    let _ = fs::remove_file(&breaker);
}

/// The name operators know the file by (inside the granted directory).
pub fn display_name(path: &str) -> &str {
    path.strip_prefix(crate::settings::DATA_DIR)
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or(path)
}

pub fn io_error(path: &str, action: &str, e: &io::Error) -> Error {
    let message = format!("cannot {action} {}: {e}", display_name(path));
    match e.kind() {
        io::ErrorKind::PermissionDenied => Error::permission_denied(message),
        io::ErrorKind::NotFound => Error::failed(message),
        _ => Error::unavailable(message),
    }
}

fn csv_error(file: &str, e: &csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    let what = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("not valid UTF-8 ({err})"),
        _ => e.to_string(),
    };
    match line {
        Some(line) => Error::failed(format!("{file} line {line}: {what}")),
        None => Error::failed(format!("{file}: {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lock_of_an_earlier_run_of_the_same_host_is_dead() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.csv").display().to_string();
        let lock = sibling(&file, ".lock");
        let now = HostRun::parse("store1.5").unwrap();
        fs::write(&lock, "store1.4 0123456789abcdef").unwrap();
        assert!(left_by_earlier_run(&lock, Some(&now)));
        assert!(
            !left_by_earlier_run(&lock, None),
            "a host that says no run breaks nothing early"
        );
        for live in [
            "store1.5 fedcba9876543210",
            "store2.1 fedcba9876543210",
            "fedcba9876543210",
        ] {
            fs::write(&lock, live).unwrap();
            assert!(
                !left_by_earlier_run(&lock, Some(&now)),
                "{live} is not an earlier run's"
            );
        }
    }

    #[test]
    fn round_trips_quotes_newlines_and_utf8() {
        let mut table = Table::new(vec!["id".into(), "note".into()]);
        for (i, note) in [
            "a \"quoted\" word",
            "two\nlines",
            "comma, inside",
            "Zoë 日本 🎉",
            "",
        ]
        .iter()
        .enumerate()
        {
            table.rows.push(Row {
                line: 0,
                cells: vec![i.to_string(), note.to_string()],
            });
        }
        let bytes = table.to_bytes(b',').unwrap();
        let back = Table::parse(&bytes, "t.csv", b',').unwrap();
        let notes: Vec<&str> = back.rows.iter().map(|r| r.cells[1].as_str()).collect();
        assert_eq!(
            notes,
            [
                "a \"quoted\" word",
                "two\nlines",
                "comma, inside",
                "Zoë 日本 🎉",
                ""
            ]
        );
        // The row after the two-line value starts two lines later.
        assert_eq!(
            back.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [2, 3, 5, 6, 7]
        );
    }

    #[test]
    fn bad_rows_name_their_line() {
        let err = Table::parse(b"id,name\n1,a\n2\n", "accounts.csv", b',').unwrap_err();
        assert_eq!(
            err,
            Error::failed("accounts.csv line 3: the row has 1 fields but the header has 2")
        );
        let err = Table::parse(b"id,ID\n", "a.csv", b',').unwrap_err();
        assert_eq!(
            err,
            Error::failed("a.csv line 1: column `ID` appears twice")
        );
        let err = Table::parse(b"id\n\xff\n", "a.csv", b',').unwrap_err();
        assert!(
            matches!(&err, Error::Failed(m) if m.starts_with("a.csv line 2: not valid UTF-8")),
            "{err:?}"
        );
    }

    #[test]
    fn strips_a_byte_order_mark() {
        let table = Table::parse(b"\xEF\xBB\xBFid\n1\n", "a.csv", b',').unwrap();
        assert_eq!(table.header, ["id"]);
    }
}

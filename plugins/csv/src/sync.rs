//! Sync for CSV files, which record no change times: each token names a
//! snapshot of the file taken when the token was issued (kept hidden in
//! `.provisio-sync/<class>/` inside the granted directory), and `sync`
//! reports the difference between that snapshot and the file now. Token
//! `0` is the empty file. Only the newest `sync.keep` snapshots are kept;
//! an older token is refused, and the caller reconciles instead.
//!
//! Every delta but the last of a batch carries the request's token, the
//! last one the batch's: resuming from any delta's token never skips a
//! change (it may repeat the rest of its batch).

use crate::class_file::ClassFile;
use crate::settings::{ClassSettings, DATA_DIR, Settings};
use crate::table::{FileLock, Row, Table, io_error, write_atomic};
use provisio_sdk::{ConnectorObject, DeltaKind, Error, SyncBatch, SyncDelta};
use std::collections::{BTreeMap, HashMap};
use std::fs;

const EMPTY_TOKEN: u64 = 0;

fn snapshot_dir(class: &ClassSettings) -> String {
    format!("{DATA_DIR}/.provisio-sync/{}", class.class)
}

fn snapshot_path(class: &ClassSettings, token: u64) -> String {
    format!("{}/{token}.csv", snapshot_dir(class))
}

/// The tokens of the snapshots kept, oldest first.
fn snapshots(class: &ClassSettings) -> Result<Vec<u64>, Error> {
    let dir = snapshot_dir(class);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&dir, "list", &e)),
    };
    let mut tokens: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".csv")?.parse().ok())
        .collect();
    tokens.sort_unstable();
    Ok(tokens)
}

/// Records `table` as a new snapshot (or reuses the newest if identical).
fn take_snapshot(settings: &Settings, class: &ClassSettings, table: &Table) -> Result<u64, Error> {
    let dir = snapshot_dir(class);
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", &e))?;
    let _lock = FileLock::acquire(&format!("{dir}/snapshots"), settings.host_run.as_ref())?;
    let bytes = table.to_bytes(settings.delimiter)?;
    let tokens = snapshots(class)?;
    if let Some(&newest) = tokens.last()
        && fs::read(snapshot_path(class, newest)).is_ok_and(|old| old == bytes)
    {
        return Ok(newest);
    }
    let token = tokens.last().map_or(EMPTY_TOKEN, |t| *t) + 1;
    write_atomic(&snapshot_path(class, token), &bytes)?;
    let excess = (tokens.len() + 1).saturating_sub(settings.snapshots_kept);
    for old in &tokens[..excess] {
        let _ = fs::remove_file(snapshot_path(class, *old));
    }
    Ok(token)
}

fn parse_token(raw: &str) -> Result<u64, Error> {
    raw.parse().map_err(|_| {
        Error::invalid(format!(
            "sync token {raw:?} is not a token of the CSV connector"
        ))
    })
}

/// The table a token stands for.
fn snapshot(settings: &Settings, class: &ClassSettings, token: u64) -> Result<Table, Error> {
    if token == EMPTY_TOKEN {
        let current = ClassFile::load(settings, class)?;
        return Ok(Table::new(current.table.header.clone()));
    }
    match Table::read(&snapshot_path(class, token), settings.delimiter)? {
        Some(table) => Ok(table),
        None => Err(Error::invalid(format!(
            "sync token {token} of class {} has expired (only the newest {} are kept): \
             take a new token with latest-sync-token and reconcile",
            class.class, settings.snapshots_kept
        ))),
    }
}

pub fn latest_token(settings: &Settings, class: &ClassSettings) -> Result<String, Error> {
    let current = ClassFile::load(settings, class)?;
    Ok(take_snapshot(settings, class, &current.table)?.to_string())
}

/// A row keyed by column name, so tables with different headers compare.
fn by_column(table: &Table, row: &Row) -> BTreeMap<String, String> {
    table
        .header
        .iter()
        .zip(&row.cells)
        .filter(|(_, cell)| !cell.is_empty())
        .map(|(h, cell)| (h.to_lowercase(), cell.clone()))
        .collect()
}

pub fn sync(
    settings: &Settings,
    class: &ClassSettings,
    token: Option<&str>,
    max_deltas: u32,
) -> Result<SyncBatch, Error> {
    let from = token.map(parse_token).transpose()?.unwrap_or(EMPTY_TOKEN);
    let base = snapshot(settings, class, from)?;
    let current = ClassFile::load(settings, class)?;
    let base_file = ClassFile::check(settings, class, base)?;

    let base_rows: HashMap<&str, &Row> = base_file
        .table
        .rows
        .iter()
        .map(|r| (base_file.key_of(r), r))
        .collect();
    let current_keys: std::collections::HashSet<&str> = current
        .table
        .rows
        .iter()
        .map(|r| current.key_of(r))
        .collect();

    // (kind, uid, index of the current row for creates and updates)
    let mut changes: Vec<(DeltaKind, String, Option<usize>)> = Vec::new();
    for (i, row) in current.table.rows.iter().enumerate() {
        let key = current.key_of(row);
        match base_rows.get(key) {
            None => changes.push((DeltaKind::Create, key.to_owned(), Some(i))),
            Some(old) if by_column(&base_file.table, old) != by_column(&current.table, row) => {
                changes.push((DeltaKind::Update, key.to_owned(), Some(i)))
            }
            Some(_) => {}
        }
    }
    for row in &base_file.table.rows {
        let key = base_file.key_of(row);
        if !current_keys.contains(key) {
            changes.push((DeltaKind::Delete, key.to_owned(), None));
        }
    }

    let limit = (max_deltas.max(1)) as usize;
    let has_more = changes.len() > limit;
    changes.truncate(limit);
    let reached = if has_more {
        applied(&base_file, &current, &changes)
    } else {
        current.table.clone()
    };
    let new_token = take_snapshot(settings, class, &reached)?.to_string();

    let from_text = from.to_string();
    let count = changes.len();
    let mut deltas = Vec::with_capacity(count);
    for (n, (kind, uid, index)) in changes.into_iter().enumerate() {
        let object: Option<ConnectorObject> = index
            .map(|i| current.object(&current.table.rows[i], &[]))
            .transpose()?;
        deltas.push(SyncDelta {
            kind,
            uid,
            object,
            token: if n + 1 == count {
                new_token.clone()
            } else {
                from_text.clone()
            },
        });
    }
    Ok(SyncBatch {
        deltas,
        token: if count == 0 { from_text } else { new_token },
        has_more,
    })
}

/// The base table with the first deltas applied, in the current header.
fn applied(
    base: &ClassFile,
    current: &ClassFile,
    changes: &[(DeltaKind, String, Option<usize>)],
) -> Table {
    let header = current.table.header.clone();
    let remap = |row: &Row| -> Row {
        let cells = header
            .iter()
            .map(|h| {
                base.table
                    .column(h)
                    .map(|i| row.cells[i].clone())
                    .unwrap_or_default()
            })
            .collect();
        Row { line: 0, cells }
    };
    let mut rows: Vec<Row> = base.table.rows.iter().map(remap).collect();
    for (kind, uid, index) in changes {
        let position = rows.iter().position(|r| current.key_of(r) == uid);
        match (kind, index, position) {
            (DeltaKind::Create, Some(i), _) => rows.push(current.table.rows[*i].clone()),
            (DeltaKind::Update, Some(i), Some(p)) => rows[p] = current.table.rows[*i].clone(),
            (DeltaKind::Delete, _, Some(p)) => {
                rows.remove(p);
            }
            _ => {}
        }
    }
    Table { header, rows }
}

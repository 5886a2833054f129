//! Read-only connections, and the queries that run on them.
//!
//! A lookup by key (an operation, a link, a secret) is a few microseconds
//! in SQLite's page cache, so it runs in place on the caller's thread; a
//! listing or the audit chain's verification may read many pages and runs
//! on tokio's blocking pool instead. WAL mode lets all of them read while
//! the writer commits.

use super::super::audit::{self, AuditReport, GENESIS_MAC};
use super::super::records::*;
use super::super::{Result, StoreError};
use super::anchor::Anchor;
use super::rows::{self, select_operation, select_version};
use crate::keys::HostKey;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Idle read connections kept open.
const IDLE_READERS: usize = 8;

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub fn new(path: PathBuf) -> Arc<Readers> {
        Arc::new(Readers {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs a short read in place.
    pub fn now<R>(&self, read: impl FnOnce(&Connection) -> Result<R>) -> Result<R> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match taken {
            Some(conn) => conn,
            None => super::connect(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// Runs a read that may take long on the blocking pool.
    pub async fn long<R: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || readers.now(read))
            .await
            .map_err(|e| StoreError::Database(format!("a read was interrupted: {e}")))?
    }
}

pub(super) fn operation(conn: &Connection, id: &str) -> Result<Option<OperationRecord>> {
    let mut select = conn.prepare_cached(select_operation!("WHERE id = ?"))?;
    rows::first(select.query([id])?, rows::operation)
}

pub(super) fn operations(
    conn: &Connection,
    query: &OperationQuery,
) -> Result<Vec<OperationRecord>> {
    let mut select = Filtered::new(select_operation!("WHERE 1 = 1"));
    if let Some(target) = &query.target {
        select.and("target = ?", Value::Text(target.clone()));
    }
    if let Some(status) = query.status {
        select.and("status = ?", Value::Text(status.as_str().into()));
    }
    if let Some(identity) = &query.identity {
        select.and("identity = ?", Value::Text(identity.clone()));
    }
    if let Some(since) = query.since {
        select.and("created_at >= ?", Value::Integer(since));
    }
    if let Some(until) = query.until {
        select.and("created_at < ?", Value::Integer(until));
    }
    if let Some(after) = &query.after {
        select.and(
            "seq > (SELECT seq FROM operations WHERE id = ?)",
            Value::Text(after.clone()),
        );
    }
    let (sql, values) = select.page(query.limit);
    let mut select = conn.prepare_cached(&sql)?;
    rows::collect(select.query(params_from_iter(values))?, rows::operation)
}

pub(super) fn open_operations(conn: &Connection) -> Result<Vec<OperationRecord>> {
    let mut select = conn.prepare_cached(select_operation!(
        "WHERE status IN ('pending-approval', 'queued', 'running', 'retrying') ORDER BY seq"
    ))?;
    rows::collect(select.query([])?, rows::operation)
}

pub(super) fn sealed_secret(conn: &Connection, id: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT sealed_secret FROM operations WHERE id = ?")?
        .query_row([id], |row| row.get::<_, Option<Vec<u8>>>(0))
        .optional()?
        .flatten())
}

pub(super) fn link(
    conn: &Connection,
    target: &str,
    class: &str,
    identity: &str,
) -> Result<Option<Link>> {
    let mut select = conn.prepare_cached(
        "SELECT * FROM account_links WHERE target = ? AND class = ? AND identity = ?",
    )?;
    rows::first(select.query(params![target, class, identity])?, rows::link)
}

pub(super) fn link_by_uid(
    conn: &Connection,
    target: &str,
    class: &str,
    uid: &str,
) -> Result<Option<Link>> {
    let mut select = conn
        .prepare_cached("SELECT * FROM account_links WHERE target = ? AND class = ? AND uid = ?")?;
    rows::first(select.query(params![target, class, uid])?, rows::link)
}

const LINKS_PAGE: &str =
    "SELECT * FROM account_links WHERE target = ? AND identity > ? ORDER BY identity LIMIT ?";

pub(super) fn links(conn: &Connection, target: &str, after: &str, limit: u32) -> Result<Vec<Link>> {
    let mut select = conn.prepare_cached(LINKS_PAGE)?;
    rows::collect(
        select.query(params![target, after, limit.max(1) as i64])?,
        rows::link,
    )
}

pub(super) fn audit(conn: &Connection, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let mut select = Filtered::new("SELECT * FROM audit_log WHERE 1 = 1");
    if let Some(target) = &query.target {
        select.and("target = ?", Value::Text(target.clone()));
    }
    if let Some(op) = &query.operation_id {
        select.and("operation_id = ?", Value::Text(op.clone()));
    }
    if let Some(after) = query.after_seq {
        select.and("seq > ?", Value::Integer(after));
    }
    let (sql, values) = select.page(query.limit);
    let mut select = conn.prepare_cached(&sql)?;
    rows::collect(select.query(params_from_iter(values))?, |row| {
        rows::audit(row).map(|(record, _)| record)
    })
}

/// A listing's SELECT with the filters a query set, each value a parameter.
struct Filtered {
    sql: String,
    values: Vec<Value>,
}

impl Filtered {
    /// `select` ends in a WHERE clause that the filters extend.
    fn new(select: &str) -> Self {
        Filtered {
            sql: select.to_owned(),
            values: Vec::new(),
        }
    }

    fn and(&mut self, condition: &str, value: Value) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
        self.values.push(value);
    }

    /// The statement, in `seq` order (each listed table's append order)
    /// and cut to `limit` rows (at least one), and its parameters.
    fn page(mut self, limit: u32) -> (String, Vec<Value>) {
        self.sql.push_str(" ORDER BY seq LIMIT ?");
        self.values.push(Value::Integer(i64::from(limit.max(1))));
        (self.sql, self.values)
    }
}

/// Recomputes the whole chain, in one read transaction so that the rows
/// and the head are one snapshot even while the writer commits.
pub(super) fn verify_audit(
    conn: &Connection,
    key: &HostKey,
    anchor: &std::path::Path,
) -> Result<AuditReport> {
    // The anchor is read first: the writer updates it after it commits, so
    // the snapshot read next holds at least the rows it names.
    let anchor = Anchor::read(anchor);
    conn.execute_batch("BEGIN")?;
    let report = verify_in_snapshot(conn, key, anchor);
    conn.execute_batch("COMMIT")?;
    report
}

fn verify_in_snapshot(
    conn: &Connection,
    key: &HostKey,
    anchor: std::result::Result<Option<Anchor>, String>,
) -> Result<AuditReport> {
    let anchor = match anchor {
        Ok(anchor) => anchor,
        Err(problem) => {
            return Ok(AuditReport {
                rows: 0,
                ok: false,
                problem: Some(problem),
            });
        }
    };
    let mut anchored_row_seen = false;
    let mut expected_seq = 1i64;
    let mut prev_mac = GENESIS_MAC.to_owned();
    let mut count = 0u64;
    let fail = |count, problem: String| {
        Ok(AuditReport {
            rows: count,
            ok: false,
            problem: Some(problem),
        })
    };
    let mut select = conn.prepare("SELECT * FROM audit_log ORDER BY seq")?;
    let mut all = select.query([])?;
    while let Some(row) = all.next()? {
        let (record, detail) = match rows::audit(row) {
            Ok(read) => read,
            Err(e) => return fail(count, format!("row after seq {}: {e}", expected_seq - 1)),
        };
        if record.seq != expected_seq {
            return fail(
                count,
                format!("rows {expected_seq} to {} are missing", record.seq - 1),
            );
        }
        if record.prev_mac != prev_mac {
            return fail(
                count,
                format!("row {} does not follow row {}", record.seq, record.seq - 1),
            );
        }
        let mac = audit::row_mac(
            key,
            &prev_mac,
            record.seq,
            record.at,
            &record.event,
            &detail,
        );
        if mac != record.mac {
            return fail(count, format!("row {} was altered", record.seq));
        }
        if let Some(anchor) = &anchor
            && anchor.seq == record.seq
        {
            if anchor.mac != record.mac {
                return fail(
                    count,
                    format!(
                        "row {} is not the row the anchor outside the database names: the log was rewritten",
                        record.seq
                    ),
                );
            }
            anchored_row_seen = true;
        }
        prev_mac = record.mac;
        expected_seq += 1;
        count += 1;
    }
    let head: Option<(i64, String, String)> = conn
        .query_row(
            "SELECT seq, mac, head_mac FROM audit_head WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    match head {
        None if count == 0 => {}
        None => return fail(count, "the chain's head record is missing".into()),
        Some((seq, mac, head_mac)) => {
            if head_mac != audit::head_mac(key, seq, &mac) {
                return fail(count, "the chain's head record was altered".into());
            }
            if seq != expected_seq - 1 || mac != prev_mac {
                return fail(
                    count,
                    format!(
                        "the log ends at row {} but its head says row {seq}: rows were deleted",
                        expected_seq - 1
                    ),
                );
            }
        }
    }
    if let Some(anchor) = &anchor
        && anchor.seq > 0
        && !anchored_row_seen
    {
        return fail(
            count,
            format!(
                "the log ends at row {} but the anchor outside the database says row {}: rows were deleted",
                expected_seq - 1,
                anchor.seq
            ),
        );
    }
    if count == 0 {
        let operations: i64 =
            conn.query_row("SELECT COUNT(*) FROM operations", [], |row| row.get(0))?;
        if operations > 0 {
            return fail(
                count,
                format!(
                    "the audit log is empty, but the store holds {operations} operations: it was deleted"
                ),
            );
        }
    }
    Ok(AuditReport {
        rows: count,
        ok: true,
        problem: None,
    })
}

pub(super) fn quarantines(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut select =
        conn.prepare_cached("SELECT target, reason FROM quarantines ORDER BY target")?;
    rows::collect(select.query([])?, |row| Ok((row.get(0)?, row.get(1)?)))
}

pub(super) fn connector_version(
    conn: &Connection,
    sha256: &str,
) -> Result<Option<ConnectorVersion>> {
    let mut select = conn.prepare_cached(select_version!("WHERE sha256 = ?"))?;
    rows::first(select.query([sha256])?, rows::version)
}

pub(super) fn connector_versions(conn: &Connection) -> Result<Vec<ConnectorVersion>> {
    let mut select = conn.prepare_cached(select_version!("ORDER BY added_at, sha256"))?;
    rows::collect(select.query([])?, rows::version)
}

pub(super) fn deployments(conn: &Connection) -> Result<Vec<Deployment>> {
    let mut select = conn.prepare_cached(
        "SELECT target, active, previous, configured, switched_at, switched_by
         FROM deployments ORDER BY target",
    )?;
    rows::collect(select.query([])?, rows::deployment)
}

pub(super) fn identity(conn: &Connection, id: &str) -> Result<Option<IdentityRecord>> {
    let mut select = conn.prepare_cached("SELECT * FROM identities WHERE id = ?")?;
    rows::first(select.query([id])?, rows::identity)
}

pub(super) fn identities(
    conn: &Connection,
    after: &str,
    limit: u32,
) -> Result<Vec<IdentityRecord>> {
    let mut select =
        conn.prepare_cached("SELECT * FROM identities WHERE id > ? ORDER BY id LIMIT ?")?;
    rows::collect(select.query(params![after, limit])?, rows::identity)
}

pub(super) fn identity_accounts(conn: &Connection, id: &str) -> Result<Vec<AccountRecord>> {
    let mut select = conn.prepare_cached(
        "SELECT * FROM identity_accounts WHERE identity = ? ORDER BY target, class",
    )?;
    rows::collect(select.query([id])?, rows::account)
}

pub(super) fn identities_due(
    conn: &Connection,
    at: i64,
    limit: u32,
) -> Result<Vec<IdentityRecord>> {
    let mut select = conn.prepare_cached(
        "SELECT * FROM identities WHERE review_at IS NOT NULL AND review_at <= ?
         ORDER BY review_at, id LIMIT ?",
    )?;
    rows::collect(select.query(params![at, limit])?, rows::identity)
}

pub(super) fn identities_of_source(
    conn: &Connection,
    source: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<IdentityRecord>> {
    let mut select = conn.prepare_cached(
        "SELECT * FROM identities WHERE source = ? AND id > ? ORDER BY id LIMIT ?",
    )?;
    rows::collect(select.query(params![source, after, limit])?, rows::identity)
}

pub(super) fn source_run(conn: &Connection, id: &str) -> Result<Option<SourceRunRecord>> {
    let mut select = conn.prepare_cached("SELECT * FROM source_runs WHERE id = ?")?;
    rows::first(select.query([id])?, rows::source_run)
}

pub(super) fn source_cursor(conn: &Connection, source: &str) -> Result<Option<SourceCursor>> {
    let mut select =
        conn.prepare_cached("SELECT class, token FROM source_cursors WHERE source = ?")?;
    rows::first(select.query([source])?, |row| {
        Ok(SourceCursor {
            class: row.get(0)?,
            token: row.get(1)?,
        })
    })
}

pub(super) fn source_record_identities(
    conn: &Connection,
    source: &str,
    records: &[String],
) -> Result<Vec<(String, String)>> {
    let mut select =
        conn.prepare_cached("SELECT identity FROM source_records WHERE source = ? AND record = ?")?;
    let mut found = Vec::new();
    for record in records {
        if let Some(identity) = select
            .query_row(params![source, record], |row| row.get::<_, String>(0))
            .optional()?
        {
            found.push((record.clone(), identity));
        }
    }
    Ok(found)
}

pub(super) fn source_runs(
    conn: &Connection,
    source: &str,
    limit: u32,
) -> Result<Vec<SourceRunRecord>> {
    let mut select = conn.prepare_cached(
        "SELECT * FROM source_runs WHERE source = ? ORDER BY started_at DESC, id DESC LIMIT ?",
    )?;
    rows::collect(select.query(params![source, limit])?, rows::source_run)
}

pub(super) fn source_run_items(
    conn: &Connection,
    run: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, serde_json::Value)>> {
    let mut select = conn.prepare_cached(
        "SELECT seq, item FROM source_run_items WHERE run = ? AND seq > ? ORDER BY seq LIMIT ?",
    )?;
    rows::collect(select.query(params![run, after, limit])?, |row| {
        let text: String = row.get(1)?;
        let item = serde_json::from_str(&text)
            .map_err(|e| StoreError::Database(format!("a run item is not JSON: {e}")))?;
        Ok((row.get(0)?, item))
    })
}

pub(super) fn recon_run(conn: &Connection, id: &str) -> Result<Option<ReconRunRecord>> {
    let mut select = conn.prepare_cached("SELECT * FROM recon_runs WHERE id = ?")?;
    rows::first(select.query([id])?, rows::recon_run)
}

pub(super) fn recon_runs(
    conn: &Connection,
    target: &str,
    limit: u32,
) -> Result<Vec<ReconRunRecord>> {
    let mut select = conn.prepare_cached(
        "SELECT * FROM recon_runs WHERE target = ? ORDER BY started_at DESC, id DESC LIMIT ?",
    )?;
    rows::collect(select.query(params![target, limit])?, rows::recon_run)
}

pub(super) fn recon_items(
    conn: &Connection,
    run: &str,
    situation: Option<&str>,
    after: i64,
    limit: u32,
) -> Result<Vec<ReconItemRecord>> {
    match situation {
        Some(situation) => {
            let mut select = conn.prepare_cached(
                "SELECT seq, situation, item FROM recon_items
                 WHERE run = ? AND situation = ? AND seq > ? ORDER BY seq LIMIT ?",
            )?;
            rows::collect(
                select.query(params![run, situation, after, limit])?,
                rows::recon_item,
            )
        }
        None => {
            let mut select = conn.prepare_cached(
                "SELECT seq, situation, item FROM recon_items
                 WHERE run = ? AND seq > ? ORDER BY seq LIMIT ?",
            )?;
            rows::collect(select.query(params![run, after, limit])?, rows::recon_item)
        }
    }
}

pub(super) fn recon_cursor(conn: &Connection, target: &str, class: &str) -> Result<Option<String>> {
    let mut select =
        conn.prepare_cached("SELECT token FROM recon_cursors WHERE target = ? AND class = ?")?;
    Ok(select
        .query_row(params![target, class], |row| row.get::<_, String>(0))
        .optional()?)
}

/// `ids` as the one parameter `json_each` reads.
fn id_list(ids: &[String]) -> Result<String> {
    serde_json::to_string(ids).map_err(|e| StoreError::Database(e.to_string()))
}

pub(super) fn identities_in(conn: &Connection, ids: &[String]) -> Result<Vec<IdentityRecord>> {
    let mut select = conn
        .prepare_cached("SELECT * FROM identities WHERE id IN (SELECT value FROM json_each(?))")?;
    rows::collect(select.query([id_list(ids)?])?, rows::identity)
}

pub(super) fn accounts_in(
    conn: &Connection,
    target: &str,
    class: &str,
    ids: &[String],
) -> Result<Vec<AccountRecord>> {
    let mut select = conn.prepare_cached(
        "SELECT * FROM identity_accounts WHERE target = ? AND class = ?
           AND identity IN (SELECT value FROM json_each(?))",
    )?;
    rows::collect(
        select.query(params![target, class, id_list(ids)?])?,
        rows::account,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of links is read in index order: a sort of all the target's
    /// links per page made loading them quadratic in their number.
    #[test]
    fn a_page_of_links_reads_in_index_order() {
        let conn = Connection::open_in_memory().unwrap();
        for (_, _, sql) in super::super::MIGRATIONS {
            conn.execute_batch(sql).unwrap();
        }
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {LINKS_PAGE}"))
            .unwrap()
            .query_map(params!["t", "", 10], |row| row.get::<_, String>(3))
            .unwrap()
            .map(|step| step.unwrap())
            .collect();
        assert!(
            plan.iter().all(|step| !step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }
}
